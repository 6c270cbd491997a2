import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import { Settling } from "./settling.ts";

function harness(fail: () => boolean = () => false) {
  const clock = new ManualClock();
  const deletes: string[][] = [];
  const lines: string[] = [];
  let deleted = 0;
  const settling = new Settling({
    table: {
      removeSettled: (rows) => {
        if (fail()) throw new Error("database or disk is full");
        deletes.push(rows.map((row) => row.messageId));
        return rows.length;
      },
    },
    clock,
    logger: createLogger({ format: "json", sink: (line) => lines.push(line) }),
    onDeleted: (bytes) => (deleted += bytes),
  });
  return { clock, settling, deletes, lines, deleted: () => deleted };
}

describe("Settling", () => {
  it("deletes the acks of a few milliseconds in one call, and counts what left", async () => {
    const { clock, settling, deletes, deleted } = harness();
    settling.add("m-1", "t", 10);
    settling.add("m-2", "t", 20);
    await clock.advance(4);
    assert.deepEqual(deletes, [], "the batch waits for more acks");
    assert.ok(settling.has("m-1"), "a row waiting for its delete is known, so it is not sent again");
    await clock.advance(1);
    assert.deepEqual(deletes, [["m-1", "m-2"]]);
    assert.equal(deleted(), 30);
    assert.equal(settling.size, 0);
  });

  it("leaves out a row whose delete was called off (the message was queued again)", async () => {
    const { clock, settling, deletes } = harness();
    settling.add("m-1", "t", 10);
    settling.add("m-2", "t", 10);
    settling.callOff("m-1");
    await clock.advance(5);
    assert.deepEqual(deletes, [["m-2"]]);
  });

  it("keeps the rows when the store refuses, logs it, and deletes them with the next batch", async () => {
    let full = true;
    const { clock, settling, deletes, lines, deleted } = harness(() => full);
    settling.add("m-1", "t", 10);
    await clock.advance(5);
    assert.deepEqual(deletes, []);
    assert.ok(settling.has("m-1"), "still kept out of sends");
    assert.match(lines.join("\n"), /ack\.not_recorded.*disk is full/);
    full = false;
    await clock.advance(5);
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
