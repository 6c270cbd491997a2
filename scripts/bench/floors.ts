// What this machine allows, measured in the same run as the device: one small synced write, and
// the broker's own QoS 1 round trips for a raw MQTT.js client.
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { connectRawClient, loopbackLogin } from "../../test/helpers/raw-mqtt.ts";

/**
 * `rounds` 4 KiB writes, each followed by fdatasync, in a file under `dir`: the floor of one
 * durable event. `pauseMs` idles between them as a device idles between events: on a virtual
 * machine an fsync that follows idle time costs several times one in a tight loop.
 */
export async function fdatasyncSamples(dir: string, rounds: number, pauseMs = 0): Promise<number[]> {
  const folder = mkdtempSync(join(dir, "floor-"));
  const fd = openSync(join(folder, "probe"), "w");
  const block = Buffer.alloc(4096, 1);
  const samples: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      const started = performance.now();
      writeSync(fd, block, 0, block.byteLength, 0);
      fdatasyncSync(fd);
      samples.push(performance.now() - started);
    }
  } finally {
    closeSync(fd);
    rmSync(folder, { recursive: true, force: true });
  }
  return samples;
}

/**
 * The raw broker: a QoS 1 echo (a client publishes to a topic it subscribes, until it receives
 * the message) and a one-way trip (one client publishes, another receives), same TLS listener.
 */
export async function brokerFloors(emulator: Emulator, rounds: number): Promise<{ echo: number[]; oneWay: number[] }> {
  const loop = await emulator.createLoopbackClient();
  const connect = (suffix: string) => connectRawClient(loopbackLogin(loop, emulator.caPem, suffix));
  const sender = await connect("a");
  const receiver = await connect("b");
  await sender.subscribeAsync(loop.topic, { qos: 1 });
  await receiver.subscribeAsync(loop.topic, { qos: 1 });
  const echo: number[] = [];
  const oneWay: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    const echoed = new Promise<number>((resolve) => sender.once("message", () => resolve(performance.now())));
    const arrived = new Promise<number>((resolve) => receiver.once("message", () => resolve(performance.now())));
    await sender.publishAsync(loop.topic, JSON.stringify({ i }), { qos: 1 });
    const [back, there] = await Promise.all([echoed, arrived]);
    echo.push(back - started);
    oneWay.push(there - started);
  }
  await sender.endAsync();
  await receiver.endAsync();
  return { echo, oneWay };
}
