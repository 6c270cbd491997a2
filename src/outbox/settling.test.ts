import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import type { SettledSource } from "../state/outbox-table.ts";
import { SETTLE_MAX_ROWS, SETTLE_WAIT_MS, Settling } from "./settling.ts";

function harness(fail: () => boolean = () => false) {
  const clock = new ManualClock();
  const deletes: string[][] = [];
  const lines: string[] = [];
  let deleted = 0;
  let source: SettledSource | undefined;
  const settling = new Settling({
    table: {
      removeSettled: (rows) => {
        if (fail()) throw new Error("database or disk is full");
        deletes.push(rows.map((row) => row.messageId));
        return rows.length;
      },
      carryDeletes: (settled) => (source = settled),
    },
    clock,
    logger: createLogger({ format: "json", sink: (line) => lines.push(line) }),
    onDeleted: (bytes) => (deleted += bytes),
  });
  /** What a synced commit does with the rows waiting: lists them as it begins, tells once committed. */
  const commit = () => {
    assert.ok(source, "the settling hands its rows to the table's commits");
    if (source.size === 0) return [];
    const rows = source.rows();
    source.deleted(rows);
    return rows.map((row) => row.messageId);
  };
  return { clock, settling, deletes, lines, deleted: () => deleted, commit };
}

describe("Settling", () => {
  it("lets the next synced commit carry the deletes: no commit of their own, and what left is counted", async () => {
    const { clock, settling, deletes, deleted, commit } = harness();
    settling.add("m-1", "t", 10);
    settling.add("m-2", "t", 20);
    await clock.advance(SETTLE_WAIT_MS - 1);
    assert.deepEqual(deletes, [], "the acks wait for a commit to ride in");
    assert.ok(settling.has("m-1"), "a row waiting for its delete is known, so it is not sent again");
    assert.deepEqual(commit(), ["m-1", "m-2"]);
    assert.equal(deleted(), 30);
    assert.equal(settling.size, 0);
    await clock.advance(SETTLE_WAIT_MS);
    assert.deepEqual(deletes, [], "nothing was left for a commit of their own");
  });

  it("deletes them in a commit of their own when no event comes within the wait", async () => {
    const { clock, settling, deletes, deleted } = harness();
    settling.add("m-1", "t", 10);
    await clock.advance(SETTLE_WAIT_MS / 2);
    settling.add("m-2", "t", 20);
    await clock.advance(SETTLE_WAIT_MS / 2);
    assert.deepEqual(deletes, [["m-1", "m-2"]], "the first ack's wait decides, and the batch goes whole");
    assert.equal(deleted(), 30);
  });

  it("deletes at once when many wait (a backlog draining), not holding them all out of the table's reads", () => {
    const { settling, deletes } = harness();
    for (let index = 0; index < SETTLE_MAX_ROWS; index++) settling.add(`m-${index}`, "t", 1);
    assert.equal(deletes.length, 1);
    assert.equal(deletes[0]!.length, SETTLE_MAX_ROWS);
    assert.equal(settling.size, 0);
  });

  it("leaves out a row whose delete was called off (the message was queued again)", async () => {
    const { clock, settling, deletes, commit } = harness();
    settling.add("m-1", "t", 10);
    settling.add("m-2", "t", 10);
    settling.callOff("m-1");
    assert.deepEqual(commit(), ["m-2"]);
    settling.add("m-3", "t", 10);
    settling.add("m-4", "t", 10);
    settling.callOff("m-3");
    await clock.advance(SETTLE_WAIT_MS);
    assert.deepEqual(deletes, [["m-4"]]);
  });

  it("keeps the rows when the store refuses, logs it, and deletes them later", async () => {
    let full = true;
    const { clock, settling, deletes, lines, deleted } = harness(() => full);
    settling.add("m-1", "t", 10);
    await clock.advance(SETTLE_WAIT_MS);
    assert.deepEqual(deletes, []);
    assert.ok(settling.has("m-1"), "still kept out of sends");
    assert.match(lines.join("\n"), /ack\.not_recorded.*disk is full/);
    full = false;
    await clock.advance(SETTLE_WAIT_MS);
    assert.deepEqual(deletes, [["m-1"]]);
    assert.equal(deleted(), 10);
  });

  it("deletes at once when flushed (the runtime stops)", () => {
    const { settling, deletes } = harness();
    settling.add("m-1", "t", 10);
    settling.flush();
    assert.deepEqual(deletes, [["m-1"]]);
  });
});
