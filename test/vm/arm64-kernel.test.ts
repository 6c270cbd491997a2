// GPIO on a real Linux kernel: Debian's arm64 kernel under qemu-system-aarch64 with gpio-sim.
// The conformance suite runs, compiled for arm64, against the cdev and sysfs backends; each case
// becomes one test here. The VM tests boot the same arm64 binaries whichever runtime runs this
// file, so they run once, under `bun test`.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CONFORMANCE_CASES } from "../../src/hal/conformance.ts";
import { runtimeName } from "../../src/platform/index.ts";
import { bootVm, buildInitramfs, compileArm64, vmAssets, vmUnavailable } from "./qemu.ts";

const unavailable = vmUnavailable();
const skip = runtimeName === "deno"
  ? "the VM runs compiled arm64 binaries; bun test runs it once"
  : unavailable
  ? `SKIPPED loudly: no arm64 VM here: ${unavailable}`
  : false;
if (unavailable) console.warn(`\n*** GPIO tests on a real arm64 kernel are SKIPPED: ${unavailable} ***\n`);

describe("GPIO backends on a real arm64 kernel (qemu-system-aarch64, gpio-sim)", { skip }, () => {
  let dir = "";
  let booted: Promise<string> | undefined;
  // Bun gives hooks 5 s whatever the config says; the boot runs in the first test instead, once.
  const guestOutput = () => (booted ??= boot());
  const boot = async (): Promise<string> => {
    dir = mkdtempSync(join(tmpdir(), "realer-vm-"));
    const assets = vmAssets();
    compileArm64("test/vm/guest/conformance.ts", join(dir, "conformance"));
    buildInitramfs(assets, join(dir, "initrd.gz"), "#!/bin/sh\n/opt/conformance\n", { "opt/conformance": join(dir, "conformance") });
    const run = await bootVm(assets, join(dir, "initrd.gz"), 180_000);
    const output = run.output;
    const measures = output.split("\n").filter((line) => line.startsWith("MEASURE") || line.startsWith("=== GUEST"));
    console.log(`arm64 VM conformance run: ${run.wallMs} ms on the host\n${measures.join("\n")}`);
    assert.match(output, /CONFORMANCE DONE/, `the guest did not finish:\n${output.slice(-4000)}`);
    return output;
  };
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const verdict = async (backend: string, name: string) => {
    const output = await guestOutput();
    const line = output.split("\n").find((candidate) => candidate.startsWith(`CASE ${backend} `) && candidate.includes(` ${name}`));
    assert.ok(line, `the guest printed nothing for "${name}" on ${backend}`);
    assert.ok(line.startsWith(`CASE ${backend} ok `), line);
  };
  for (const backend of ["cdev", "sysfs"]) {
    describe(backend, () => {
      for (const testCase of CONFORMANCE_CASES) it(testCase.name, { timeout: 600_000 }, () => verdict(backend, testCase.name));
    });
  }
  it(
    "cdev names sysfs as the holder of a line exported there",
    { timeout: 600_000 },
    () => verdict("cdev", "names sysfs as the holder of a line exported there"),
  );
});
