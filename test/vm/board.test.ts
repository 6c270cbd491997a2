// The Debian package on a real systemd: the board image (Debian 12 arm64, systemd as PID 1) boots in
// the VM with gpio-sim lines and QEMU's user-mode network to the emulator on the host; a driver
// unit on the board installs the arm64 package and runs realer-edge as its service the way a user
// would (see guest/board.ts), then installs the previous release and upgrades it to this one. Each
// check the board prints is one test here. Runs once, under Bun.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, describe, it } from "node:test";
import { build } from "../../scripts/build.ts";
import { buildDeb } from "../../scripts/package.ts";
import { Emulator } from "../../src/emulator/emulator.ts";
import { VERSION } from "../../src/version.ts";
import { boardImage, boardInitramfs, boardSuiteSkip, copyBoardImage } from "./board-image.ts";
import { buildPreviousReleaseDeb, PREVIOUS_RELEASE } from "./previous-release.ts";
import { PACKAGED_SERVICE, provisionSimDevice } from "./sim-device.ts";
import { assertGuestVerdict, compileArm64, startVm, vmAssets } from "./qemu.ts";

const skip = boardSuiteSkip("The package on a systemd board");

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
    const sim = provisionSimDevice(emulator);
    writeFileSync(join(dir, "device.json"), JSON.stringify(sim.config(PACKAGED_SERVICE)));
    writeFileSync(
      join(dir, "payload.json"),
      JSON.stringify({
        ...sim.payload(),
        deb: basename(deb),
        previous_deb: basename(previousDeb),
        previous_version: PREVIOUS_RELEASE.version,
      }),
    );
    const initrd = boardInitramfs(assets, dir, emulator.caPath, {
      [`opt/${basename(deb)}`]: deb,
      [`opt/${basename(previousDeb)}`]: previousDeb,
    });
    const disk = copyBoardImage(image, join(dir, "board.img"));
    const vm = startVm(assets, initrd, {
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
