// The Debian package as an installer would see it: control fields, the layout unpacked into a
// scratch root, a binary that runs from there, the unit's hardening, and lintian without errors.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { build } from "../../scripts/build.ts";
import { buildDeb, lintian } from "../../scripts/package.ts";
import { readKeys } from "../../src/commands/update.ts";
import { makeKeyPair } from "../helpers/minisign-signer.ts";
import { parseConfig } from "../../src/config/load.ts";
import { runtimeName } from "../../src/platform/index.ts";
import { VERSION } from "../../src/version.ts";
import { tempDir } from "../helpers/harness.ts";

const noAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0 ? false : "systemd-analyze is not installed";
const noLintian = existsSync("/usr/bin/lintian") ? false : "lintian is not installed (scripts/setup.sh installs it)";
if (noLintian) console.error(`SKIPPING lintian: ${noLintian}`);

// The package is built by Bun and holds a compiled binary: no runtime changes it, so bun test runs it once.
const once = runtimeName === "deno" ? "the package holds a compiled binary; bun test checks it once" : false;

describe("Debian package (amd64)", { skip: once }, () => {
  let dir: { path: string; remove: () => void };
  let deb: string;
  let root: string;

  before(() => {
    dir = tempDir("package");
  });

  after(() => dir?.remove());

  it("builds with dpkg-deb and unpacks into a scratch root", { timeout: 180_000 }, () => {
    const [binary] = build(["linux-x64"], dir.path);
    // Two public keys made for the test: no private key is ever in the repository.
    for (const name of ["release", "backup"]) writeFileSync(join(dir.path, `${name}.pub`), makeKeyPair().publicKeyFile);
    deb = buildDeb("amd64", binary!, dir.path, { release: join(dir.path, "release.pub"), backup: join(dir.path, "backup.pub") });
    root = join(dir.path, "root");
    for (const args of [["-x", deb, root], ["-e", deb, join(root, "DEBIAN")]]) {
      const result = spawnSync("dpkg-deb", args, { encoding: "utf8" });
      assert.equal(result.status, 0, result.stderr);
    }
    console.log(`package: ${(statSync(deb).size / 1024 / 1024).toFixed(1)} MiB`);
  });

  it("is named and described for dpkg", () => {
    assert.equal(deb.split("/").at(-1), `realer-edge_${VERSION}_amd64.deb`);
    const control = readFileSync(join(root, "DEBIAN/control"), "utf8");
    assert.match(control, /^Package: realer-edge$/m);
    assert.match(control, /^Architecture: amd64$/m);
    assert.match(control, /^Depends: libc6 \(>= 2\.27\), adduser$/m);
    assert.equal(readFileSync(join(root, "DEBIAN/conffiles"), "utf8"), "/etc/realer-edge/device.json\n");
    for (const script of ["postinst", "prerm", "postrm"]) {
      assert.ok(statSync(join(root, "DEBIAN", script)).mode & 0o100, `${script} is executable`);
    }
    assert.match(readFileSync(join(root, "DEBIAN/postinst"), "utf8"), /adduser --quiet realer-edge gpio/);
  });

  it("installs a binary that runs, a unit with its hardening, and a config that loads", () => {
    const binary = join(root, "usr/bin/realer-edge");
    assert.ok(statSync(binary).mode & 0o111, "the binary is executable");
    const version = spawnSync(binary, ["--version"], { encoding: "utf8" });
    assert.match(version.stdout, new RegExp(`^realer-edge ${VERSION.replace(/\./g, "\\.")} \\(commit [0-9a-f]+`));
    const unit = readFileSync(join(root, "lib/systemd/system/realer-edge.service"), "utf8");
    for (
      const line of [
        "Type=notify",
        "WatchdogSec=30",
        "Restart=on-failure",
        "StartLimitBurst=5",
        "User=realer-edge",
        "SupplementaryGroups=gpio",
        "StateDirectory=realer-edge",
        "RuntimeDirectory=realer-edge",
        "ConfigurationDirectory=realer-edge",
        "ProtectSystem=strict",
        "NoNewPrivileges=true",
        "DevicePolicy=closed",
        "DeviceAllow=char-gpiochip rw",
        "LoadCredential=client-secret:/etc/realer-edge/client-secret",
      ]
    ) {
      assert.ok(unit.includes(`\n${line}\n`), `the unit has ${line}`);
    }
    assert.doesNotMatch(unit, /secret=|CLIENT_SECRET/i, "no secret in the unit");
    // It runs the release `current` points to, after the committed release's updater counted the start.
    assert.match(unit, /^ExecStart=\/var\/lib\/realer-edge-update\/current\/realer-edge run /m);
    assert.match(unit, /^ExecStartPre=-\+\/bin\/sh -c '.*committed\/realer-edge.*\/usr\/bin\/realer-edge; exec "\$u" update start'$/m);
    for (const [timer, command] of [["watch", "update watch"], ["poll", "update poll"]]) {
      // The poll timer is enabled; the watch's runs only while a trial is open (the updater starts and stops it).
      const timerUnit = readFileSync(join(root, `lib/systemd/system/realer-edge-update-${timer}.timer`), "utf8");
      if (timer === "poll") assert.match(timerUnit, /^WantedBy=timers\.target$/m);
      else assert.doesNotMatch(timerUnit, /WantedBy/);
      const service = readFileSync(join(root, `lib/systemd/system/realer-edge-update-${timer}.service`), "utf8");
      assert.ok(
        service.includes(`\nExecStart=/var/lib/realer-edge-update/committed/realer-edge ${command} `),
        `the ${timer} runs the committed release`,
      );
    }
    assert.match(readFileSync(join(root, "DEBIAN/postinst"), "utf8"), /update take-package \/usr\/bin\/realer-edge/);
    const config = parseConfig(readFileSync(join(root, "etc/realer-edge/device.json"), "utf8"), "device.json");
    assert.deepEqual(config.client_secret, { file: "/run/credentials/realer-edge.service/client-secret" });
    assert.match(
      readFileSync(join(root, "lib/udev/rules.d/60-realer-edge.rules"), "utf8"),
      /^SUBSYSTEM=="gpio", KERNEL=="gpiochip\[0-9\]\*", GROUP="gpio", MODE="0660"$/m,
    );
    for (
      const file of ["usr/share/doc/realer-edge/copyright", "usr/share/doc/realer-edge/changelog.gz", "usr/share/man/man1/realer-edge.1.gz"]
    ) {
      assert.ok(existsSync(join(root, file)), file);
    }
    // The release keys it pins, read as `realer-edge update` reads them.
    assert.deepEqual(readKeys(join(root, "usr/share/realer-edge/keys")).length, 2);
  });

  it("is hardened to an exposure of 2.5 or less in systemd-analyze security", { skip: noAnalyze }, () => {
    const result = spawnSync("systemd-analyze", [
      "security",
      "--offline=true",
      "--no-pager",
      join(root, "lib/systemd/system/realer-edge.service"),
    ], { encoding: "utf8" });
    const score = /Overall exposure level for realer-edge\.service: (\d+\.\d+)/.exec(result.stdout)?.[1];
    assert.ok(score, `systemd-analyze printed no score: ${result.stdout.slice(-500)}${result.stderr}`);
    console.log(`systemd-analyze security (offline): ${score} (was 7.6 before the unit was hardened)`);
    assert.ok(Number(score) <= 2.5, `exposure ${score}`);
  });

  it("prints the updater's exposure: root, for the slots and systemctl, and nothing else", { skip: noAnalyze }, () => {
    for (const unit of ["realer-edge-update-watch.service", "realer-edge-update-poll.service"]) {
      const result = spawnSync("systemd-analyze", ["security", "--offline=true", "--no-pager", join(root, "lib/systemd/system", unit)], {
        encoding: "utf8",
      });
      const score = /Overall exposure level for \S+: (\d+\.\d+)/.exec(result.stdout)?.[1];
      assert.ok(score, `systemd-analyze printed no score for ${unit}: ${result.stdout.slice(-500)}${result.stderr}`);
      console.log(`systemd-analyze security (offline) ${unit}: ${score}`);
    }
  });

  it("passes lintian without errors", { skip: noLintian, timeout: 120_000 }, () => {
    const result = lintian(deb)!;
    assert.deepEqual(result.errors, []);
    console.log(`lintian: ${result.errors.length} errors, ${result.warnings.length} warnings`);
  });
});
