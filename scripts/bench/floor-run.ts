// Runs the floor device (floor-device.ts) on the runtime of the device being measured and drives
// it as the cloud would: a desired state, its report back, the ack; returns what each one cost the
// floor (CPU, bytes to disk) and its round trips, measured as the device's are.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { connectRawClient, loopbackLogin } from "../../test/helpers/raw-mqtt.ts";
import { BUN, DENO, type DeviceKind } from "./device-process.ts";
import { costPer, type ProcessCost, readCost } from "./process-cost.ts";

const SCRIPT = fileURLToPath(new URL("./floor-device.ts", import.meta.url));

/** What the floor measured. */
export interface FloorCost {
  /** Per desired state, its report and ack included. */
  readonly perEvent: ProcessCost;
  /** Desired published → report received, ms. */
  readonly roundTrip: number[];
  /** CPU while nothing happens, ms per second: the runtime and an MQTT.js TLS client at rest. */
  readonly idleCpuMsPerS: number;
}

/**
 * `rounds` desired states after `warmup`, one at a time as the device's are, against the floor
 * device on `kind`'s runtime (a compiled binary's is Bun), its database in `dir`.
 */
export async function floorCost(
  emulator: Emulator,
  kind: DeviceKind,
  dir: string,
  warmup: number,
  rounds: number,
  idleMs: number,
): Promise<FloorCost> {
  const loop = await emulator.createLoopbackClient(["desired", "report", "ack"]);
  const job = join(dir, "floor.json");
  writeFileSync(
    job,
    JSON.stringify({ login: loopbackLogin(loop, emulator.caPem, "floor"), topic: loop.topic, db: join(dir, "floor.sqlite") }),
  );
  const command = "runtime" in kind && kind.runtime === "deno" ? [DENO, "run", "--allow-all", SCRIPT, job] : [BUN, SCRIPT, job];
  const child = spawn(command[0]!, command.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
  const cloud = await connectRawClient(loopbackLogin(loop, emulator.caPem, "cloud"));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
      child.on("exit", (code) => reject(new Error(`the floor device exited ${code}`)));
    });
    await cloud.subscribeAsync(`${loop.topic}/report`, { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idleFrom = readCost(child.pid!);
    const idleStarted = performance.now();
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const idleCpuMsPerS = (readCost(child.pid!).cpuMs - idleFrom.cpuMs) / ((performance.now() - idleStarted) / 1000);
    const roundTrip: number[] = [];
    let before: ProcessCost | undefined;
    for (let i = 0; i < warmup + rounds; i++) {
      if (i === warmup) before = readCost(child.pid!);
      const id = `des_floor_${i}`;
      const started = performance.now();
      const reported = new Promise<string>((resolve) =>
        cloud.once("message", (_topic, payload) => resolve((JSON.parse(payload.toString("utf8")) as { message_id: string }).message_id))
      );
      await cloud.publishAsync(`${loop.topic}/desired`, JSON.stringify({ desired_id: id, value: i % 2 === 0 ? "1.0" : "0.0" }), { qos: 1 });
      const messageId = await reported;
      if (i >= warmup) roundTrip.push(performance.now() - started);
      await cloud.publishAsync(`${loop.topic}/ack`, JSON.stringify({ message_id: messageId, status: "accepted" }), { qos: 1 });
    }
    // The last ack's delete, before the reading.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { perEvent: costPer(before!, readCost(child.pid!), rounds), roundTrip, idleCpuMsPerS };
  } finally {
    await cloud.endAsync();
    child.kill("SIGTERM");
  }
}
