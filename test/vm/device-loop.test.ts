// The device loop on a real arm64 kernel: inside one qemu VM, the emulator (the compiled arm64
// realer-edge binary, with Debian's arm64 mosquitto) and the runtime on the cdev backend with
// gpio-sim lines. A guest driver prints a verdict per check; each becomes a test here. Runs
// once, under `bun test` (the guest binaries are the same whichever runtime runs this file).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runtimeName } from "../../src/platform/index.ts";
import { build } from "../../scripts/build.ts";
import { assertGuestVerdict, bootVm, buildInitramfs, compileArm64, vmAssets, vmUnavailable } from "./qemu.ts";

const HIL = new URL("../../examples/hil/", import.meta.url).pathname;
const unavailable = vmUnavailable();
const skip = runtimeName === "deno"
  ? "the VM runs compiled arm64 binaries; bun test runs it once"
  : unavailable
  ? `SKIPPED loudly: no arm64 VM here: ${unavailable}`
  : false;
if (unavailable) console.warn(`\n*** The device loop on a real arm64 kernel is SKIPPED: ${unavailable} ***\n`);

const CHECKS = [
  "an unsynchronised kernel clock is not believed at boot, and the cloud's Date header then is",
  "the runtime logs the clock being set, trusts the synchronised kernel and stamps readings right",
  "the runtime connects with the cdev backend on gpio-sim lines",
  "a desired state turns the simulated line active and the ack comes back accepted",
  "pulling an input produces an accepted reading",
  "check names the lines the running runtime holds and exits 1",
  "a restore relay comes back active after SIGKILL and restart",
  "the relay line shows no glitch while the runtime restarts",
  "the sampler sees the glitch of a claim-then-set (control)",
  "check prints the binding table on this board and exits 0 with the runtime stopped",
  "gpio info lists the simulated chip and its named line",
  "gpio get reads an input",
  "gpio set drives a line for the time asked",
  "gpio watch prints edges as they come",
  "the runtime on the sysfs backend applies a desired state and gets it accepted",
  "the runtime on the sysfs backend reports an input edge",
  "a sysfs relay is held by the kernel through SIGKILL and taken over with no glitch",
  "a clean stop unexports every sysfs line",
  "a switch on gpio-sim toggles its relay through cdev on the board, every press",
  "hil runs the relay-follows-the-cloud scenario on gpio-sim",
  "hil runs the restore-after-a-crash scenario on gpio-sim",
  "hil runs the fail-safe scenario on gpio-sim: the heater goes safe with the broker down",
  "hil on gpio-sim fails a relay that glitches at restart (control)",
  "hil runs the wall-button scenario on gpio-sim: the light toggles with the broker down",
  "hil runs the maintained-switch scenario on gpio-sim",
  "hil runs the press-racing-a-desired-state scenario on gpio-sim",
];

describe("device loop on a real arm64 kernel (qemu-system-aarch64, gpio-sim, mosquitto arm64)", { skip }, () => {
  let dir = "";
  let booted: Promise<string> | undefined;
  const boot = async (): Promise<string> => {
    dir = mkdtempSync(join(tmpdir(), "realer-vm-loop-"));
    const assets = vmAssets();
    const [binary] = build(["linux-arm64"], dir);
    compileArm64("test/vm/guest/device-loop.ts", join(dir, "driver"));
    // The HIL examples, and a control whose relay powers on "off" where "restore" was meant.
    const glitch = JSON.parse(readFileSync(join(HIL, "restore-after-crash.json"), "utf8")) as { routes: { power_on: string }[] };
    glitch.routes[0]!.power_on = "off";
    writeFileSync(join(dir, "glitch.json"), JSON.stringify(glitch));
    buildInitramfs(assets, join(dir, "initrd.gz"), "#!/bin/sh\n/opt/driver\n", {
      "opt/realer-edge": binary!,
      "opt/driver": join(dir, "driver"),
      "opt/hil/relay-follows-cloud.json": join(HIL, "relay-follows-cloud.json"),
      "opt/hil/restore-after-crash.json": join(HIL, "restore-after-crash.json"),
      "opt/hil/failsafe-broker-down.json": join(HIL, "failsafe-broker-down.json"),
      "opt/hil/glitch.json": join(dir, "glitch.json"),
      "opt/hil/button-toggles-offline.json": join(HIL, "button-toggles-offline.json"),
      "opt/hil/switch-follow.json": join(HIL, "switch-follow.json"),
      "opt/hil/press-races-desired.json": join(HIL, "press-races-desired.json"),
    });
    const run = await bootVm(assets, join(dir, "initrd.gz"), 400_000);
    const notes = run.output.split("\n").filter((line) =>
      line.startsWith("MEASURE") || line.startsWith("=== ") || line.startsWith("LOOP fail")
    );
    console.log(`arm64 VM device loop: ${run.wallMs} ms on the host\n${notes.join("\n")}`);
    assert.match(run.output, /LOOP DONE/, `the guest did not finish:\n${run.output.slice(-5000)}`);
    return run.output;
  };
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const check of CHECKS) {
    it(check, { timeout: 600_000 }, async () => {
      assertGuestVerdict(await (booted ??= boot()), "LOOP", check);
    });
  }
});
