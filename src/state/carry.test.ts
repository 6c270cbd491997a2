import assert from "node:assert/strict";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openDatabase } from "../platform/index.ts";
import type { SettledRow, SettledSource } from "./outbox-table.ts";
import { DeviceStore, STATE_FILE } from "./store.ts";
import { addToOutbox } from "../../test/helpers/state.ts";

const reading = (id: string) => ({ message_id: id, value: "1", value_received_at: "2026-04-29T10:00:01.000Z" });

/** The acked rows a test lets the store's commits carry, and what they were told went. */
function settled(store: DeviceStore, ids: string[], fail = false) {
  const waiting = new Map(ids.map((id) => [id, { messageId: id, topic: "t" } satisfies SettledRow]));
  const told: string[] = [];
  const source: SettledSource = {
    get size() {
      return waiting.size;
    },
    rows: () => {
      const rows = [...waiting.values()];
      // A failure after the first delete is made: the savepoint must take that one back too.
      return fail
        ? [...rows, {
          topic: "t",
          get messageId(): string {
            throw new Error("disk I/O error");
          },
        }]
        : rows;
    },
    deleted: (rows) => rows.forEach((row) => (waiting.delete(row.messageId), told.push(row.messageId))),
  };
  store.outbox.carryDeletes(source);
  return { told, waiting };
}

const walBytes = (dir: string) => statSync(join(dir, `${STATE_FILE}-wal`)).size;

describe("a synced commit carries the deletes of acked messages", () => {
  it("deletes them in the event's own commit, on disk for another reader, told only once committed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-carry-"));
    const store = await DeviceStore.open(dir);
    addToOutbox(store, "t", 1, reading("m1"), 1);
    addToOutbox(store, "t", 1, reading("m2"), 2);
    const { told } = settled(store, ["m1"]);
    addToOutbox(store, "t", 1, reading("m3"), 3);
    assert.deepEqual(told, ["m1"]);
    const other = await openDatabase(join(dir, STATE_FILE));
    const ids = other.prepare("SELECT message_id FROM outbox ORDER BY seq").all().map((row) => String(row.message_id));
    other.close();
    assert.deepEqual(ids, ["m2", "m3"], "the new reading and the delete were one commit");
    store.close();
  });

  it("writes fewer pages than the same reading and delete in two commits", async () => {
    const pages = async (carried: boolean) => {
      const dir = mkdtempSync(join(tmpdir(), "realer-carry-"));
      const store = await DeviceStore.open(dir);
      for (let index = 0; index < 20; index++) addToOutbox(store, "t", 1, reading(`old-${index}`), index);
      const before = walBytes(dir);
      for (let index = 0; index < 20; index++) {
        if (carried) {
          settled(store, [`old-${index}`]);
        } else {
          store.outbox.removeSettled([{ messageId: `old-${index}`, topic: "t" }]);
        }
        addToOutbox(store, "t", 1, reading(`new-${index}`), 100 + index);
      }
      const grown = walBytes(dir) - before;
      store.close();
      return grown;
    };
    const apart = await pages(false);
    const together = await pages(true);
    assert.ok(together < apart * 0.8, `carried: ${together} bytes of WAL for 20 events, apart: ${apart}`);
  });

  it("makes the event's write without them when their deletes fail, and keeps them waiting", async () => {
    const store = await DeviceStore.open(":memory:");
    addToOutbox(store, "t", 1, reading("m0"), 0);
    addToOutbox(store, "t", 1, reading("m1"), 1);
    const { told, waiting } = settled(store, ["m1"], true);
    assert.equal(addToOutbox(store, "t", 1, reading("m2"), 2), true, "the reading is written all the same");
    assert.deepEqual(
      store.outbox.pending(10).map((row) => row.messageId),
      ["m0", "m1", "m2"],
      "the delete made before the failure was undone",
    );
    assert.deepEqual(told, []);
    assert.equal(waiting.size, 1, "the delete waits for a later commit");
    assert.equal(store.health.failing, false, "a rider's failure is not the store's");
    store.close();
  });
});
