import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import { DeviceStore } from "../state/store.ts";
import { limitPages, pageCount } from "../../test/helpers/state.ts";
import { OutboxQueue } from "./queue.ts";
import { DEFAULT_OUTBOX_LIMITS, emptyOutboxStats } from "./types.ts";

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));
const reading = (id: string) => ({ message_id: id, value: "1.0", value_received_at: "2026-12-01T08:00:00.000Z" });

async function setup(inFlight: ReadonlySet<string> = new Set()) {
  const store = await DeviceStore.open(":memory:");
  const signals: number[] = [];
  const requeued: string[] = [];
  const queue = new OutboxQueue({
    store,
    clock: new ManualClock(),
    logger: silentLogger,
    limits: () => DEFAULT_OUTBOX_LIMITS,
    stats: emptyOutboxStats(),
    onChanged: () => signals.push(store.outbox.size().messages),
    inFlight: () => inFlight,
    onRequeued: (id) => requeued.push(id),
  });
  return { store, queue, signals, requeued };
}

describe("OutboxQueue", () => {
  it("writes a turn's readings in one commit and gives its one signal after it, with the rows on disk", async () => {
    const { queue, signals } = await setup();
    for (const id of ["r1", "r2", "r3"]) queue.enqueue("sensor", 1, reading(id));
    assert.deepEqual(signals, [], "nothing before the turn ends");
    await turn();
    assert.deepEqual(signals, [3], "one signal, once all three are written");
    assert.equal(queue.depth, 3);
  });

  it("hands out rows in send order, passing over those acked and those the sender refuses, and reads afresh after a change", async () => {
    const { queue } = await setup();
    for (const id of ["s1", "s2"]) queue.enqueue("sensor", 1, reading(id));
    queue.enqueue("relay", 0, { ...reading("c1"), desired_id: "des_1" });
    await turn();
    assert.deepEqual(queue.take(10, 0, () => true).map((row) => row.messageId), ["c1", "s1", "s2"], "reports first");
    assert.deepEqual(queue.take(10, 0, () => true), [], "each row handed out once until something changes");
    assert.equal(queue.acked("c1", "relay", undefined), true, "an ack after a restart: found in the table");
    queue.changed();
    assert.deepEqual(queue.take(10, 0, (row) => row.messageId !== "s1").map((row) => row.messageId), ["s2"]);
    assert.equal(queue.depth, 2, "the acked row no longer counts");
  });

  it("tells the sender of a message written again, so a copy in flight does not end it", async () => {
    const { queue, requeued } = await setup();
    queue.enqueue("relay", 0, { ...reading("c1"), desired_id: "des_1" });
    await turn();
    queue.enqueue("relay", 0, { ...reading("c1"), desired_id: "des_1" });
    await turn();
    assert.deepEqual(requeued, ["c1", "c1"]);
  });

  it("keeps readings in memory while the disk refuses them, and writes them in order once it takes them", async () => {
    const { store, queue, signals } = await setup();
    limitPages(store, pageCount(store));
    const big = (id: string) => ({ ...reading(id), value: "x".repeat(3000) });
    for (let i = 0; i < 10; i++) queue.enqueue("sensor", 1, big(`r${i}`));
    await turn();
    assert.equal(store.outbox.size().messages, 0, "the full disk took none");
    assert.equal(queue.depth, 10, "all ten wait in memory, counted");
    limitPages(store, 10_000);
    queue.writeHeld();
    assert.deepEqual(store.outbox.pending(20).map((row) => row.messageId), Array.from({ length: 10 }, (_, i) => `r${i}`));
    assert.ok(signals.length >= 1);
  });

  it("never hands out a message under a placeholder topic, and sends it once it is moved to the route's", async () => {
    const { queue } = await setup();
    queue.enqueue("#unbound/pin_port:5", 1, reading("early"));
    queue.enqueue("sensor", 1, reading("late"));
    await turn();
    assert.deepEqual(queue.take(10, 0, () => true).map((row) => row.messageId), ["late"]);
    assert.deepEqual(queue.placeholders("#unbound/"), ["#unbound/pin_port:5"]);
    assert.equal(queue.rebind("#unbound/pin_port:5", "sensor"), true);
    assert.deepEqual(queue.take(10, 0, (row) => row.messageId !== "late").map((row) => [row.topic, row.messageId]), [["sensor", "early"]]);
    assert.deepEqual(queue.placeholders("#unbound/"), []);
  });
});
