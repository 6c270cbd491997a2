import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { openDatabase, runtimeName, spawnProcess } from "./index.ts";

const HOLDER = fileURLToPath(new URL("../../test/helpers/hold-database.ts", import.meta.url));

describe("SQLite through the runtime seam", () => {
  it("waits for another process that holds the file at open, rather than refusing it", { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-sqlite-"));
    try {
      const file = join(dir, "state.sqlite");
      (await openDatabase(file)).close();
      const args = runtimeName === "deno" ? ["run", "--allow-all", HOLDER, file, "800"] : [HOLDER, file, "800"];
      const env = Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
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
});
