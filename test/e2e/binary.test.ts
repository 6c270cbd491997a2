// The compiled binaries, for real: the x64 one natively and the arm64 one under qemu-user, each
// through the relay and sensor scenario against the emulator on loopback.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { join } from "node:path";
import { build } from "../../scripts/build.ts";
import { hilCommand } from "../../src/commands/hil.ts";
import { runtimeName } from "../../src/platform/index.ts";
import { canRunArm64, runBinaryScenario } from "../helpers/binary.ts";
import { startEmulator, tempDir } from "../helpers/harness.ts";

const arm64Missing = canRunArm64() ? false : "qemu-user-static or libc6-arm64-cross is missing (scripts/setup.sh installs them)";
if (arm64Missing) console.error(`SKIPPING the arm64 binary test: ${arm64Missing}`);

// A compiled binary carries its own runtime: bun test runs these once.
const once = runtimeName === "deno" ? "compiled binaries carry their own runtime; bun test runs them once" : false;

describe("compiled binaries", { skip: once }, () => {
  let emulator: Emulator;
  let stop: () => Promise<void>;
  let dir: { path: string; remove: () => void };
  let binaries: string[] | undefined;

  // Building two ~100 MiB binaries takes tens of seconds on a 2-core machine, past what a hook
  // may take under bun test: the first test that needs them builds them, under its own timeout.
  const built = () => (binaries ??= build(["linux-x64", "linux-arm64"], dir.path));

  before(async () => {
    ({ emulator, stop } = await startEmulator());
    dir = tempDir("binary");
  });

  after(async () => {
    await stop?.();
    dir?.remove();
  });

  it("runs the relay and sensor scenario as the native x64 binary", { timeout: 300_000 }, async () => {
    const result = await runBinaryScenario(emulator, built()[0]!, false, dir.path);
    assert.match(result.output, /mqtt\.connected/);
    console.log(`x64 binary: start to connected ${result.startToConnectedMs} ms`);
  });

  it("serves as the device under test of a HIL run: the x64 binary natively, the arm64 one under qemu-user", {
    timeout: 400_000,
    skip: arm64Missing,
  }, async () => {
    const [x64, arm64] = built();
    const scenario = new URL("../../examples/hil/relay-follows-cloud.json", import.meta.url).pathname;
    for (const binary of [x64!, arm64!]) {
      const lines: string[] = [];
      const code = await hilCommand({
        args: ["run", scenario],
        binary,
        stateDir: join(dir.path, "hil"),
        print: (line) => lines.push(line),
      });
      console.log(`hil --binary ${binary.split("/").at(-1)}: ${lines.at(-1)}`);
      assert.equal(code, 0, lines.join("\n"));
    }
  });

  it("runs the relay and sensor scenario as the arm64 binary under qemu-user", { timeout: 400_000, skip: arm64Missing }, async () => {
    const result = await runBinaryScenario(emulator, built()[1]!, true, dir.path, 120_000);
    assert.match(result.output, /mqtt\.connected/);
    console.log(`arm64 binary under qemu-user: start to connected ${result.startToConnectedMs} ms`);
  });
});
