import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import { type Database, openDatabase } from "../platform/index.ts";
import { CHECKPOINT_AFTER_WRITES, QUIET_MS, QuietCheckpoints } from "./checkpoints.ts";
import { DeviceStore, STATE_FILE } from "./store.ts";
import { addToOutbox } from "../../test/helpers/state.ts";

const reading = (id: string) => ({ message_id: id, value: "1", value_received_at: "2026-04-29T10:00:01.000Z" });

/** How many outbox rows the database file holds by itself, its WAL left behind (what a checkpoint wrote back). */
async function rowsInFileAlone(dir: string): Promise<number> {
  const copy = mkdtempSync(join(tmpdir(), "realer-ckpt-copy-"));
  copyFileSync(join(dir, STATE_FILE), join(copy, STATE_FILE));
  const db = await openDatabase(join(copy, STATE_FILE));
  // A file never folded into holds not even the schema: that is in the WAL too.
  const made = db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'outbox'").get()?.n === 1;
  const n = made ? Number(db.prepare("SELECT COUNT(*) AS n FROM outbox").get()?.n ?? 0) : 0;
  db.close();
  return n;
}

async function harness() {
  const dir = mkdtempSync(join(tmpdir(), "realer-ckpt-"));
  const clock = new ManualClock();
  const lines: string[] = [];
  const store = await DeviceStore.open(dir, {
    clock,
    logger: createLogger({ format: "json", level: "debug", sink: (line) => lines.push(line) }),
  });
  return { dir, clock, store, lines };
}

describe("the WAL is folded into the file at a quiet moment", () => {
  it("after enough writes, once no write has come for a moment, and not before", async () => {
    const { dir, clock, store } = await harness();
    const half = CHECKPOINT_AFTER_WRITES / 2;
    for (let index = 0; index < half; index++) addToOutbox(store, "t", 1, reading(`m${index}`), index);
    await clock.advance(QUIET_MS * 4);
    assert.equal(await rowsInFileAlone(dir), 0, "too few writes: they stay in the WAL");
    for (let index = half; index < CHECKPOINT_AFTER_WRITES; index++) addToOutbox(store, "t", 1, reading(`m${index}`), index);
    // Writes keep coming, 100 ms apart: never quiet, never folded in.
    for (let index = 0; index < 10; index++) {
      addToOutbox(store, "t", 1, reading(`busy${index}`), 1000 + index);
      await clock.advance(100);
    }
    assert.equal(await rowsInFileAlone(dir), 0, "no checkpoint while events come");
    await clock.advance(QUIET_MS);
    assert.equal(await rowsInFileAlone(dir), CHECKPOINT_AFTER_WRITES + 10, "every committed row in the file itself");
    store.close();
  });

  it("logs a failing checkpoint once, loses nothing, and tries again at the next quiet moment", async () => {
    const clock = new ManualClock();
    const lines: string[] = [];
    const db = await openDatabase(join(mkdtempSync(join(tmpdir(), "realer-ckpt-")), "x.sqlite"));
    let fail = true;
    const flaky: Database = {
      ...db,
      path: db.path,
      prepare: (sql) => {
        if (fail && sql.startsWith("PRAGMA wal_checkpoint")) throw new Error("disk I/O error");
        return db.prepare(sql);
      },
    };
    const checkpoints = new QuietCheckpoints(
      flaky,
      clock,
      createLogger({ format: "json", level: "debug", sink: (line) => lines.push(line) }),
    );
    const burst = async () => {
      for (let index = 0; index < CHECKPOINT_AFTER_WRITES; index++) checkpoints.wrote();
      await clock.advance(QUIET_MS);
    };
    await burst();
    await burst();
    assert.equal(lines.filter((line) => line.includes("storage.checkpoint_failed")).length, 1, lines.join("\n"));
    assert.match(lines.join("\n"), /disk I\/O error/);
    fail = false;
    checkpoints.wrote();
    await clock.advance(QUIET_MS);
    assert.ok(lines.some((line) => line.includes("storage.checkpoint_recovered")));
    assert.ok(lines.some((line) => line.includes('"storage.checkpoint"')));
    checkpoints.close();
    db.close();
  });
});
