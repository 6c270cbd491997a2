import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ReadAhead } from "./read-ahead.ts";
import type { OutboxRow } from "../state/store.ts";

const rows = (count: number): OutboxRow[] =>
  Array.from({ length: count }, (_, i) => ({ seq: i + 1, topic: "t", messageId: `m-${i}`, priority: 1, payload: "{}", createdAt: 0 }));

describe("ReadAhead", () => {
  it("reads the store once per page, not once per row taken", () => {
    const waiting = rows(10);
    const reads: number[] = [];
    const ahead = new ReadAhead();
    const read = (limit: number) => {
      reads.push(limit);
      return waiting.slice(0, limit);
    };
    const taken = [...ahead.take(3, 8, read, () => true), ...ahead.take(3, 8, read, () => true)];
    assert.deepEqual(taken.map((row) => row.messageId), ["m-0", "m-1", "m-2", "m-3", "m-4", "m-5"]);
    assert.deepEqual(reads, [8]);
    assert.ok(ahead.moreMayWait);
  });

  it("skips rows that may not go, and knows when it has read everything", () => {
    const ahead = new ReadAhead();
    const taken = ahead.take(5, 8, () => rows(4), (row) => row.messageId !== "m-1");
    assert.deepEqual(taken.map((row) => row.messageId), ["m-0", "m-2", "m-3"]);
    assert.equal(ahead.moreMayWait, false, "a short read is everything that waits");
    assert.deepEqual(ahead.take(5, 8, () => assert.fail("nothing more to read"), () => true), []);
  });

  it("reads afresh after forget (a new row, a resend, a delete)", () => {
    const ahead = new ReadAhead();
    ahead.take(1, 8, () => rows(2), () => true);
    ahead.forget();
    const again = ahead.take(1, 8, () => rows(3), () => true);
    assert.deepEqual(again.map((row) => row.messageId), ["m-0"]);
  });

  it("lets a failing read throw, and reads again next time", () => {
    const ahead = new ReadAhead();
    assert.throws(() =>
      ahead.take(1, 8, () => {
        throw new Error("disk I/O error");
      }, () => true), /disk I\/O error/);
    assert.deepEqual(ahead.take(1, 8, () => rows(1), () => true).map((row) => row.messageId), ["m-0"]);
  });
});
