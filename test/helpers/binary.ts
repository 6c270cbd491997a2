// Runs a compiled realer-edge binary (natively, or an arm64 one under qemu-user) as a device
// against an emulator, and drives the relay and sensor scenario through it.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { findFreePort } from "../../src/emulator/free-port.ts";
import { ARM64_SYSROOT, QEMU_AARCH64 } from "../../src/hil/device-under-test.ts";
import { inheritedEnv, spawnProcess } from "../../src/platform/index.ts";
import { DEMO_ROUTES, deviceConfig, waitFor } from "./harness.ts";

/** Whether this machine can run an arm64 binary under qemu-user. */
export function canRunArm64(): boolean {
  return existsSync(QEMU_AARCH64) && existsSync(`${ARM64_SYSROOT}/lib/ld-linux-aarch64.so.1`);
}

/** What one scenario run measured. */
export interface ScenarioResult {
  /** From spawning the process to its mqtt.connected line. */
  readonly startToConnectedMs: number;
  readonly output: string;
}

/** Runs `binary` (under qemu-user when `arm64`) as a device and drives relay then sensor through it. */
export async function runBinaryScenario(
  emulator: Emulator,
  binary: string,
  arm64: boolean,
  dir: string,
  timeoutMs = 60_000,
): Promise<ScenarioResult> {
  const device = emulator.provision(DEMO_ROUTES);
  const controlPort = await findFreePort();
  const configPath = join(dir, `device-${device.device_id}.json`);
  writeFileSync(
    configPath,
    JSON.stringify({
      ...deviceConfig(emulator, device, join(dir, `state-${device.device_id}`)),
      gpio: { backend: "mock", control_port: controlPort },
    }),
  );
  const env = inheritedEnv();
  const command = arm64 ? QEMU_AARCH64 : binary;
  const args = arm64 ? [binary, "run", "--config", configPath] : ["run", "--config", configPath];
  const started = Date.now();
  const child = spawnProcess(command, args, {
    ...env,
    REALER_CLIENT_SECRET: device.client_secret,
    QEMU_LD_PREFIX: ARM64_SYSROOT,
    NO_COLOR: "1",
  });
  let startToConnectedMs = 0;
  try {
    await waitFor("the binary to connect", () => child.output().stdout.includes("mqtt.connected"), timeoutMs);
    startToConnectedMs = Date.now() - started;
    // Subscriptions are made after CONNACK; its first ack shows they are in place, so the
    // desired state below has a session to be queued in.
    await waitFor("the first ack", () => child.output().stdout.includes("ack.received"), timeoutMs);
    const relay = device.routes.find((route) => route.source_type === "command")!.source_id;
    const desired = await emulator.setDesired(device.device_id, relay, "1.0");
    await waitFor(
      "the relay report accepted",
      () => emulator.state.acksOf(device.device_id).find((ack) => ack.desired_id === desired.desiredId && ack.status === "accepted"),
      timeoutMs,
    );
    const line = (await (await fetch(`http://127.0.0.1:${controlPort}/lines/gpiochip0/6`)).json()) as { level: number };
    if (line.level !== 1) throw new Error(`the relay line reads ${line.level} after an accepted report`);
    await fetch(`http://127.0.0.1:${controlPort}/lines/gpiochip0/5`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ level: 1 }),
    });
    await waitFor(
      "the sensor reading accepted",
      () =>
        emulator.state.feedOf(device.device_id).find((e) =>
          e.status === "accepted" && (e.payload as { value?: string }).value === "1.0" && e.routeId !== undefined && e.sourceId !== relay
        ),
      timeoutMs,
    );
  } catch (error) {
    child.kill("SIGTERM");
    await child.exited;
    const { stdout, stderr } = child.output();
    throw new Error(
      `${(error as Error).message}\n--- the binary said:\n${stdout.split("\n").slice(-25).join("\n")}\n${stderr.slice(-2000)}`,
    );
  }
  child.kill("SIGTERM");
  const code = await child.exited;
  if (code !== 0) throw new Error(`the binary exited ${code} after SIGTERM:\n${child.output().stderr}`);
  return { startToConnectedMs, output: child.output().stdout };
}
