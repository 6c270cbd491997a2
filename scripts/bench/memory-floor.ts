// The memory floor of the chosen stack, measured in the same run as the device: a process of the
// same kind (the source under Bun or Deno, or a compiled Bun binary) that holds one MQTT.js
// connection over TLS to the same broker and does nothing else. What the device costs beyond it
// is the device's own. Run as a script (this file), it is that client.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { inheritedEnv, spawnProcess } from "../../src/platform/index.ts";
import { connectRawClient, loopbackLogin, type RawLogin } from "../../test/helpers/raw-mqtt.ts";
import { BUN, DENO, type DeviceKind, type Memory, readMemory } from "./device-process.ts";

const SELF = fileURLToPath(import.meta.url);

/** The command that runs this file as `kind`; a binary kind compiles it into `workDir` first. */
function commandFor(kind: DeviceKind, workDir: string): string[] {
  if ("binary" in kind) {
    const out = join(workDir, "mqtt-floor-client");
    const built = spawnSync(BUN, ["build", "--compile", "--minify", "--bytecode", "--format=esm", SELF, "--outfile", out], {
      encoding: "utf8",
    });
    if (built.status !== 0) throw new Error(`Cannot build the memory floor's client: ${built.stderr.trim().split("\n").at(-1)}`);
    return [out];
  }
  return kind.runtime === "bun" ? [BUN, SELF] : [DENO, "run", "--allow-net", "--allow-read", "--allow-env", SELF];
}

/** Starts the floor client as `kind`, waits until it is connected and has idled `idleMs`, and returns its memory. */
export async function memoryFloor(emulator: Emulator, kind: DeviceKind, workDir: string, idleMs = 2000): Promise<Memory> {
  const job = loopbackLogin(await emulator.createLoopbackClient(), emulator.caPem, "floor");
  const [command, ...args] = commandFor(kind, workDir);
  const env = inheritedEnv();
  // The job in the environment, not argv: the password stays out of the process list.
  const child = spawnProcess(command!, args, { ...env, REALER_MEMORY_FLOOR_JOB: JSON.stringify(job) });
  try {
    const deadline = performance.now() + 30_000;
    while (!child.output().stdout.includes("connected")) {
      if (performance.now() > deadline) throw new Error(`The memory floor's client did not connect: ${child.output().stderr.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    return readMemory(child.pid);
  } finally {
    child.kill("SIGKILL");
    await child.exited;
  }
}

if (import.meta.main) {
  const job = JSON.parse(process.env.REALER_MEMORY_FLOOR_JOB ?? "{}") as RawLogin;
  // As the device runs it: no pre-made buffers for every 16-bit number.
  const client = await connectRawClient(job, { writeCache: false });
  client.on("error", () => {});
  console.log("connected");
  setInterval(() => {}, 60_000);
}
