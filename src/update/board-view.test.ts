import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readUpdateView, runningOnTrial } from "./board-view.ts";
import { Updater } from "./updater.ts";

const dir = mkdtempSync(join(tmpdir(), "board-view-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const binary = (version: string) => {
  const path = join(mkdtempSync(join(dir, "bin-")), "realer-edge");
  writeFileSync(path, `#!/bin/sh\necho "realer-edge ${version} (commit test, sh)"\n`);
  chmodSync(path, 0o755);
  return path;
};

describe("the updater as the runtime shows it", () => {
  it("says which slot runs, what is committed and on trial, and the last rollback; nothing without an updater", async () => {
    assert.equal(readUpdateView(join(dir, "none")), undefined, "a board without an updater shows nothing");
    const root = join(dir, "update");
    const updater = new Updater({ root, installedVersion: "0.2.0", keys: [], board: { target: "linux-x64", schemaReader: 3, now: 0 } });
    await updater.adopt(binary("0.2.0"), "0.2.0");
    assert.deepEqual(readUpdateView(root), { slot: "a", committed: { version: "0.2.0", release: 0 }, trial: null, last_refusal: null });
    await updater.stageInstalled(binary("0.3.0"), "0.3.0", { writes: 3, oldest_reader: 3 });
    const onTrial = readUpdateView(root);
    assert.deepEqual(onTrial?.trial, { slot: "b", version: "0.3.0", release: 0, attempts: 0 });
    assert.ok(runningOnTrial(onTrial));
    updater.rollback("it never connected");
    const back = readUpdateView(root)!;
    assert.equal(back.slot, "a");
    assert.ok(!runningOnTrial(back));
    assert.match(back.last_refusal!.text, /^rolled back: it never connected$/);
    assert.ok(Math.abs(back.last_refusal!.at - Date.now()) < 60_000);
    // A state the updater cannot read shows nothing, rather than a wrong slot or a throw in the runtime.
    writeFileSync(join(root, "state.json"), "{ not json");
    assert.equal(readUpdateView(root), undefined);
  });
});
