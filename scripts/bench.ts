// Prints, from one run: the desired → line active → ack round trip of the device runtime,
// next to the raw round trip of an MQTT.js echo over the same TLS broker, and their ratio;
// then how fast the outbox drains a backlog. Numbers only, no pass/fail.
import mqtt from "mqtt";
import { DeviceStore } from "../src/device/store.ts";
import { withNoDelay } from "../src/mqtt/no-delay.ts";
import { runtimeVersion } from "../src/runtime/index.ts";
import { RELAY_LINE, startDevice, startEmulator, tempDir, waitFor } from "../test/helpers/harness.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 300);
const WARMUP = 30;
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 10_000);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function summary(samples: readonly number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, x) => sum + x, 0) / sorted.length;
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean };
}

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

// The catalog's publish rate is raised so the drain measures the outbox, not the limit it
// honours (at the emulator's default of 20 per second, 10,000 messages take 500 s).
const DRAIN_RATE = 100_000;
const { emulator, stop } = await startEmulator({ max_publish_per_second: DRAIN_RATE });
try {
  // 1. The device path: operator publishes a desired state; the device applies it to the line,
  //    reads it back, publishes its report; the emulator acks; the device receives the ack.
  const dev = await startDevice(emulator);
  const relay = dev.device.routes.find((route) => route.source_type === "command")!.source_id;
  await waitFor("online", () => dev.seen.online.length > 0);
  const device: number[] = [];
  const lineActive: number[] = [];
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    const value = i % 2 === 0 ? "1.0" : "0.0";
    const started = performance.now();
    let activeAt = 0;
    const offDesired = dev.runtime.events.on("desired", () => (activeAt = performance.now()));
    const acked = new Promise<void>((resolve) => {
      const off = dev.runtime.events.on("settled", (settled) => {
        if (settled.payload?.desired_id === undefined) return;
        off();
        resolve();
      });
    });
    await emulator.setDesired(dev.device.device_id, relay, value);
    await acked;
    offDesired();
    if (dev.mock.getLevel(RELAY_LINE) !== (value === "1.0" ? 1 : 0)) throw new Error("the line does not hold the desired value");
    if (i >= WARMUP) {
      device.push(performance.now() - started);
      lineActive.push(activeAt - started);
    }
  }
  await dev.stop();

  // 2. The baseline: one MQTT.js client publishes QoS 1 to a topic it subscribes, same broker, same TLS.
  const loop = await emulator.createLoopbackClient();
  const client = await mqtt.connectAsync(withNoDelay({ protocol: "mqtts", host: "127.0.0.1", port: loop.port, ca: emulator.caPem, protocolVersion: 5, username: loop.username, password: loop.password.reveal(), reconnectPeriod: 0 }));
  await client.subscribeAsync(loop.topic, { qos: 1 });
  const raw: number[] = [];
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    const started = performance.now();
    const received = new Promise<void>((resolve) => client.once("message", () => resolve()));
    await client.publishAsync(loop.topic, JSON.stringify({ i }), { qos: 1 });
    await received;
    if (i >= WARMUP) raw.push(performance.now() - started);
  }
  await client.endAsync();

  const d = summary(device);
  const l = summary(lineActive);
  const r = summary(raw);
  console.log(`rounds: ${ROUNDS} (after ${WARMUP} warm-up), ${runtimeVersion()}`);
  console.log(`desired → line active            p50 ${fmt(l.p50)}  p99 ${fmt(l.p99)}`);
  console.log(`desired → line active → ack       p50 ${fmt(d.p50)}  p99 ${fmt(d.p99)}  mean ${fmt(d.mean)}`);
  console.log(`raw MQTT.js echo (QoS 1, TLS)     p50 ${fmt(r.p50)}  p99 ${fmt(r.p99)}  mean ${fmt(r.mean)}`);
  console.log(`ratio device / raw                p50 ${(d.p50 / r.p50).toFixed(2)}x  p99 ${(d.p99 / r.p99).toFixed(2)}x`);

  // 3. Outbox drain: a backlog of readings recorded while offline, sent once connected.
  const dir = tempDir("bench-backlog");
  const backlogged = emulator.provision([{ source_type: "command", pin_port: "6" }, { source_type: "sensor", pin_port: "5" }]);
  const topic = backlogged.routes[1]!.feed_data_topic;
  const store = await DeviceStore.open(dir.path);
  const now = Date.now();
  for (let i = 0; i < BACKLOG; i++) {
    store.addToOutbox(topic, 1, { message_id: `backlog-${i}`, value: String(i % 100), value_received_at: new Date(now + i).toISOString() }, now);
  }
  store.close();
  const started = performance.now();
  const drained = await startDevice(emulator, { device: backlogged, stateDir: dir.path, outboxMaxMessages: 2 * BACKLOG });
  await waitFor("the backlog to drain", () => drained.runtime.outboxDepth === 0, 600_000);
  const seconds = (performance.now() - started) / 1000;
  const accepted = emulator.state.feedOf(backlogged.device_id).filter((entry) => entry.status === "accepted").length;
  await drained.stop();
  dir.remove();
  console.log(`outbox drain: ${BACKLOG} messages in ${seconds.toFixed(2)} s = ${Math.round(BACKLOG / seconds)} msg/s (accepted at the emulator: ${accepted}; catalog max_publish_per_second raised to ${DRAIN_RATE}, max_inflight 20)`);
} finally {
  await stop();
}
process.exit(0);
