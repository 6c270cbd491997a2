import assert from "node:assert/strict";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { tempDir, testLogger } from "../../test/helpers/harness.ts";
import { type Database, openDatabase, StorageError } from "../platform/index.ts";
import { openStateFile, STATE_FILE } from "./open.ts";
import { OUR_TABLES } from "./schema.ts";

const dirs: { remove: () => void }[] = [];
after(() => dirs.forEach((dir) => dir.remove()));
const folder = () => {
  const dir = tempDir("open");
  dirs.push(dir);
  return dir.path;
};
const NOW = () => Date.UTC(2026, 11, 1);
const tables = (db: Database) => db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((row) => String(row.name));

describe("openStateFile()", () => {
  it("makes a private folder and a file marked as ours, with every table, and hands it over", async () => {
    const stateDir = join(folder(), "state");
    const made = await openStateFile(stateDir, { now: NOW }, (db, setAside) => {
      assert.equal(setAside, undefined);
      assert.ok(OUR_TABLES.every((name) => tables(db).includes(name)), "every table of the schema");
      assert.equal(Number(db.prepare("PRAGMA application_id").get()?.application_id), 0x52456467);
      return db;
    });
    made.close();
    assert.equal(statSync(stateDir).mode & 0o777, 0o700, "no other user reads the answers and readings");
    assert.ok(existsSync(join(stateDir, STATE_FILE)));
  });

  it("names the folder and the way out when the folder cannot be made", async () => {
    const parent = folder();
    writeFileSync(join(parent, "not-a-folder"), "");
    await assert.rejects(
      openStateFile(join(parent, "not-a-folder", "state"), {}, () => undefined),
      (error: unknown) =>
        error instanceof StorageError && error.failure === "cantopen" &&
        /^Cannot open state folder .*not-a-folder\/state: ENOTDIR; make it writable by the runtime's user/.test(error.message),
    );
  });

  it("sets the file aside (renamed, never deleted) and starts fresh when the first writes find it damaged", async () => {
    const stateDir = folder();
    const first = await openStateFile(stateDir, {}, (db) => db);
    first.exec("CREATE TABLE leftover (x)");
    first.exec("INSERT INTO leftover VALUES (1)");
    first.close();
    const lines: string[] = [];
    let calls = 0;
    const made = await openStateFile(stateDir, { logger: testLogger("open", lines), now: NOW }, (db, setAside) => {
      calls++;
      // The store's first prune is what meets the damage in the field; here it is said outright.
      if (calls === 1) throw new StorageError("corrupt", "Cannot prune: database disk image is malformed", undefined);
      return { db, setAside };
    });
    assert.equal(calls, 2);
    assert.match(made.setAside ?? "", /realer-edge\.sqlite\.corrupt-2026-12-01T00-00-00-000Z$/);
    const aside = `${STATE_FILE}.corrupt-2026-12-01T00-00-00-000Z`;
    const kept = readdirSync(stateDir).filter((name) => name.includes(".corrupt-"));
    assert.ok(kept.includes(aside), "the old file is kept under a dated name");
    assert.deepEqual(
      kept.filter((name) => !name.startsWith(aside)),
      [],
      "its WAL and shared memory, where left, beside it under the same name",
    );
    const old = await openDatabase(join(stateDir, aside));
    assert.ok(tables(old).includes("leftover"), "with what it held");
    old.close();
    assert.ok(!tables(made.db).includes("leftover"), "the fresh file has none of the old one's tables");
    assert.ok(lines.some((line) => line.includes("storage.set_aside")), "loudly");
    made.db.close();
  });

  it("leaves the file where it is when handing it over fails for another reason", async () => {
    const stateDir = folder();
    await assert.rejects(
      openStateFile(stateDir, {}, () => {
        throw new TypeError("a fault of ours");
      }),
      TypeError,
    );
    assert.deepEqual(readdirSync(stateDir).filter((name) => name.includes(".corrupt-")), []);
    const again = await openDatabase(join(stateDir, STATE_FILE));
    assert.ok(tables(again).includes("outbox"), "the same file, untouched");
    again.close();
  });
});
