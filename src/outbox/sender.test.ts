import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import { DeviceStore } from "../state/store.ts";
import { OutboxQueue } from "./queue.ts";
import { OutboxSender } from "./sender.ts";
import { SETTLE_WAIT_MS } from "./settling.ts";
import { DEFAULT_OUTBOX_LIMITS, emptyOutboxStats } from "./types.ts";

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

async function setup() {
  const store = await DeviceStore.open(":memory:");
  const clock = new ManualClock();
  const stats = emptyOutboxStats();
  const limits = () => DEFAULT_OUTBOX_LIMITS;
  const sender = new OutboxSender({ clock, logger: silentLogger, ackTimeoutMs: 30_000, limits, stats });
  const queue = new OutboxQueue({
    store,
    clock,
    logger: silentLogger,
    limits,
    stats,
    onChanged: () => sender.pump(),
    inFlight: () => sender.inFlight(),
    onRequeued: (id) => sender.requeued(id),
  });
  sender.sendFrom(queue);
  const published: { topic: string; payload: string }[] = [];
  sender.attach({ publish: (topic, payload) => Promise.resolve(void published.push({ topic, payload })) });
  return { clock, stats, sender, queue, published, store };
}

describe("OutboxSender", () => {
  it("sends a message again with the same bytes when its ack does not come in time, and counts the resend", async () => {
    const { clock, stats, queue, published } = await setup();
    queue.enqueue("sensor", 1, { message_id: "r1", value: "1.0", value_received_at: "2026-12-01T08:00:00.000Z" });
    await turn();
    assert.equal(published.length, 1);
    await clock.advance(29_999);
    assert.equal(published.length, 1, "not before the ack timeout");
    await clock.advance(1);
    assert.equal(published.length, 2);
    assert.equal(published[1]!.payload, published[0]!.payload, "the same message_id and payload");
    assert.equal(stats.resent, 1);
  });

  it("ends a message on a final ack, and leaves one whose ack has no message_id for its timeout", async () => {
    const { clock, sender, queue, published, store, stats } = await setup();
    queue.enqueue("sensor", 1, { message_id: "r1", value: "1.0", value_received_at: "2026-12-01T08:00:00.000Z" });
    await turn();
    sender.settle({ message_id: null, status: "accepted", retryable: false });
    sender.settle({ message_id: "r1", status: "accepted", retryable: false, feed_data_topic: "sensor" });
    await clock.advance(SETTLE_WAIT_MS); // the acks' own delete, no event having carried it
    assert.equal(store.outbox.size().messages, 0);
    assert.equal(stats.accepted, 1);
    await clock.advance(60_000);
    assert.equal(published.length, 1, "never sent again");
  });
});
