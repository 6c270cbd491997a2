import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { healthyReport } from "../../test/helpers/health.ts";
import type { HealthReport } from "./trial-verdict.ts";
import { spawnSync } from "node:child_process";
import { makeKeyPair, signMinisign } from "../../test/helpers/minisign-signer.ts";
import { folderSource } from "./folder-source.ts";
import { trustedCommentFor } from "./manifest.ts";
import { parsePublicKey } from "./minisign.ts";
import { UpdateRefusal } from "./refusal.ts";
import { Updater, type UpdaterOptions } from "./updater.ts";

const pair = makeKeyPair();
const keys = [parsePublicKey(pair.publicKeyFile)];
let dirs: string[] = [];
const temp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

/** The state schema a stand-in release writes, and the oldest reader that opens it. */
const SCHEMA = { writes: 3, oldest_reader: 3 };

const sha = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

/** A stand-in binary: a script that answers --version as realer-edge does. */
const script = (version: string) => `#!/bin/sh\necho "realer-edge ${version} (commit test, sh)"\n`;

/** A release folder as `npm run release` writes it. */
function release(version: string, number: number, options: { body?: string; manifest?: Record<string, unknown> } = {}): string {
  const dir = temp("release-");
  const body = options.body ?? script(version);
  writeFileSync(join(dir, "realer-edge-linux-x64"), body);
  const bytes = new TextEncoder().encode(body);
  const manifest = {
    format: 1,
    product: "realer-edge",
    target: "linux-x64",
    version,
    release: number,
    binary: { file: "realer-edge-linux-x64", sha256: createHash("sha256").update(bytes).digest("hex"), length: bytes.length },
    issued_at: new Date(Date.now() - 3600_000).toISOString(),
    expires_at: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    min_version: "0.1.0",
    schema: { writes: 3, oldest_reader: 3 },
    ...options.manifest,
  };
  const text = new TextEncoder().encode(JSON.stringify(manifest));
  writeFileSync(join(dir, "manifest.json"), text);
  writeFileSync(join(dir, "manifest.json.minisig"), signMinisign(pair, text, trustedCommentFor(manifest as never)));
  return dir;
}

async function board(options: Partial<UpdaterOptions> = {}) {
  const root = temp("updater-");
  const installed = join(temp("installed-"), "realer-edge");
  writeFileSync(installed, script("0.2.0"));
  chmodSync(installed, 0o755);
  const make = (extra: Partial<UpdaterOptions> = {}) =>
    new Updater({
      root,
      installedVersion: "0.2.0",
      keys,
      board: { target: "linux-x64", schemaReader: 3, now: Date.now() },
      ...options,
      ...extra,
    });
  const updater = make();
  await updater.adopt(installed, "0.2.0");
  return { root, updater, make };
}

/** Every file under `root` with its content's hash, and every link with its target: what a refusal must leave as it was. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.name === "last-refusal") continue;
      if (entry.isSymbolicLink()) out[path] = `-> ${readlinkSync(path)}`;
      else if (entry.isDirectory()) walk(path);
      else out[path] = createHash("sha256").update(readFileSync(path)).digest("hex");
    }
  };
  walk(root);
  return out;
}

const refusal = async (run: Promise<unknown>, check: string, pattern?: RegExp) => {
  await assert.rejects(run, (error: unknown) => {
    assert.ok(error instanceof UpdateRefusal, String(error));
    assert.equal(error.check, check, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
};

describe("Updater", () => {
  it("adopts the installed binary as slot a, stages a good release into b, runs it on trial and commits it", async () => {
    const { root, updater } = await board();
    assert.equal(updater.slots.current(), "a");
    const { manifest, via } = await updater.apply(folderSource(release("0.3.0", 1)));
    assert.equal(via, "full");
    assert.equal(manifest.version, "0.3.0");
    assert.equal(readlinkSync(join(root, "current")), "slots/b");
    assert.equal(statSync(join(root, "slots/b/realer-edge")).mode & 0o777, 0o755);
    assert.deepEqual(updater.state().trial && { slot: updater.state().trial!.slot, attempts: updater.state().trial!.attempts }, {
      slot: "b",
      attempts: 0,
    });
    assert.equal(updater.recordStart(), "trial");
    updater.commit();
    assert.deepEqual({ committed: updater.state().committed, floor: updater.state().floor_version, trial: updater.state().trial }, {
      committed: { slot: "b", release: 1, version: "0.3.0", schema_reader: 3 },
      floor: "0.3.0",
      trial: null,
    });
    // The next release goes into a, the one that is now spare; b, committed, is never written.
    await updater.apply(folderSource(release("0.4.0", 2)));
    assert.equal(updater.slots.current(), "a");
  });

  it("takes an app-only patch against the running binary, and the full binary when the patch is not the manifest's or does not apply", {
    skip: spawnSync("zstd", ["-V"]).error ? "zstd is not installed (scripts/setup.sh installs it)" : false,
  }, async () => {
    const notes: string[] = [];
    const { updater, make } = await board({ note: (text) => notes.push(text) });
    const padding = `#${"p".repeat(512 * 1024)}\n`;
    const installed = readFileSync(join(updater.slots.root, "slots/a/realer-edge"), "utf8");
    const next = `${script("0.3.0")}${padding}`;
    const withPatch = (from: string, to: string, number: number, mangle?: (patch: Buffer) => Buffer) => {
      const dir = release("0.3.0", number, { body: to });
      writeFileSync(join(dir, "base"), from);
      const made = spawnSync("zstd", [
        "-q",
        "-f",
        "--long=31",
        "--patch-from",
        join(dir, "base"),
        join(dir, "realer-edge-linux-x64"),
        "-o",
        join(dir, "p.zst"),
      ]);
      assert.equal(made.status, 0, String(made.stderr));
      const patch = readFileSync(join(dir, "p.zst"));
      writeFileSync(join(dir, "p.zst"), mangle ? mangle(patch) : patch);
      const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
      manifest.patches = [{ file: "p.zst", algorithm: "zstd", from_sha256: sha(from), sha256: sha(patch), length: patch.length }];
      const text = new TextEncoder().encode(JSON.stringify(manifest));
      writeFileSync(join(dir, "manifest.json"), text);
      writeFileSync(join(dir, "manifest.json.minisig"), signMinisign(pair, text, trustedCommentFor(manifest)));
      return dir;
    };
    const staged = await updater.apply(folderSource(withPatch(installed, next, 1)));
    assert.equal(staged.via, "patch", notes.join("\n"));
    assert.ok(staged.fetched < next.length / 10, `${staged.fetched} bytes fetched for a ${next.length}-byte binary`);
    assert.equal(readFileSync(join(updater.slots.root, "slots/b/realer-edge"), "utf8"), next);
    make().rollback("test");
    // A patch that is not the one the manifest names: the full binary, and the slot is right all the same.
    const bad = await make({ note: (text) => notes.push(text) }).apply(
      folderSource(withPatch(installed, next, 2, (p) => Buffer.concat([p, Buffer.from("x")]))),
    );
    assert.equal(bad.via, "full");
    assert.match(notes.at(-1)!, /is not the manifest's .*taking the full binary|more than the/);
    make().rollback("test");
    // A patch that does not apply (zstd fails): the full binary.
    const broken = await make({
      note: (text) => notes.push(text),
      applyPatch: () => Promise.reject(new Error("zstd exited 1: corrupted block")),
    })
      .apply(folderSource(withPatch(installed, next, 3)));
    assert.equal(broken.via, "full");
    assert.match(notes.at(-1)!, /could not be applied \(zstd exited 1: corrupted block\): taking the full binary/);
    assert.equal(readFileSync(join(updater.slots.root, "slots/b/realer-edge"), "utf8"), next);
    assert.ok(!existsSync(join(updater.slots.root, "slots/b/patch.part")));
    make().rollback("test");
    // A board without the memory to apply it: the full binary, said why.
    const small = await make({ note: (text) => notes.push(text), memoryAvailable: () => 16 * 1024 * 1024 })
      .apply(folderSource(withPatch(installed, next, 4)));
    assert.equal(small.via, "full");
    assert.match(notes.at(-1)!, /needs about \d+ MiB, and 16 MiB are free: taking the full binary/);
  });

  it("refuses a tampered binary, a longer one, one that is not what it says, and one that does not run here, each leaving slots and state as they were", async () => {
    const { root, updater } = await board();
    const before = snapshot(root);
    const tampered = release("0.3.0", 1);
    writeFileSync(join(tampered, "realer-edge-linux-x64"), script("0.3.1"));
    await refusal(updater.apply(folderSource(tampered)), "hash", /sha256/);
    const longer = release("0.3.0", 1);
    writeFileSync(join(longer, "realer-edge-linux-x64"), `${script("0.3.0")}# padding\n`);
    await refusal(updater.apply(folderSource(longer)), "download", /more than the \d+ bytes the manifest gives/);
    await refusal(updater.apply(folderSource(release("0.3.0", 1, { body: script("0.2.9") }))), "self-test", /not version 0.3.0/);
    await refusal(updater.apply(folderSource(release("0.3.0", 1, { body: "\x7fELF\x02\x01\x01garbage" }))), "self-test");
    const missing = release("0.3.0", 1);
    rmSync(join(missing, "realer-edge-linux-x64"));
    await refusal(updater.apply(folderSource(missing)), "download", /ENOENT/);
    rmSync(join(missing, "manifest.json.minisig"));
    await refusal(updater.apply(folderSource(missing)), "signature", /not signed/);
    await refusal(updater.apply(folderSource(release("0.3.0", 1, { manifest: { target: "linux-arm64" } }))), "target");
    assert.deepEqual(snapshot(root), before, "nothing changed on disk");
    assert.match(updater.status().lastRefusal ?? "", /refused \(target\)/);
  });

  it("judges a release's state schema by what the committed release can read, which rises with each commit", async () => {
    const { updater } = await board();
    // The adopted release reads schema 3: a release whose file only schema 4 can open could not be rolled back from.
    await refusal(updater.apply(folderSource(release("0.3.0", 1, { manifest: { schema: { writes: 4, oldest_reader: 4 } } }))), "schema");
    await updater.apply(folderSource(release("0.3.0", 2, { manifest: { schema: { writes: 4, oldest_reader: 3 } } })));
    updater.commit();
    assert.equal(updater.state().committed?.schema_reader, 4);
    // check gives apply's verdict, by the same facts, and changes nothing.
    const next = folderSource(release("0.4.0", 3, { manifest: { schema: { writes: 5, oldest_reader: 4 } } }));
    assert.equal((await updater.check(next)).release, 3);
    assert.equal(updater.state().trial, null);
    await refusal(updater.check(folderSource(release("0.4.0", 3, { manifest: { schema: { writes: 5, oldest_reader: 5 } } }))), "schema");
    await updater.apply(next);
    assert.equal(updater.state().trial?.release, 3);
  });

  it("keeps the ratchet across a restart and a rollback: the same release, or an older one, is refused after", async () => {
    const { updater, make } = await board();
    await updater.apply(folderSource(release("0.3.0", 7)));
    updater.rollback("the test says so");
    assert.equal(updater.slots.current(), "a");
    const again = make();
    await refusal(again.apply(folderSource(release("0.3.0", 7))), "ratchet", /release 7 is not above release 7/);
    await refusal(again.apply(folderSource(release("0.3.5", 6))), "ratchet");
    await again.apply(folderSource(release("0.3.1", 8)));
    assert.equal(again.state().trial?.release, 8);
  });

  it("rolls back by itself once a trial's starts are spent, counting them on disk (a power cut is one start)", async () => {
    const { updater, make } = await board({ maxAttempts: 2 });
    await updater.apply(folderSource(release("0.3.0", 1)));
    assert.equal(make().recordStart(), "trial");
    assert.equal(make().recordStart(), "trial");
    assert.equal(make().recordStart(), "rolled-back");
    assert.equal(updater.slots.current(), "a");
    assert.equal(updater.state().trial, null);
    assert.equal(updater.state().floor_version, "0.2.0", "the floor rises only with a commit");
    assert.match(updater.status().lastRefusal ?? "", /rolled back: release 1 did not prove itself healthy in 2 starts/);
  });

  it("after a crash at any step of staging, switching, committing or rolling back, recover() leaves a complete slot running", async () => {
    // Learn the steps of a whole update, then crash at each one in turn.
    const steps: string[] = [];
    {
      const { updater, make } = await board({ step: (step) => steps.push(step) });
      steps.length = 0;
      await updater.apply(folderSource(release("0.3.0", 1)));
      make().recordStart();
      make().commit();
      await make().apply(folderSource(release("0.4.0", 2)));
      make().rollback("test");
    }
    assert.ok(steps.length >= 20, `${steps.length} steps`);
    for (let crashAt = 0; crashAt < steps.length; crashAt++) {
      let count = 0;
      const crash = () => {
        if (count++ === crashAt) throw new Error(`crash at ${steps[crashAt]}`);
      };
      const { root, make } = await board();
      const run = async () => {
        await make({ step: crash }).apply(folderSource(release("0.3.0", 1)));
        make({ step: crash }).recordStart();
        make({ step: crash }).commit();
        await make({ step: crash }).apply(folderSource(release("0.4.0", 2)));
        make({ step: crash }).rollback("test");
      };
      await run().catch((error: unknown) => assert.match(String(error), /crash at/));
      const survivor = make();
      survivor.recover();
      const state = survivor.state();
      const running = survivor.slots.current()!;
      const expected = state.trial?.slot ?? state.committed!.slot;
      assert.equal(running, expected, `crash at ${steps[crashAt]}: current is ${running}, the state says ${expected}`);
      assert.equal(survivor.slots.linked("committed"), state.committed!.slot, `crash at ${steps[crashAt]}: the committed link`);
      const binary = readFileSync(join(root, "slots", running, "realer-edge"), "utf8");
      const version = state.trial?.version ?? state.committed!.version;
      assert.equal(binary, script(version), `crash at ${steps[crashAt]}: slot ${running} holds a complete ${version}`);
      assert.ok(!existsSync(join(root, "slots", running, "realer-edge.part")));
      // And it starts: the service runs `current/realer-edge`, the link as it stands.
      const started = spawnSync(join(root, "current", "realer-edge"), ["--version"], { encoding: "utf8" });
      assert.equal(started.status, 0, `crash at ${steps[crashAt]}: ${started.error ?? started.stderr}`);
      assert.match(started.stdout, new RegExp(`^realer-edge ${version.replace(/\./g, "\\.")} `));
    }
  });

  it("watches a trial: commits a healthy release, rolls back a restarting or unhealthy one, and tries an inconclusive one again later", async () => {
    const health = join(temp("run-"), "health.json");
    const report = (extra: Partial<HealthReport> = {}) => writeFileSync(health, JSON.stringify(healthyReport("0.3.0", extra)));
    let facts = { active: true, restarts: 4, watchdogKilled: false };
    let restarts = 0;
    const probe = { facts: () => Promise.resolve(facts), restart: () => Promise.resolve(void restarts++) };
    // No settling time here: its rule is judgeTrial's own test.
    const timing = { windowMs: 60_000, settleMs: 0 };
    const { updater } = await board({ healthPath: health });
    // The running release was connected when the trial began.
    report({ version: "0.2.0" });
    await updater.apply(folderSource(release("0.3.0", 1)));
    assert.equal(updater.state().trial?.committed_was_connected, true);
    assert.deepEqual(await updater.watch(probe, timing), { action: "none", text: "waiting for a health report from version 0.3.0" });
    report();
    assert.equal((await updater.watch(probe, timing)).action, "committed");
    assert.equal(updater.state().committed?.version, "0.3.0");

    // A restart during the trial (systemd's count rose past where it stood when the trial began): rolled back at once.
    report({ version: "0.3.0" });
    await updater.apply(folderSource(release("0.4.0", 2)));
    await updater.watch(probe, timing);
    facts = { ...facts, restarts: 5 };
    assert.deepEqual(await updater.watch(probe, timing), { action: "rolled-back", text: "it restarted 1 time(s)" });
    assert.equal(updater.slots.current(), "b");
    assert.equal(restarts, 1, "the service restarted onto the committed release");

    // Never connected, though the release before was: a failure once the window is over.
    facts = { ...facts, restarts: 5 };
    await updater.apply(folderSource(release("0.4.1", 3)));
    report({ version: "0.4.1", connected: false, subscribed: false, acked: 0 });
    const started = updater.state().trial!.started_at;
    assert.equal((await updater.watch(probe, timing, started + 1_000)).action, "none");
    assert.equal((await updater.watch(probe, timing, started + 61_000)).action, "rolled-back");

    // Offline before and after: inconclusive, rolled back, and tried again from its slot later.
    report({ version: "0.3.0", connected: false, subscribed: false, acked: 0 });
    await updater.apply(folderSource(release("0.4.2", 4)));
    report({ version: "0.4.2", connected: false, subscribed: false, acked: 0 });
    const begun = updater.state().trial!.started_at;
    assert.equal((await updater.watch(probe, { ...timing, retryMs: 3_600_000 }, begun + 61_000)).action, "inconclusive");
    assert.equal(updater.slots.current(), "b");
    assert.equal((await updater.watch(probe, { ...timing, retryMs: 3_600_000 }, begun + 120_000)).action, "none", "not yet");
    assert.equal((await updater.watch(probe, { ...timing, retryMs: 3_600_000 }, begun + 3_700_000)).action, "retried");
    assert.equal(updater.slots.current(), "a");
    report({ version: "0.4.2", started_at: begun + 3_700_100 });
    assert.equal((await updater.watch(probe, timing, begun + 3_700_500)).action, "committed");
    assert.equal(updater.state().committed?.release, 4);

    // The watchdog: rolled back whatever the report says.
    await updater.apply(folderSource(release("0.5.0", 5)));
    report({ version: "0.5.0" });
    facts = { ...facts, watchdogKilled: true };
    assert.deepEqual(await updater.watch(probe, timing), { action: "rolled-back", text: "the watchdog killed it" });
  });

  it("takes the Debian package's binary on trial, like a release, and adopts it on a board that had none", async () => {
    const packaged = (version: string) => {
      const path = join(temp("pkg-"), "realer-edge");
      writeFileSync(path, script(version));
      chmodSync(path, 0o755);
      return path;
    };
    // A board whose package came before the updater: nothing committed, so nothing to fall back to.
    const bare = new Updater({
      root: temp("bare-"),
      installedVersion: "0.2.0",
      keys: [],
      board: { target: "linux-x64", schemaReader: 3, now: 0 },
    });
    assert.equal(await bare.stageInstalled(packaged("0.2.0"), "0.2.0", SCHEMA), "adopted");
    assert.equal(bare.state().committed?.version, "0.2.0");
    assert.equal(bare.slots.linked("committed"), "a");

    const { root, updater } = await board();
    // The same binary as the committed one (a reinstall): nothing to try.
    assert.equal(await updater.stageInstalled(join(root, "slots", "a", "realer-edge"), "0.2.0", SCHEMA), "unchanged");
    assert.equal(updater.state().trial, null);
    // A new one goes on trial in the spare slot; the updater's own binary stays the committed one.
    assert.equal(await updater.stageInstalled(packaged("0.3.0"), "0.3.0", SCHEMA), "trial");
    assert.deepEqual([updater.slots.current(), updater.slots.linked("committed")], ["b", "a"]);
    assert.equal(updater.state().trial?.version, "0.3.0");
    assert.equal(updater.state().highest_release, 0, "a package raises no release number");
    assert.ok(existsSync(join(root, "trial-open")));
    // A second package while the first is on trial replaces it.
    assert.equal(await updater.stageInstalled(packaged("0.3.1"), "0.3.1", SCHEMA), "trial");
    assert.equal(readFileSync(join(root, "current", "realer-edge"), "utf8"), script("0.3.1"));
    // A package whose state file the committed release could not open is refused, and the board keeps what it runs.
    updater.rollback("test");
    const before = snapshot(root);
    await assert.rejects(updater.stageInstalled(packaged("0.4.0"), "0.4.0", { writes: 5, oldest_reader: 4 }), (error: Error) => {
      assert.ok(error instanceof UpdateRefusal);
      assert.match(error.message, /only schema 4 or later can open; the committed 0\.2\.0 reads up to 3/);
      return true;
    });
    assert.deepEqual(snapshot(root), before);
  });

  it("commits onto the `committed` link and never lowers the floor; start adopts a board that lost its update folder", async () => {
    const { root, updater } = await board();
    await updater.apply(folderSource(release("0.3.0", 1)));
    assert.deepEqual([updater.slots.current(), updater.slots.linked("committed")], ["b", "a"]);
    updater.commit();
    assert.deepEqual([updater.slots.current(), updater.slots.linked("committed")], ["b", "b"]);
    assert.ok(!existsSync(join(root, "trial-open")));
    // An operator's package below the floor may run (dpkg is theirs to choose), but the floor stays.
    const older = join(temp("pkg-"), "realer-edge");
    writeFileSync(older, script("0.2.5"));
    chmodSync(older, 0o755);
    await updater.stageInstalled(older, "0.2.5", SCHEMA);
    updater.commit();
    assert.equal(updater.state().committed?.version, "0.2.5");
    assert.equal(updater.state().floor_version, "0.3.0");
    // A lost marker comes back with the next look (a start or a watch).
    await updater.apply(folderSource(release("0.4.0", 2)));
    rmSync(join(root, "trial-open"));
    updater.recover();
    assert.ok(existsSync(join(root, "trial-open")));

    const lost = temp("lost-");
    const fresh = new Updater({ root: lost, installedVersion: "0.2.0", keys: [], board: { target: "linux-x64", schemaReader: 3, now: 0 } });
    await fresh.ensureAdopted(older, "0.2.5");
    assert.equal(fresh.recordStart(), "committed");
    assert.equal(readFileSync(join(lost, "current", "realer-edge"), "utf8"), script("0.2.5"));
  });

  it("leaves the slots runnable by the service user whatever the umask (the runtime's unit has 0077, and its start adopts)", async () => {
    const previous = process.umask(0o077);
    try {
      const { root } = await board();
      for (const path of [root, join(root, "slots"), join(root, "slots", "a"), join(root, "slots", "a", "realer-edge")]) {
        assert.equal(statSync(path).mode & 0o777, 0o755, path);
      }
      assert.equal(statSync(join(root, "state.json")).mode & 0o777, 0o644);
    } finally {
      process.umask(previous);
    }
  });

  it("gives each start of a trial its whole window: a power cut late in the window does not fail a good release", async () => {
    const health = join(temp("run-"), "health.json");
    const { updater } = await board({ healthPath: health });
    await updater.apply(folderSource(release("0.3.0", 1)));
    assert.equal(updater.recordStart(), "trial");
    const first = updater.state().trial!.started_at;
    const probe = { facts: () => Promise.resolve({ active: true, restarts: 0, watchdogKilled: false }), restart: () => Promise.resolve() };
    // The board lost power 50 s into a 60 s window and took 30 s to boot: the new start is judged from when it began.
    const later = first + 80_000;
    const realNow = Date.now;
    Date.now = () => later;
    try {
      assert.equal(updater.recordStart(), "trial");
    } finally {
      Date.now = realNow;
    }
    assert.equal(updater.state().trial?.started_at, later);
    assert.equal(updater.state().trial?.attempts, 2, "the cut cost one start, counted on disk");
    writeFileSync(health, JSON.stringify(healthyReport("0.3.0", { started_at: later + 5_000 })));
    assert.deepEqual(await updater.watch(probe, { windowMs: 60_000, settleMs: 40_000 }, later + 20_000), {
      action: "none",
      text: "waiting for 25 s more of running healthy",
    });
    assert.equal((await updater.watch(probe, { windowMs: 60_000, settleMs: 40_000 }, later + 46_000)).action, "committed");
  });
});
