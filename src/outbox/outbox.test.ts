import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import { Outbox } from "./outbox.ts";
import { SETTLE_WAIT_MS } from "./settling.ts";
import type { OutboxLimits } from "./types.ts";
import { DeviceStore } from "../state/store.ts";
import { addToOutbox, outboxDepth } from "../../test/helpers/state.ts";

/** Lets the turn end: the readings of one turn are written together, at its end. */
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));
const reading = (id: string, value = "1.0") => ({ message_id: id, value, value_received_at: "2026-04-29T10:00:01.000Z" });

async function outbox(limits: Partial<OutboxLimits>) {
  const store = await DeviceStore.open(":memory:");
  const clock = new ManualClock();
  const box = new Outbox({ store, clock, logger: silentLogger, ackTimeoutMs: 60_000, limits });
  const sent: { topic: string; id: string; at: number }[] = [];
  return {
    store,
    box,
    sent,
    clock,
    attach: () =>
      box.attach({
        publish: (topic, payload) => Promise.resolve(void sent.push({ topic, id: JSON.parse(payload).message_id, at: clock.now() })),
      }),
  };
}

describe("Outbox", () => {
  it("drops the oldest readings when full, counts them, and never drops a command report", async () => {
    const { store, box } = await outbox({ maxMessages: 3 });
    box.enqueue("relay", 0, { ...reading("c1"), desired_id: "des_1" });
    for (const id of ["s1", "s2", "s3", "s4"]) box.enqueue("sensor", 1, reading(id));
    await turn();
    assert.deepEqual(store.outbox.pending(10).map((row) => row.messageId), ["c1", "s3", "s4"]);
    assert.equal(box.stats.dropped, 2);
  });

  it("counts max_bytes in UTF-8 bytes, not characters: readings of multi-byte text are trimmed to the bound", async () => {
    // Each payload is 357 characters but 437 bytes ("℃" is three bytes): four of them are 1,428
    // characters (under 1,500) and 1,748 bytes (over it).
    const { store, box } = await outbox({ maxBytes: 1500 });
    const text = "21,5 ℃ ".repeat(40);
    for (const id of ["s1", "s2", "s3", "s4"]) box.enqueue("sensor", 1, reading(id, text));
    await turn();
    const bytes = store.outbox.pending(10).reduce((sum, row) => sum + new TextEncoder().encode(row.payload).byteLength, 0);
    assert.ok(bytes <= 1500, `${bytes} bytes wait, over max_bytes 1500`);
    assert.deepEqual(store.outbox.pending(10).map((row) => row.messageId), ["s2", "s3", "s4"], "the oldest went first");
    assert.equal(store.outbox.size().bytes, bytes, "the store counts bytes too");
  });

  it("coalesces a latest-value route to its newest reading before dropping anything", async () => {
    const { store, box } = await outbox({ maxMessages: 4 });
    box.keepLatestOnly("temperature");
    box.enqueue("door", 1, reading("d1"));
    for (const id of ["t1", "t2", "t3", "t4"]) box.enqueue("temperature", 1, reading(id));
    await turn();
    assert.deepEqual(store.outbox.pending(10).map((row) => row.messageId), ["d1", "t4"]);
    assert.deepEqual([box.stats.coalesced, box.stats.dropped], [3, 0]);
  });

  it("never stores a payload over max_payload_bytes, and says so", async () => {
    const { store, box } = await outbox({ maxPayloadBytes: 100 });
    box.enqueue("sensor", 1, reading("big", "9".repeat(200)));
    assert.deepEqual([outboxDepth(store), box.stats.dropped], [0, 1]);
  });

  it("keeps at most max_inflight messages unacknowledged, and sends the next on an ack", async () => {
    const { box, sent, attach } = await outbox({ maxInflight: 2, maxPublishPerSecond: 1000 });
    for (const id of ["a", "b", "c"]) box.enqueue("sensor", 1, reading(id));
    attach();
    assert.deepEqual(sent.map((s) => s.id), ["a", "b"]);
    box.settle({ message_id: "a", status: "accepted", retryable: false });
    assert.deepEqual(sent.map((s) => s.id), ["a", "b", "c"]);
    assert.equal(box.stats.accepted, 1);
  });

  it("holds to max_publish_per_second", async () => {
    const { box, sent, attach, clock } = await outbox({ maxInflight: 100, maxPublishPerSecond: 5 });
    for (let i = 0; i < 8; i++) box.enqueue("sensor", 1, reading(`m${i}`));
    await clock.advance(0);
    const started = clock.now();
    attach();
    assert.equal(sent.length, 5, "one second's worth at once");
    await clock.advance(150);
    assert.equal(sent.length, 5, "nothing more before a token (one per 200 ms)");
    await clock.advance(450);
    assert.equal(sent.length, 8, "three more by 0.6 s");
    assert.deepEqual(sent.slice(5).map((s) => s.at - started), [200, 400, 600], "one a token");
    box.detach();
  });

  it("writes the readings of one turn in one commit, and settles acks in a batch the next sends skip", async () => {
    const { store, box, sent, attach, clock } = await outbox({ maxInflight: 10, maxPublishPerSecond: 1000 });
    for (const id of ["a", "b", "c"]) box.enqueue("sensor", 1, reading(id));
    assert.equal(outboxDepth(store), 0, "not yet: the turn is not over");
    assert.equal(box.depth, 3, "but counted as waiting");
    await turn();
    assert.equal(outboxDepth(store), 3);
    attach();
    box.settle({ message_id: "a", status: "accepted", retryable: false, feed_data_topic: "sensor" });
    assert.equal(box.depth, 2, "settled at once for the outbox");
    box.detach();
    attach();
    assert.deepEqual(sent.map((s) => s.id), ["a", "b", "c", "b", "c"], "an acked message is never sent again, deleted or not");
    await clock.advance(SETTLE_WAIT_MS);
    assert.deepEqual(store.outbox.pending(10).map((row) => row.messageId), ["b", "c"], "deleted in the batch");
    box.close();
  });

  it("deletes acked rows in the next reading's commit, without waiting for a commit of their own", async () => {
    const { store, box, attach } = await outbox({ maxInflight: 10, maxPublishPerSecond: 1000 });
    for (const id of ["a", "b"]) box.enqueue("sensor", 1, reading(id));
    await turn();
    attach();
    box.settle({ message_id: "a", status: "accepted", retryable: false, feed_data_topic: "sensor" });
    await turn();
    assert.deepEqual(store.outbox.pending(10).map((row) => row.messageId), ["a", "b"], "no commit of its own yet");
    box.enqueue("sensor", 1, reading("c"));
    await turn();
    assert.deepEqual(store.outbox.pending(10).map((row) => row.messageId), ["b", "c"], "gone with the reading's commit");
    assert.equal(box.depth, 2);
    box.close();
  });

  it("sends a message queued again while its acked row waits to be deleted (a redelivered desired state's answer), and keeps it", async () => {
    const { store, box, sent, attach, clock } = await outbox({ maxInflight: 10, maxPublishPerSecond: 1000 });
    const report = { ...reading("r1"), desired_id: "des_1" };
    box.enqueue("relay", 0, report);
    await turn();
    attach();
    box.settle({ message_id: "r1", status: "accepted", retryable: false, feed_data_topic: "relay" });
    box.enqueue("relay", 0, report); // the same answer again, before the acked row's delete
    await clock.advance(20);
    assert.deepEqual(sent.map((s) => s.id), ["r1", "r1"], "sent again");
    assert.deepEqual(store.outbox.pending(10).map((row) => row.messageId), ["r1"], "kept until this copy's ack");
    box.settle({ message_id: "r1", status: "replayed", retryable: false, feed_data_topic: "relay" });
    await clock.advance(SETTLE_WAIT_MS);
    assert.equal(outboxDepth(store), 0);
    box.close();
  });

  it("sends a message queued again while a copy is in flight once more after that copy's ack", async () => {
    const { store, box, sent, attach, clock } = await outbox({ maxInflight: 10, maxPublishPerSecond: 1000 });
    const report = { ...reading("r1"), desired_id: "des_1" };
    box.enqueue("relay", 0, report);
    await turn();
    attach();
    box.enqueue("relay", 0, report); // repeated while the first copy waits for its ack
    await turn();
    assert.deepEqual(sent.map((s) => s.id), ["r1"], "one copy in flight at a time");
    box.settle({ message_id: "r1", status: "accepted", retryable: false, feed_data_topic: "relay" });
    assert.deepEqual(sent.map((s) => s.id), ["r1", "r1"], "the repeat goes after the first copy's ack");
    box.settle({ message_id: "r1", status: "replayed", retryable: false, feed_data_topic: "relay" });
    await clock.advance(SETTLE_WAIT_MS);
    assert.equal(outboxDepth(store), 0);
    box.close();
  });

  it("drains a backlog larger than one read ahead in order, each message once", async () => {
    const { store, box, sent, attach } = await outbox({ maxInflight: 20, maxPublishPerSecond: 1_000_000, maxMessages: 100_000 });
    const now = Date.now();
    for (let i = 0; i < 700; i++) addToOutbox(store, "sensor", 1, reading(`b${i}`), now);
    attach();
    // Each message is acked as it goes out, as a broker and server would.
    for (let acked = 0; acked < sent.length; acked++) {
      // A command report arriving mid-drain goes before the readings still waiting.
      if (acked === 300) box.recordAnswer("relay", "relay", { ...reading("c1"), desired_id: "des_9" }, false);
      box.settle({ message_id: sent[acked]!.id, status: "accepted", retryable: false, feed_data_topic: sent[acked]!.topic });
    }
    const ids = sent.map((s) => s.id);
    assert.equal(ids.length, 701);
    assert.equal(new Set(ids).size, 701, "no message sent twice");
    assert.deepEqual(ids.filter((id) => id !== "c1"), Array.from({ length: 700 }, (_, i) => `b${i}`), "readings in order");
    assert.ok(ids.indexOf("c1") < ids.indexOf("b322"), `the report went before the waiting readings (at ${ids.indexOf("c1")})`);
    box.close();
  });

  it("sends a message answered with a retryable error again after a pause, never at once: no storm against a failing server", async () => {
    const clock = new ManualClock();
    const store = await DeviceStore.open(":memory:");
    const box = new Outbox({ store, clock, logger: silentLogger, ackTimeoutMs: 60_000 });
    const sent: string[] = [];
    // The HTTPS runtime paces itself (no publish rate): only the pause keeps a retry from a storm.
    box.attach({ publish: (_topic, payload) => Promise.resolve(void sent.push(JSON.parse(payload).message_id)) }, { maxInflight: 100 });
    box.enqueue("sensor", 1, reading("s1"));
    await clock.advance(0);
    assert.deepEqual(sent, ["s1"]);
    for (let i = 0; i < 3; i++) {
      box.settle({ message_id: "s1", status: "error", retryable: true, error: { type: "http_503" }, feed_data_topic: "sensor" });
      await clock.advance(999);
      assert.equal(sent.length, i + 1, `not sent again within the pause (round ${i})`);
      await clock.advance(1);
      assert.equal(sent.length, i + 2, `sent again after it (round ${i})`);
    }
    box.settle({ message_id: "s1", status: "accepted", retryable: false, error: null, feed_data_topic: "sensor" });
    await clock.advance(5000);
    assert.equal(sent.length, 4, "settled: never again");
    box.close();
  });
});
