import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { type Database, inheritedEnv, openDatabase, runtimeName, spawnProcess, type Statement } from "./index.ts";

const HOLDER = fileURLToPath(new URL("../../test/helpers/hold-database.ts", import.meta.url));

describe("SQLite through the platform seam", () => {
  it("waits for another process that holds the file at open, rather than refusing it", { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-sqlite-"));
    try {
      const file = join(dir, "state.sqlite");
      (await openDatabase(file)).close();
      const args = runtimeName === "deno" ? ["run", "--allow-all", HOLDER, file, "800"] : [HOLDER, file, "800"];
      const env = inheritedEnv();
      const holder = spawnProcess(process.execPath, args, env);
      const deadline = Date.now() + 20_000;
      while (!holder.output().stdout.includes("held")) {
        assert.ok(Date.now() < deadline, `the holder never held the file: ${holder.output().stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const started = Date.now();
      const db = await openDatabase(file);
      const waited = Date.now() - started;
      db.exec("CREATE TABLE IF NOT EXISTS t (x)");
      db.close();
      assert.equal(await holder.exited, 0);
      assert.ok(waited >= 200, `opened after waiting ${waited} ms for the holder to let go`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("grouped()", () => {
    const rows = async (file: string) => {
      // A second connection sees only what was committed.
      const other = await openDatabase(file);
      try {
        return other.prepare("SELECT x FROM t ORDER BY x").all().map((row) => Number(row.x));
      } finally {
        other.close();
      }
    };

    /** A state file with a table `t (x INTEGER)`, open, and removed after `body`. */
    const withTable = async (body: (table: { file: string; db: Database; insert: Statement }) => Promise<void>) => {
      const dir = mkdtempSync(join(tmpdir(), "realer-sqlite-"));
      try {
        const file = join(dir, "state.sqlite");
        const db = await openDatabase(file);
        db.exec("CREATE TABLE t (x INTEGER)");
        await body({ file, db, insert: db.prepare("INSERT INTO t (x) VALUES (?)") });
        db.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };

    it("commits a turn's writes together, at the turn's end, and settles each caller after", async () => {
      await withTable(async ({ file, db, insert }) => {
        const settled: number[] = [];
        const calls = [1, 2, 3].map((x) => db.grouped(() => insert.run(x)).then(() => settled.push(x)));
        assert.deepEqual(await rows(file), [], "nothing committed within the turn");
        await Promise.all(calls);
        assert.deepEqual(settled, [1, 2, 3]);
        assert.deepEqual(await rows(file), [1, 2, 3]);
      });
    });

    it("undoes only the writes of a call that throws, and rejects that call alone", async () => {
      await withTable(async ({ file, db, insert }) => {
        const first = db.grouped(() => insert.run(1));
        const failing = db.grouped(() => {
          insert.run(2);
          throw new Error("bad report");
        });
        const third = db.grouped(() => insert.run(3));
        await assert.rejects(failing, /bad report/);
        await Promise.all([first, third]);
        assert.deepEqual(await rows(file), [1, 3]);
      });
    });

    it("commits the open group before a transaction of its own, which commits when it returns", async () => {
      await withTable(async ({ file, db, insert }) => {
        const grouped = db.grouped(() => insert.run(1));
        db.transaction(() => insert.run(2));
        assert.deepEqual(await rows(file), [1, 2], "both committed once the transaction returned");
        await grouped;
      });
    });

    it("rejects every caller of the turn when the commit fails (a full disk), and works again after", async () => {
      const db = await openDatabase(":memory:");
      db.exec("CREATE TABLE t (x BLOB)");
      const insert = db.prepare("INSERT INTO t (x) VALUES (?)");
      const pages = Number(db.prepare("PRAGMA page_count").get()?.page_count ?? 0);
      db.exec(`PRAGMA max_page_count = ${pages + 2}`);
      const calls = [1, 2, 3, 4].map(() => db.grouped(() => insert.run(new Uint8Array(900))));
      const outcomes = await Promise.allSettled(calls);
      // A full disk shows in the call that overflows (that call alone is undone) or at the commit.
      assert.ok(outcomes.some((outcome) => outcome.status === "rejected"), "the disk is full");
      const ok = outcomes.filter((outcome) => outcome.status === "fulfilled").length;
      assert.equal(Number(db.prepare("SELECT COUNT(*) AS n FROM t").get()?.n), ok, "exactly the calls that succeeded are stored");
      db.exec("PRAGMA max_page_count = 1000000");
      await db.grouped(() => insert.run(new Uint8Array(10)));
      assert.equal(Number(db.prepare("SELECT COUNT(*) AS n FROM t").get()?.n), ok + 1);
      db.close();
    });
  });
});
