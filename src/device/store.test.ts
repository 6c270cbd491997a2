import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DeviceStore } from "./store.ts";

const reading = (id: string, value = "1.0") => ({ message_id: id, value, value_received_at: "2026-04-29T10:00:01.000Z" });

describe("DeviceStore", () => {
  it("keeps unacknowledged messages across a reopen, command reports first, then in order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-store-"));
    const first = await DeviceStore.open(dir);
    first.addToOutbox("sensor/topic", 1, reading("s1"), 1);
    first.addToOutbox("sensor/topic", 1, reading("s2"), 2);
    first.addToOutbox("relay/topic", 0, { ...reading("c1"), desired_id: "des_1" }, 3);
    first.close();
    const again = await DeviceStore.open(dir);
    assert.deepEqual(again.pendingOutbox(10).map((row) => row.messageId), ["c1", "s1", "s2"]);
    assert.deepEqual(JSON.parse(again.pendingOutbox(10)[1]!.payload), reading("s1"));
    again.close();
  });

  it("stores a message id once per topic and removes it when acked", async () => {
    const store = await DeviceStore.open(":memory:");
    store.addToOutbox("t", 1, reading("m1"), 1);
    store.addToOutbox("t", 1, reading("m1", "0.0"), 2);
    assert.equal(store.outboxDepth(), 1);
    assert.equal(JSON.parse(store.pendingOutbox(1)[0]!.payload).value, "1.0", "the first payload stays, byte for byte");
    assert.equal(store.removeFromOutbox("m1", "t"), true);
    assert.equal(store.removeFromOutbox("m1", "t"), false);
    store.close();
  });

  it("records an answer and its report together, and remembers the highest sequence per route", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-store-"));
    const store = await DeviceStore.open(dir);
    assert.equal(store.highestSequence("relay"), Number.NEGATIVE_INFINITY);
    store.recordAnswer("relay", "relay/topic", { ...reading("c1"), desired_id: "des_7", sequence_number: 7 }, true, 1, { route: "pin_port:6", value: 1 });
    store.recordAnswer("relay", "relay/topic", { ...reading("c2"), desired_id: "des_5", report_status: "stale", sequence_number: 5 }, true, 2);
    store.close();
    const again = await DeviceStore.open(dir);
    assert.equal(again.highestSequence("relay"), 7, "a lower answered number does not lower the mark");
    assert.equal(JSON.parse(again.answered("des_7")!.payload).message_id, "c1");
    assert.equal(again.answered("des_unknown"), undefined);
    assert.equal(again.outboxDepth(), 2);
    assert.deepEqual(again.lineState("pin_port:6"), { value: 1, changedAt: 1 }, "an applied value is remembered with its answer, for restore");
    again.close();
  });
});
