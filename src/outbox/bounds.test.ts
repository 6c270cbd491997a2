import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { testLogger } from "../../test/helpers/harness.ts";
import { silentLogger } from "../log.ts";
import { DeviceStore } from "../state/store.ts";
import { overBounds, type TrimScope, trimToBounds } from "./bounds.ts";
import { DEFAULT_OUTBOX_LIMITS, emptyOutboxStats, type OutboxLimits } from "./types.ts";
import { addToOutbox } from "../../test/helpers/state.ts";

const payload = (id: string, value = "1.0") => ({ message_id: id, value, value_received_at: "2026-12-01T08:00:00.000Z" });

async function filled(rows: readonly [topic: string, priority: 0 | 1, id: string][]) {
  const store = await DeviceStore.open(":memory:");
  rows.forEach(([topic, priority, id], at) => addToOutbox(store, topic, priority, payload(id), at));
  return store;
}

function scope(table: TrimScope["table"], limits: Partial<OutboxLimits>, extra: Partial<TrimScope> = {}): TrimScope {
  return {
    table,
    logger: silentLogger,
    limits: { ...DEFAULT_OUTBOX_LIMITS, ...limits },
    stats: emptyOutboxStats(),
    latestValue: new Set(),
    busy: new Set(),
    settling: 0,
    ...extra,
  };
}

const ids = (store: DeviceStore) => store.outbox.pending(100).map((row) => row.messageId);

describe("overBounds()", () => {
  it("leaves acked rows awaiting their delete out of the count, and compares bytes as bytes", () => {
    const limits = { ...DEFAULT_OUTBOX_LIMITS, maxMessages: 3, maxBytes: 1000 };
    assert.equal(overBounds({ messages: 5, bytes: 10 }, limits, 2), false);
    assert.equal(overBounds({ messages: 5, bytes: 10 }, limits, 1), true);
    assert.equal(overBounds({ messages: 1, bytes: 1001 }, limits, 0), true);
  });
});

describe("trimToBounds()", () => {
  it("coalesces a latest-value route to its newest reading first, then drops the oldest readings, counting both", async () => {
    const store = await filled([
      ["temp", 1, "t1"],
      ["door", 1, "d1"],
      ["temp", 1, "t2"],
      ["door", 1, "d2"],
      ["temp", 1, "t3"],
    ]);
    const trim = scope(store.outbox, { maxMessages: 2 }, { latestValue: new Set(["temp"]) });
    const sizes = trimToBounds(trim);
    assert.deepEqual(ids(store), ["d2", "t3"]);
    assert.deepEqual([trim.stats.coalesced, trim.stats.dropped], [2, 1]);
    assert.equal(sizes.messages, 2, "the sizes returned are the table's after the trim");
  });

  it("never drops a command report nor a message in flight, and says when only those are left", async () => {
    const store = await filled([["relay", 0, "c1"], ["relay", 0, "c2"], ["door", 1, "d1"], ["door", 1, "d2"]]);
    const lines: string[] = [];
    const trim = scope(store.outbox, { maxMessages: 1 }, { busy: new Set(["d1"]), logger: testLogger("bounds", lines) });
    trimToBounds(trim);
    assert.deepEqual(ids(store), ["c1", "c2", "d1"], "the reports stay, and so does d1 while it is in flight");
    assert.ok(lines.some((line) => line.includes("outbox.over_bound")), lines.join("\n"));
  });

  it("throws when the store fails midway, keeping what it removed before", async () => {
    const store = await filled([["door", 1, "d1"], ["door", 1, "d2"], ["door", 1, "d3"], ["door", 1, "d4"]]);
    let removals = 0;
    const failing: TrimScope["table"] = {
      size: () => store.outbox.size(),
      coalesce: (topic, keep) => store.outbox.coalesce(topic, keep),
      oldestTelemetry: (keep) => store.outbox.oldestTelemetry(keep),
      remove: (id, topic) => {
        if (++removals === 2) throw new Error("disk I/O error");
        return store.outbox.remove(id, topic);
      },
    };
    assert.throws(() => trimToBounds(scope(failing, { maxMessages: 1 })), /disk I\/O error/);
    assert.deepEqual(ids(store), ["d2", "d3", "d4"]);
  });
});
