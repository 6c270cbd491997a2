import assert from "node:assert/strict";
import { existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createLogger } from "../log.ts";
import { openDatabase, StorageError } from "../platform/index.ts";
import { OLDEST_READER, SCHEMA_VERSION } from "./schema.ts";
import { DeviceStore, STATE_FILE } from "./store.ts";
import { addToOutbox, ledgerSize } from "../../test/helpers/state.ts";

/** The schema 0.1.0 wrote, word for word, with no user_version. */
const SCHEMA_0_1_0 = `
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, message_id TEXT NOT NULL, priority INTEGER NOT NULL, payload TEXT NOT NULL, created_at INTEGER NOT NULL, UNIQUE (topic, message_id));
CREATE INDEX IF NOT EXISTS outbox_order ON outbox (priority, seq);
CREATE INDEX IF NOT EXISTS outbox_message ON outbox (message_id);
CREATE TABLE IF NOT EXISTS desired_ledger (desired_id TEXT PRIMARY KEY, route TEXT NOT NULL, topic TEXT NOT NULL, payload TEXT NOT NULL, answered_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS route_sequence (route TEXT PRIMARY KEY, highest INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS line_state (route TEXT PRIMARY KEY, value INTEGER NOT NULL, changed_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS route_direction (route TEXT PRIMARY KEY, direction TEXT NOT NULL);
`;

const reading = (id: string) => JSON.stringify({ message_id: id, value: "1.0", value_received_at: "2026-04-29T10:00:01.000Z" });

async function fileOf010(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "realer-schema-"));
  const db = await openDatabase(join(dir, STATE_FILE));
  db.exec(SCHEMA_0_1_0);
  const insert = db.prepare("INSERT INTO outbox (topic, message_id, priority, payload, created_at) VALUES (?, ?, ?, ?, ?)");
  insert.run("sensor/topic", "s1", 1, reading("s1"), 1);
  insert.run("relay/topic", "c1", 0, reading("c1"), 2);
  insert.run("sensor/topic", "s2", 1, reading("s2"), 3);
  db.prepare("INSERT INTO desired_ledger VALUES (?, ?, ?, ?, ?)").run("des_7", "relay/topic", "relay/topic", reading("c1"), Date.now());
  db.prepare("INSERT INTO route_sequence VALUES (?, ?)").run("relay/topic", 7);
  db.prepare("INSERT INTO line_state VALUES (?, ?, ?)").run("pin_port:6", 1, 1234);
  db.prepare("INSERT INTO route_direction VALUES (?, ?)").run("pin_port:6", "output");
  db.close();
  return dir;
}

describe("the state file's schema", () => {
  it("opens a file written by 0.1.0 with its outbox, ledger and restore values intact, migrated to the current schema", async () => {
    const dir = await fileOf010();
    const lines: string[] = [];
    const store = await DeviceStore.open(dir, { logger: createLogger({ format: "json", sink: (line) => lines.push(line) }) });
    assert.deepEqual(store.outbox.pending(10).map((row) => row.messageId), ["c1", "s1", "s2"], "command reports first, then in order");
    assert.equal(store.ledger.answered("des_7")!.report.message_id, "c1");
    assert.equal(store.ledger.highestSequence("relay/topic"), 7);
    assert.deepEqual(store.lines.value("pin_port:6"), { value: 1, changedAt: 1234 });
    assert.equal(store.lines.direction("pin_port:6"), "output");
    assert.ok(lines.some((line) => line.includes("storage.migrated") && line.includes('"from_schema":0')));
    // It works as a current file: new rows keep the order, ids stay unique per topic.
    assert.equal(addToOutbox(store, "sensor/topic", 1, JSON.parse(reading("s3")), 4), true);
    assert.equal(addToOutbox(store, "sensor/topic", 1, JSON.parse(reading("s3")), 5), false);
    assert.deepEqual(store.outbox.pending(10).map((row) => row.messageId), ["c1", "s1", "s2", "s3"]);
    store.close();
    const again = await openDatabase(join(dir, STATE_FILE));
    assert.equal(Number(again.prepare("PRAGMA user_version").get()?.user_version), SCHEMA_VERSION);
    assert.deepEqual(again.prepare("SELECT name FROM sqlite_master WHERE name LIKE '%_v1'").all(), [], "no old table left");
    again.close();
  });

  it("brings a schema 2 file (before clock-held messages) forward to the current one with its outbox", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-schema-"));
    const first = await DeviceStore.open(dir);
    addToOutbox(first, "sensor/topic", 1, JSON.parse(reading("s1")), 1);
    first.close();
    const db = await openDatabase(join(dir, STATE_FILE));
    db.exec("DROP TABLE clock_held; PRAGMA user_version = 2");
    db.close();
    const lines: string[] = [];
    const store = await DeviceStore.open(dir, { logger: createLogger({ format: "json", sink: (line) => lines.push(line) }) });
    assert.ok(lines.some((line) => line.includes("storage.migrated") && line.includes('"from_schema":2')), lines.join("\n"));
    assert.deepEqual(store.outbox.pending(10).map((row) => row.messageId), ["s1"]);
    assert.equal(store.outbox.clockHeldCount(), 0);
    store.close();
  });

  it("brings a schema 3 file forward: the reports get their own index, every row keeps its place in the order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-schema-"));
    const first = await DeviceStore.open(dir);
    addToOutbox(first, "sensor/topic", 1, JSON.parse(reading("s1")), 1);
    addToOutbox(first, "relay/topic", 0, JSON.parse(reading("c1")), 2);
    addToOutbox(first, "sensor/topic", 1, JSON.parse(reading("s2")), 3);
    first.close();
    // What schema 3 had: the order index over every row, and no index of the reports.
    const db = await openDatabase(join(dir, STATE_FILE));
    db.exec("DROP INDEX outbox_reports; CREATE INDEX outbox_order ON outbox (priority, seq); PRAGMA user_version = 3");
    db.close();
    const lines: string[] = [];
    const store = await DeviceStore.open(dir, { logger: createLogger({ format: "json", sink: (line) => lines.push(line) }) });
    assert.ok(lines.some((line) => line.includes("storage.migrated") && line.includes('"from_schema":3')), lines.join("\n"));
    assert.deepEqual(store.outbox.pending(10).map((row) => row.messageId), ["c1", "s1", "s2"]);
    assert.deepEqual(store.outbox.pending(2).map((row) => row.messageId), ["c1", "s1"], "the limit holds across both");
    store.close();
    const after = await openDatabase(join(dir, STATE_FILE));
    const indexes = after.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox' ORDER BY name").all();
    assert.deepEqual(indexes.map((row) => String(row.name)), ["outbox_message", "outbox_reports"]);
    assert.equal(Number(after.prepare("SELECT value FROM schema_meta WHERE key = 'oldest_reader'").get()?.value), OLDEST_READER);
    after.close();
  });

  it("writes a reading in two pages (the row and its id's index), a report in three", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-schema-"));
    const store = await DeviceStore.open(dir);
    for (let index = 0; index < 5; index++) addToOutbox(store, "sensor/topic", 1, JSON.parse(reading(`w${index}`)), index);
    const wal = join(dir, `${STATE_FILE}-wal`);
    const frames = () => Math.floor((statSync(wal).size - 32) / (24 + 1024));
    let before = frames();
    addToOutbox(store, "sensor/topic", 1, JSON.parse(reading("s9")), 9);
    assert.equal(frames() - before, 2);
    before = frames();
    addToOutbox(store, "relay/topic", 0, JSON.parse(reading("c9")), 10);
    assert.equal(frames() - before, 3);
    store.close();
  });

  it("refuses a file from a newer realer-edge that it cannot open, with one line, and leaves it where it is", async () => {
    for (const meta of [`UPDATE schema_meta SET value = ${SCHEMA_VERSION + 1}`, "DROP TABLE schema_meta"]) {
      const dir = mkdtempSync(join(tmpdir(), "realer-schema-"));
      (await DeviceStore.open(dir)).close();
      const db = await openDatabase(join(dir, STATE_FILE));
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}; ${meta}`);
      db.close();
      await assert.rejects(
        DeviceStore.open(dir),
        (error: unknown) =>
          error instanceof StorageError &&
          error.message.includes(`written by a newer realer-edge (schema ${SCHEMA_VERSION + 1}; this one knows up to ${SCHEMA_VERSION}`) &&
          !error.message.includes("\n"),
      );
      assert.ok(existsSync(join(dir, STATE_FILE)), "the file stays where it is");
    }
  });

  it("opens a newer release's file that records it as an oldest reader (a rollback), as it is: its rows, and the newer tables untouched", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-schema-"));
    const store = await DeviceStore.open(dir);
    addToOutbox(store, "sensor/topic", 1, JSON.parse(reading("s1")), 1);
    store.close();
    // What a release with schema 4 that only adds would leave: a table of its own, user_version 4, the oldest reader kept.
    const db = await openDatabase(join(dir, STATE_FILE));
    db.exec(
      `CREATE TABLE future_rows (id INTEGER PRIMARY KEY); INSERT INTO future_rows VALUES (7); PRAGMA user_version = ${SCHEMA_VERSION + 1}`,
    );
    db.close();
    const lines: string[] = [];
    const reopened = await DeviceStore.open(dir, { logger: createLogger({ format: "json", sink: (line) => lines.push(line) }) });
    assert.deepEqual(reopened.outbox.pending(10).map((row) => row.messageId), ["s1"], "the rows this release knows are there");
    assert.equal(addToOutbox(reopened, "sensor/topic", 1, JSON.parse(reading("s2")), 2), true, "and it writes");
    reopened.close();
    assert.ok(lines.some((line) => line.includes('"storage.newer_schema"')), lines.join("\n"));
    const after = await openDatabase(join(dir, STATE_FILE));
    assert.equal(Number(after.prepare("PRAGMA user_version").get()?.user_version), SCHEMA_VERSION + 1, "the newer release's version stays");
    assert.equal(Number(after.prepare("SELECT id FROM future_rows").get()?.id), 7);
    assert.equal(Number(after.prepare("SELECT value FROM schema_meta WHERE key = 'oldest_reader'").get()?.value), OLDEST_READER);
    after.close();
  });

  it("bounds the desired-state ledger by age and by count", async () => {
    const store = await DeviceStore.open(":memory:");
    const day = 24 * 3600_000;
    const now = Date.UTC(2026, 10, 30);
    for (let i = 0; i < 50; i++) {
      store.ledger.record(
        "r",
        "t",
        { message_id: `m${i}`, value: "1.0", value_received_at: "", desired_id: `des_${i}` },
        false,
        now - (i < 10 ? 40 * day : i * 1000),
      );
    }
    assert.equal(store.ledger.prune(now, 30 * day, 30), 20, "10 older than 30 days, then 10 past the newest 30");
    assert.equal(ledgerSize(store), 30);
    assert.equal(store.ledger.answered("des_5"), undefined);
    assert.ok(store.ledger.answered("des_49") === undefined, "the oldest beyond the count go");
    assert.ok(store.ledger.answered("des_10"), "the newest stay");
  });
});
