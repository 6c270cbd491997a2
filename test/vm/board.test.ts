// The Debian package on a real systemd: the board image (Debian 12 arm64, systemd as PID 1) boots in
// the VM with gpio-sim lines and QEMU's user-mode network to the emulator on the host; a driver
// unit on the board installs the arm64 package and runs realer-edge as its service the way a user
// would (see guest/board.ts), then installs the previous release and upgrades it to this one. Each
// check the board prints is one test here. Runs once, under Bun.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, describe, it } from "node:test";
import { build } from "../../scripts/build.ts";
import { buildDeb } from "../../scripts/package.ts";
import { Emulator } from "../../src/emulator/emulator.ts";
import { VERSION } from "../../src/version.ts";
import { runtimeName } from "../../src/platform/index.ts";
import { boardImage, copyBoardImage } from "./board-image.ts";
import { buildPreviousReleaseDeb, PREVIOUS_RELEASE } from "./previous-release.ts";
import { assertGuestVerdict, buildInitramfs, compileArm64, startVm, vmAssets, vmUnavailable } from "./qemu.ts";

const GUEST = new URL("./guest/", import.meta.url).pathname;
const debootstrap = spawnSync("sh", ["-c", "command -v debootstrap || test -x /usr/sbin/debootstrap"]).status === 0;
const unavailable = vmUnavailable() || (debootstrap ? false : "debootstrap not installed (scripts/setup.sh installs it on Debian)");
const skip = runtimeName === "deno"
  ? "the board runs compiled arm64 binaries; bun test runs it once"
  : unavailable
  ? `SKIPPED loudly: no board image here: ${unavailable}`
  : false;
if (unavailable) console.warn(`\n*** The package on a systemd board is SKIPPED: ${unavailable} ***\n`);

const CHECKS = [
  "dpkg -i installs the arm64 package",
  "systemctl enable --now brings the service to READY with a status text",
  "a desired state turns the gpio-sim relay on and its ack comes back accepted",
  "an input edge reaches the cloud as an accepted reading",
  "the service writes its health for the updater to /run/realer-edge/health.json: ready, connected, acked, every desired state answered",
  "systemctl kill -s KILL: Restart=on-failure brings it back, the relay held on throughout",
  "a hung runtime (SIGSTOP) is killed by the watchdog and restarted",
  "the client secret arrives through LoadCredential and is in no file the service wrote",
  "systemctl stop ends within the stop timeout, and the journal holds the service's JSON lines",
  "dpkg --purge removes the program, its units and their enable links, its config, its state, the updater's slots and its user, and leaves the gpio group",
  "with Raspberry Pi OS's gpio rule, the previous release installs and applies a desired state",
  "an upgrade to this release keeps the config, the state and a running service, with the relay held on",
];

describe("the Debian package on a systemd board (arm64 VM, Debian 12)", { skip }, () => {
  let dir = "";
  let emulator: Emulator | undefined;
  let booted: Promise<string> | undefined;
  const boot = async (): Promise<string> => {
    dir = mkdtempSync(join(tmpdir(), "realer-board-"));
    const assets = vmAssets();
    const imageStarted = performance.now();
    const image = await boardImage(assets);
    console.log(`board image: ${image} (${((performance.now() - imageStarted) / 1000).toFixed(0)} s to build or find)`);
    const [binary] = build(["linux-arm64"], dir);
    const deb = buildDeb("arm64", binary!, dir);
    const previousDeb = buildPreviousReleaseDeb(join(dir, "previous"));
    console.log(`upgrade: ${PREVIOUS_RELEASE.version} (commit ${PREVIOUS_RELEASE.commit.slice(0, 12)}) -> ${VERSION}`);
    compileArm64("test/vm/guest/board.ts", join(dir, "driver"));
    emulator = new Emulator({ stateDir: join(dir, "cloud"), publicHost: "10.0.2.2" });
    await emulator.start();
    const device = emulator.provision([
      { source_type: "command", kind: "relay", pin_port: "6" },
      { source_type: "sensor", kind: "switch", pin_port: "5" },
    ]);
    writeFileSync(
      join(dir, "device.json"),
      JSON.stringify({
        api_url: emulator.url,
        device_id: device.device_id,
        client_id: device.client_id,
        client_secret: { file: "/run/credentials/realer-edge.service/client-secret" },
        ca_file: "/etc/realer-edge/ca.crt",
        state_dir: "/var/lib/realer-edge",
        log: { level: "info", format: "json" },
        gpio: { backend: "cdev" },
        routes: [
          { pin_port: "6", line: { chip: "realer-sim", offset: 6 }, power_on: "restore" },
          { pin_port: "5", line: { chip: "realer-sim", offset: 5 }, bias: "pull-down", debounce_ms: 5 },
        ],
      }),
    );
    writeFileSync(
      join(dir, "payload.json"),
      JSON.stringify({
        operator: `${emulator.url}/_emulator`,
        device_id: device.device_id,
        relay: device.routes.find((route) => route.source_type === "command")!.source_id,
        switch: device.routes.find((route) => route.source_type === "sensor")!.source_id,
        secret: device.client_secret,
        deb: basename(deb),
        previous_deb: basename(previousDeb),
        previous_version: PREVIOUS_RELEASE.version,
      }),
    );
    buildInitramfs(assets, join(dir, "initrd.gz"), "#!/bin/sh\n", {
      "opt/handover": join(GUEST, "handover"),
      "opt/realer-board-test.service": join(GUEST, "realer-board-test.service"),
      "opt/driver": join(dir, "driver"),
      "opt/payload.json": join(dir, "payload.json"),
      "opt/device.json": join(dir, "device.json"),
      "opt/ca.crt": emulator.caPath,
      [`opt/${basename(deb)}`]: deb,
      [`opt/${basename(previousDeb)}`]: previousDeb,
    });
    const disk = copyBoardImage(image, join(dir, "board.img"));
    const vm = startVm(assets, join(dir, "initrd.gz"), {
      disk,
      network: true,
      onLine: (line) => line.startsWith("BOARD ") && console.log(line),
    });
    const timer = setTimeout(() => vm.cut(), 20 * 60_000);
    const run = await vm.ended;
    clearTimeout(timer);
    const notes = run.output.split("\n").filter((line) => /^BOARD (measure|fail|booted)|^=== /.test(line));
    console.log(`systemd board: ${(run.wallMs / 1000).toFixed(0)} s on the host\n${notes.join("\n")}`);
    assert.match(run.output, /BOARD done/, `the board did not finish:\n${run.output.slice(-5000)}`);
    return run.output;
  };
  after(async () => {
    await emulator?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const check of CHECKS) {
    it(check, { timeout: 3_600_000 }, async () => {
      assertGuestVerdict(await (booted ??= boot()), "BOARD", check);
    });
  }
});
