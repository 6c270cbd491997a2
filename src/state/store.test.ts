import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createLogger } from "../log.ts";
import { openDatabase, StorageError } from "../platform/index.ts";
import { DeviceStore, STATE_FILE } from "./store.ts";
import { addToOutbox, limitPages, outboxDepth, pageCount } from "../../test/helpers/state.ts";

const logged = () => {
  const lines: string[] = [];
  return { lines, logger: createLogger({ format: "json", sink: (line) => lines.push(line) }) };
};

const reading = (id: string, value = "1.0") => ({ message_id: id, value, value_received_at: "2026-04-29T10:00:01.000Z" });

describe("DeviceStore", () => {
  it("keeps unacknowledged messages across a reopen, command reports first, then in order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-store-"));
    const first = await DeviceStore.open(dir);
    addToOutbox(first, "sensor/topic", 1, reading("s1"), 1);
    addToOutbox(first, "sensor/topic", 1, reading("s2"), 2);
    addToOutbox(first, "relay/topic", 0, { ...reading("c1"), desired_id: "des_1" }, 3);
    first.close();
    const again = await DeviceStore.open(dir);
    assert.deepEqual(again.outbox.pending(10).map((row) => row.messageId), ["c1", "s1", "s2"]);
    assert.deepEqual(JSON.parse(again.outbox.pending(10)[1]!.payload), reading("s1"));
    again.close();
  });

  it("stores a message id once per topic and removes it when acked", async () => {
    const store = await DeviceStore.open(":memory:");
    addToOutbox(store, "t", 1, reading("m1"), 1);
    addToOutbox(store, "t", 1, reading("m1", "0.0"), 2);
    assert.equal(outboxDepth(store), 1);
    assert.equal(JSON.parse(store.outbox.pending(1)[0]!.payload).value, "1.0", "the first payload stays, byte for byte");
    assert.equal(store.outbox.remove("m1", "t"), true);
    assert.equal(store.outbox.remove("m1", "t"), false);
    store.close();
  });

  it("records an answer and its report together, and remembers the highest sequence per route", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-store-"));
    const store = await DeviceStore.open(dir);
    assert.equal(store.ledger.highestSequence("relay"), Number.NEGATIVE_INFINITY);
    // Answered today: the ledger keeps a month of answers (older ones are pruned at open).
    const today = Date.now();
    store.ledger.record("relay", "relay/topic", { ...reading("c1"), desired_id: "des_7", sequence_number: 7 }, true, today, {
      route: "pin_port:6",
      value: 1,
    });
    store.ledger.record(
      "relay",
      "relay/topic",
      { ...reading("c2"), desired_id: "des_5", report_status: "stale", sequence_number: 5 },
      true,
      today + 1,
    );
    store.close();
    const again = await DeviceStore.open(dir);
    assert.equal(again.ledger.highestSequence("relay"), 7, "a lower answered number does not lower the mark");
    assert.equal(again.ledger.answered("des_7")!.report.message_id, "c1");
    assert.equal(again.ledger.answered("des_unknown"), undefined);
    assert.equal(outboxDepth(again), 2);
    assert.deepEqual(
      again.lines.value("pin_port:6"),
      { value: 1, changedAt: today },
      "an applied value is remembered with its answer, for restore",
    );
    again.close();
  });

  it("sets a damaged state file aside (never deletes it) and starts fresh, loudly", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-store-"));
    const first = await DeviceStore.open(dir);
    first.lines.saveValue("pin_port:6", 1, 1);
    first.close();
    const path = join(dir, STATE_FILE);
    const raw = await openDatabase(path);
    raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    raw.close();
    // Scribble over the middle of the file, as a failing SD card would.
    const bytes = readFileSync(path);
    bytes.fill(0x5a, 100, Math.min(bytes.length, 5000));
    writeFileSync(path, bytes);
    const { lines, logger } = logged();
    const store = await DeviceStore.open(dir, { logger, now: () => Date.UTC(2026, 10, 30) });
    assert.equal(store.lines.value("pin_port:6"), undefined, "a fresh store: restore falls back to off");
    assert.match(store.health.setAside ?? "", /realer-edge\.sqlite\.corrupt-2026-11-30T00-00-00-000Z$/);
    assert.ok(readdirSync(dir).some((name) => name.startsWith(`${STATE_FILE}.corrupt-`)), "the damaged file is kept");
    const line = lines.map((text) => JSON.parse(text) as { event: string; file: string; kept_as: string }).find((entry) =>
      entry.event === "storage.set_aside"
    );
    assert.equal(line?.file, path);
    store.close();
  });

  it("sets aside a file that is not a database, and another program's database", async () => {
    for (const foreign of ["text", "sqlite"] as const) {
      const dir = mkdtempSync(join(tmpdir(), "realer-store-"));
      const path = join(dir, STATE_FILE);
      if (foreign === "text") writeFileSync(path, "this is a shopping list, not a state file\n".repeat(100));
      else {
        const other = await openDatabase(path);
        other.exec("CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('bread');");
        other.close();
      }
      const store = await DeviceStore.open(dir);
      assert.ok(store.health.setAside, `${foreign}: set aside`);
      addToOutbox(store, "t", 1, reading("m1"), 1);
      assert.equal(outboxDepth(store), 1);
      store.close();
    }
  });

  it("names the folder and the way out when it cannot open the state folder", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-store-"));
    const notAFolder = join(dir, "state");
    writeFileSync(notAFolder, "a file where the state folder should be");
    await assert.rejects(
      DeviceStore.open(notAFolder),
      (error: unknown) =>
        error instanceof StorageError && error.message.startsWith(`Cannot open state folder ${notAFolder}: EEXIST`) &&
        /writable by the runtime's user/.test(error.message),
    );
  });

  it("reports the real error of a full disk, once per episode, and recovers when space returns", async () => {
    const { lines, logger } = logged();
    const store = await DeviceStore.open(":memory:", { logger });
    limitPages(store, pageCount(store) + 1);
    let failure: unknown;
    try {
      for (let i = 0; i < 10_000; i++) addToOutbox(store, "t", 1, reading(`m${i}`, "x".repeat(500)), i);
    } catch (error) {
      failure = error;
    }
    assert.ok(failure instanceof StorageError, "a StorageError");
    assert.equal(failure.failure, "full");
    assert.match(failure.message, /^Cannot write state file \(in memory\): the disk \(or the database's page limit\) is full$/);
    assert.throws(() => addToOutbox(store, "t", 1, reading("again", "x".repeat(500)), 0));
    assert.equal(store.health.failures, 2);
    assert.equal(lines.filter((line) => line.includes("storage.failing")).length, 1, "logged once per episode");
    assert.equal(store.canWrite(), false);
    limitPages(store, 100_000);
    assert.equal(store.canWrite(), true);
    assert.equal(store.health.failing, false);
    assert.ok(lines.some((line) => line.includes("storage.recovered")));
    store.close();
  });
});
