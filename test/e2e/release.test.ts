// `npm run release` to `realer-edge update apply`: keys made with the real minisign, a release
// folder signed by it, checked by the stock `minisign -V` and taken by the updater; the next
// release carries an app-only zstd patch against the previous one.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { thisTarget, updateCommand } from "../../src/commands/update.ts";
import { parseManifest } from "../../src/update/manifest.ts";
import { VERSION } from "../../src/version.ts";
import { tempDir } from "../helpers/harness.ts";
import { runCli } from "../helpers/cli.ts";
import { healthyReport } from "../helpers/health.ts";

const BUN = "node_modules/.bin/bun";
const tools = ["minisign", "zstd"].every((tool) => !spawnSync(tool, ["-V"]).error);

describe("npm run release → realer-edge update apply", {
  skip: tools ? false : "minisign or zstd missing (scripts/setup.sh installs them)",
}, () => {
  const dir = tempDir("release");
  after(() => dir.remove());
  const target = thisTarget();

  it(
    "signs a release the stock minisign verifies and the updater takes; the next one carries a small patch",
    { timeout: 120_000 },
    async () => {
      const key = join(dir.path, "release.sec");
      const pub = join(dir.path, "release.pub");
      const made = spawnSync("minisign", ["-G", "-W", "-p", pub, "-s", key], { encoding: "utf8" });
      assert.equal(made.status, 0, made.stderr);
      // Stand-ins for the compiled binaries (a build takes a minute): a script that answers --version, 2 MiB of it.
      const binaries = join(dir.path, "bin");
      mkdirSync(binaries);
      const body = (tag: string) =>
        `#!/bin/sh\necho "realer-edge ${VERSION} (commit ${tag}, sh)"\nexit 0\n#${"x".repeat(2 * 1024 * 1024)}\n`;
      const writeBinary = (tag: string) => {
        writeFileSync(join(binaries, `realer-edge-${target}`), body(tag));
        chmodSync(join(binaries, `realer-edge-${target}`), 0o755);
      };
      const release = (n: number, extra: string[] = []) =>
        spawnSync(BUN, [
          "scripts/release.ts",
          "--key",
          key,
          "--release",
          String(n),
          "--out",
          join(dir.path, `r${n}`),
          "--target",
          target,
          "--binaries",
          binaries,
          ...extra,
        ], {
          encoding: "utf8",
        });
      writeBinary("one");
      const first = release(1);
      assert.equal(first.status, 0, first.stdout + first.stderr);
      const folder = join(dir.path, "r1", target);
      const verified = spawnSync("minisign", ["-V", "-p", pub, "-m", join(folder, "manifest.json")], { encoding: "utf8" });
      assert.equal(verified.status, 0, verified.stderr);
      assert.match(verified.stdout, new RegExp(`Trusted comment: realer-edge ${target} release 1 version ${VERSION}`));

      const root = join(dir.path, "board");
      const installed = join(dir.path, "installed");
      writeFileSync(installed, body("installed"));
      chmodSync(installed, 0o755);
      const lines: string[] = [];
      // systemd, faked: the watch judges the trial from the runtime's health report and these facts.
      const asked: string[] = [];
      const probe = {
        facts: () => Promise.resolve({ active: true, restarts: 0, watchdogKilled: false }),
        restart: () => Promise.resolve(void asked.push("restart")),
        tryRestart: () => Promise.resolve(void asked.push("try-restart")),
        watchTimer: (running: boolean) => Promise.resolve(void asked.push(running ? "timer on" : "timer off")),
      };
      const update = (...args: string[]) => updateCommand({ args, updateDir: root, keys: pub, probe, print: (line) => lines.push(line) });
      assert.equal(await update("adopt", installed), 0, lines.join("\n"));
      assert.equal(await update("apply", folder), 0, lines.join("\n"));
      assert.match(lines.at(-1)!, /^staged: release 1 \(.*\) is on trial/);
      assert.equal(await update("start"), 0);
      assert.deepEqual(asked, ["try-restart", "timer on"], "the service moves onto the trial, and its start brings the watch's timer");
      const health = join(dir.path, "health.json");
      const watch = () =>
        // No settling time: its rule has a test of its own (trial-verdict.test.ts).
        updateCommand({
          args: ["watch"],
          settleS: "0",
          updateDir: root,
          keys: pub,
          healthPath: health,
          probe,
          print: (line) => lines.push(line),
        });
      assert.equal(await watch(), 0);
      assert.equal(lines.at(-1), `trial: waiting for a health report from version ${VERSION}`);
      const report = healthyReport(VERSION, { acked: 3, desired_received: 1, desired_answered: 0 });
      writeFileSync(health, JSON.stringify(report));
      assert.equal(await watch(), 0);
      assert.equal(lines.at(-1), "trial: waiting for an answer to 1 desired state(s)");
      writeFileSync(health, JSON.stringify({ ...report, desired_answered: 1 }));
      assert.equal(await watch(), 0);
      assert.match(lines.at(-1)!, /^committed: release 1 \(.*\) proved itself healthy$/);
      assert.equal(asked.at(-1), "timer off", "the verdict stops the watch's timer");
      await update("status");
      assert.ok(lines.some((line) => line === `committed: ${VERSION} (release 1, slot b)`), lines.join("\n"));
      // The same release again: the ratchet refuses it, and says so in one line.
      assert.equal(await update("apply", folder), 1);
      assert.match(lines.at(-1)!, /^refused \(ratchet\): release 1 is not above release 1/);

      writeBinary("two");
      const second = release(2, ["--previous", join(dir.path, "r1")]);
      assert.equal(second.status, 0, second.stdout + second.stderr);
      const manifest = parseManifest(new Uint8Array(readFileSync(join(dir.path, "r2", target, "manifest.json"))));
      const patch = manifest.patches![0]!;
      assert.equal(patch.from_sha256, parseManifest(new Uint8Array(readFileSync(join(folder, "manifest.json")))).binary.sha256);
      assert.ok(patch.length < manifest.binary.length / 100, `the patch is ${patch.length} bytes of ${manifest.binary.length}`);
      assert.equal(await update("apply", join(dir.path, "r2", target)), 0, lines.join("\n"));
    },
  );

  it("says what it takes in one line on a wrong verb or unreadable keys, and exits 2", async () => {
    const wrong = await runCli(["update", "frobnicate", "--update-dir", join(dir.path, "u"), "--keys", join(dir.path, "none.pub")], {});
    assert.equal(wrong.code, 2);
    assert.equal(wrong.stderr.trim().split("\n").length, 1, wrong.stderr);
    const keys = await runCli(["update", "check", dir.path, "--update-dir", join(dir.path, "u"), "--keys", join(dir.path, "none.pub")], {});
    assert.equal(keys.code, 2);
    assert.match(keys.stderr.trim(), /Cannot read the release keys at .*none\.pub: no such file or folder$/);
  });
});
