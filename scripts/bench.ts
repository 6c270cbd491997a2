// The durable path, measured: the device runs as its own process (the source under Bun, then
// under Deno, and a compiled binary with --binary PATH), the emulator and its broker outside it.
// Every figure is printed next to its goal and to the floor measured in the same run (one 4 KiB
// write + fdatasync on the same disk, a raw MQTT.js QoS 1 echo and one-way trip on the same
// broker). Numbers and verdicts only: no test asserts on time. Samples go to
// test-results/bench/samples.json and histograms to test-results/bench/report.html.
//
//   npm run bench                       Bun and Deno
//   npm run bench -- --binary dist/realer-edge-linux-x64
//   npm run bench -- --soak 30          adds the memory slope under 50 desired states a second
//   npm run bench -- --only bun         one of bun, deno, binary; --rounds N and --backlog N shorten a run
//   npm run bench -- --profile DIR      a CPU profile (markdown) of each device under Bun, in DIR
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEMO_ROUTES } from "../src/commands/demo-device.ts";
import { DeviceStore } from "../src/state/store.ts";
import type { Emulator, FeedReceived } from "../src/emulator/emulator.ts";
import { findFreePort } from "../src/emulator/free-port.ts";
import { deviceConfig, startEmulator, SWITCH_LINE, tempDir } from "../test/helpers/harness.ts";
import { type DeviceKind, type DeviceProcess, type Memory, sampler, startDevice } from "./bench/device-process.ts";
import { echoCeilingRate, emulatorAckRate } from "./bench/emulator-throughput.ts";
import { brokerFloors, fdatasyncSamples } from "./bench/floors.ts";
import { type FloorCost, floorCost } from "./bench/floor-run.ts";
import { costPer } from "./bench/process-cost.ts";
import { storeWrites } from "./bench/store-writes.ts";
import { memoryFloor } from "./bench/memory-floor.ts";
import { histogramPage } from "./bench/report.ts";
import { pressToRelay } from "./bench/local-control.ts";
import { type MemorySample, renderTable, retainedLows, type Row, slopePerHour, summarize } from "./bench/stats.ts";
import { addToOutbox } from "../test/helpers/state.ts";

const { values } = parseArgs({
  options: {
    binary: { type: "string" },
    soak: { type: "string" },
    rounds: { type: "string" },
    backlog: { type: "string" },
    only: { type: "string" },
    profile: { type: "string" },
  },
});
const ROUNDS = Number(values.rounds ?? 1000);
/**
 * Every this many rounds the events pause for QUIET_PAUSE_MS: a field device's quiet moments, at
 * which its WAL is folded into the file (after 1,024 writes, see src/state/checkpoints.ts), so the
 * bytes per event include checkpoints as often as a device sees them, not one per phase.
 */
const QUIET_EVERY = 250;
const QUIET_PAUSE_MS = 400;
/** How long the device is left idle to measure its CPU at rest. */
const IDLE_MS = 10_000;
/**
 * The SD card a reading's writes are weighed against: 16 GB written 500 times over (a
 * conservative endurance for a consumer card), with nothing allowed for the card's own write
 * amplification.
 */
const CARD = { label: "16 GB SD card good for 8 TB written", bytes: 16e9 * 500 };
const WARMUP = 30;
const BACKLOG = Number(values.backlog ?? 10_000);
const SOAK_MIN = Number(values.soak ?? 0);
// The catalog's publish rate is raised so the drain measures the outbox, not the limit it honours.
const DRAIN_RATE = 100_000;

const kinds: { name: string; kind: DeviceKind }[] = [];
// --only bun, deno or binary runs that one (the binary needs --binary PATH).
if (values.only === undefined || values.only === "bun") kinds.push({ name: "bun (source)", kind: { runtime: "bun" } });
if (values.only === undefined || values.only === "deno") kinds.push({ name: "deno (source)", kind: { runtime: "deno" } });
if (values.binary) kinds.push({ name: `binary ${values.binary}`, kind: { binary: values.binary } });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** Arrival times of reports at the emulator, by desired_id and by sensor reading. */
function watchArrivals(emulator: Emulator, deviceId: number) {
  const byDesired = new Map<string, number>();
  const readings: { at: number; value: string }[] = [];
  const off = emulator.onFeedReceived((received: FeedReceived) => {
    if (received.deviceId !== deviceId) return;
    const payload = JSON.parse(received.payload.toString("utf8")) as { desired_id?: string; value: string };
    if (payload.desired_id !== undefined) byDesired.set(payload.desired_id, received.arrivedAt);
    else readings.push({ at: received.arrivedAt, value: payload.value });
  });
  return { byDesired, readings, off };
}

async function launch(
  emulator: Emulator,
  kind: DeviceKind,
  stateDir: string,
  backlogDevice?: ReturnType<Emulator["provision"]>,
  readyEvent = "mqtt.connected",
  configure: (routes: Record<string, unknown>[]) => Record<string, unknown>[] = (routes) => routes,
  wrap: readonly string[] = [],
) {
  const device = backlogDevice ?? emulator.provision(DEMO_ROUTES);
  const port = await findFreePort();
  const dir = tempDir("bench-config");
  const base = deviceConfig(emulator, device, stateDir);
  // A field board names its relays as outputs, so they are held at boot before any network.
  const outputs = new Set(DEMO_ROUTES.filter((route) => route.source_type === "command").map((route) => route.pin_port));
  const config = {
    ...base,
    routes: configure(base.routes.map((route) => (outputs.has(route.pin_port) ? { ...route, direction: "output" as const } : route))),
    log: { level: "info", format: "json" },
    gpio: { backend: "mock", control_port: port },
    outbox: { max_messages: 4 * BACKLOG, max_bytes: 256 * 1024 * 1024 },
  };
  const path = join(dir.path, "device.json");
  writeFileSync(path, JSON.stringify(config));
  const spawnedAt = Date.now();
  const proc = startDevice(kind, path, { REALER_CLIENT_SECRET: device.client_secret }, values.profile, wrap);
  const connected = await until("the device to connect", () => proc.lines().find((line) => line.event === readyEvent), 60_000).catch(
    (error: unknown) => {
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}; the device said:\n${proc.tail().split("\n").slice(-8).join("\n")}`,
      );
    },
  );
  return { device, port, proc, connected, dir, spawnedAt };
}

interface Measured {
  readonly name: string;
  readonly rows: Row[];
  readonly samples: Record<string, number[]>;
}

async function measure(
  emulator: Emulator,
  name: string,
  kind: DeviceKind,
  floors: { sync: number[]; echo: number[]; oneWay: number[]; controlRtt: number[]; memory: Memory; device: FloorCost },
): Promise<Measured> {
  const stateDir = tempDir("bench-state");
  const { device, port, proc, connected, dir, spawnedAt } = await launch(emulator, kind, stateDir.path);
  const startToConnack = Date.parse(String(connected.time)) - spawnedAt;
  // Every output held at its power-on level (the actuator's claim), from the device's own log.
  // NaN (judged missed) when the log shows no claim.
  const claims = proc.lines().filter((line) => line.event === "line.power_on").map((line) => Date.parse(String(line.time)));
  const outputsClaimed = claims.length === 0 ? Number.NaN : Math.max(...claims) - spawnedAt;
  const relay = device.routes.find((route) => route.source_type === "command")!.source_id;
  const arrivals = watchArrivals(emulator, device.device_id);
  const control = `http://127.0.0.1:${port}/lines/${SWITCH_LINE.chip}/${SWITCH_LINE.offset}`;
  try {
    await sleep(2000);
    const idleMemory = proc.memory();
    const idle = idleMemory.rss;
    // CPU while nothing happens: timers, keepalives, the health report.
    const idleFrom = proc.cost();
    const idleStarted = performance.now();
    await sleep(IDLE_MS);
    const idleCpu = (proc.cost().cpuMs - idleFrom.cpuMs) / ((performance.now() - idleStarted) / 1000);
    // 1. Desired published → report at the emulator, and the device's own share.
    const roundTrip: number[] = [];
    const ids: string[] = [];
    let desiredFrom = proc.cost();
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      if (i === WARMUP) desiredFrom = proc.cost();
      if (i > WARMUP && (i - WARMUP) % QUIET_EVERY === 0) await sleep(QUIET_PAUSE_MS);
      const started = performance.now();
      const desired = await emulator.setDesired(device.device_id, relay, i % 2 === 0 ? "1.0" : "0.0");
      const at = await until("the report", () => arrivals.byDesired.get(desired.desiredId));
      if (i >= WARMUP) {
        roundTrip.push(at - started);
        ids.push(desired.desiredId);
      }
    }
    // A quiet moment's checkpoint of the last events is theirs.
    await sleep(QUIET_PAUSE_MS + 200);
    const perDesired = costPer(desiredFrom, proc.cost(), ROUNDS);
    const wanted = new Set(ids);
    const applied = proc.lines().filter((line) => line.event === "desired.applied" && wanted.has(String(line.desired_id)));
    const share = applied.map((line) => Number(line.took_ms));
    const commit = applied.map((line) => Number(line.commit_ms));
    // 2. Input edge → reading at the emulator (the edge is a pull through the mock's control port).
    const edge: number[] = [];
    let edgeFrom = proc.cost();
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      if (i === WARMUP) edgeFrom = proc.cost();
      if (i > WARMUP && (i - WARMUP) % QUIET_EVERY === 0) await sleep(QUIET_PAUSE_MS);
      const seen = arrivals.readings.length;
      const started = performance.now();
      await fetch(control, { method: "PUT", body: JSON.stringify({ level: i % 2 === 0 ? 1 : 0 }) }).then((answer) => answer.arrayBuffer());
      const at = await until("the reading", () => arrivals.readings[seen]?.at);
      if (i >= WARMUP) edge.push(at - started);
    }
    await sleep(QUIET_PAUSE_MS + 200);
    const perEdge = costPer(edgeFrom, proc.cost(), ROUNDS);
    // 3. Memory under 50 desired states a second, for 10 s (or the soak).
    const rss = sampler(() => proc.memory().rss, 100);
    const loadMs = SOAK_MIN > 0 ? SOAK_MIN * 60_000 : 10_000;
    const loadStarted = performance.now();
    const slope: MemorySample[] = [];
    for (let i = 0; performance.now() - loadStarted < loadMs; i++) {
      void emulator.setDesired(device.device_id, relay, i % 2 === 0 ? "1.0" : "0.0");
      if (i % 50 === 0) slope.push({ t: (performance.now() - loadStarted) / 3_600_000, mib: proc.memory().rss });
      await sleep(20);
    }
    const underLoad = rss.stop();
    const s = summarize(roundTrip);
    const d = summarize(share);
    const e = summarize(edge);
    const sync = summarize(floors.sync);
    const echo = summarize(floors.echo);
    const oneWay = summarize(floors.oneWay);
    const rtt = summarize(floors.controlRtt);
    const floor = floors.device.perEvent;
    const floorTrip = summarize(floors.device.roundTrip);
    const rows: Row[] = [
      {
        figure: "CPU per desired state (its report and ack included)",
        measured: perDesired.cpuMs,
        unit: "ms",
        goal: { value: 1.2 * floor.cpuMs, kind: "max", how: "1.2 × the floor device's" },
      },
      { figure: "  of which its JavaScript thread (the rest: JIT, GC, runtime threads)", measured: perDesired.mainCpuMs, unit: "ms" },
      { figure: "  the floor device's (same runtime, same run)", measured: floor.cpuMs, unit: "ms" },
      { figure: "    of which its JavaScript thread", measured: floor.mainCpuMs, unit: "ms" },
      { figure: "  the device over the floor", measured: perDesired.cpuMs / floor.cpuMs, unit: "×" },
      {
        figure: "CPU per input edge (its reading and ack)",
        measured: perEdge.cpuMs,
        unit: "ms",
        goal: { value: floor.cpuMs, kind: "max", how: "1.0 × the floor's per-event cost" },
      },
      { figure: "  of which its JavaScript thread", measured: perEdge.mainCpuMs, unit: "ms" },
      {
        figure: "bytes to disk per desired state",
        measured: perDesired.diskBytes / 1024,
        unit: "KiB",
        goal: { value: 8, kind: "max", how: "issue goal" },
      },
      { figure: "  through write calls (the page cache included)", measured: perDesired.writtenBytes / 1024, unit: "KiB" },
      { figure: "  the floor device's", measured: floor.diskBytes / 1024, unit: "KiB" },
      {
        figure: "bytes to disk per input edge",
        measured: perEdge.diskBytes / 1024,
        unit: "KiB",
        goal: { value: 4, kind: "max", how: "issue goal" },
      },
      ...[1, 10, 100].map((rate): Row => ({
        figure: `  a ${CARD.label} at ${rate} reading(s) a second lasts`,
        measured: CARD.bytes / (perEdge.diskBytes * rate * 365.25 * 86_400),
        unit: "years",
      })),
      {
        figure: "CPU idle",
        measured: idleCpu,
        unit: "ms/s",
        goal: { value: 0.5, kind: "max", how: "issue goal" },
      },
      { figure: "  the floor device's (an MQTT.js TLS client at rest)", measured: floors.device.idleCpuMsPerS, unit: "ms/s" },
      {
        figure: "the floor device: desired published → report, p50",
        measured: floorTrip.p50,
        unit: "ms",
      },
      {
        figure: "device's share, desired arrival → report out, p50",
        measured: d.p50,
        unit: "ms",
        goal: { value: sync.p50 + 0.15, kind: "max", how: "paced fdatasync p50 + 0.15 ms" },
      },
      { figure: "  of which the answer's commit and send, p50", measured: summarize(commit).p50, unit: "ms" },
      {
        figure: "desired published → report at emulator, p50",
        measured: s.p50,
        unit: "ms",
        goal: { value: 1.3 * (echo.p50 + sync.p50), kind: "max", how: "1.3 × (raw echo + fdatasync) p50" },
      },
      {
        figure: "desired published → report at emulator, p99",
        measured: s.p99,
        unit: "ms",
        goal: { value: 2 * (echo.p99 + sync.p99), kind: "max", how: "2 × (raw echo + fdatasync) p99" },
      },
      {
        figure: "input edge → reading at emulator, p50",
        measured: e.p50,
        unit: "ms",
        goal: { value: oneWay.p50 + rtt.p50 + 0.1, kind: "max", how: "one-way + control-port hop + 0.1 ms" },
      },
      { figure: "RSS idle", measured: idle, unit: "MiB", goal: { value: 56, kind: "max", how: "x64 binary goal" } },
      { figure: "  of which private (heaps, buffers)", measured: idleMemory.anon, unit: "MiB" },
      { figure: "  of which mapped files (the runtime's code)", measured: idleMemory.file, unit: "MiB" },
      {
        figure: "an MQTT.js TLS client alone, same kind, idle (floor)",
        measured: floors.memory.rss,
        unit: "MiB",
      },
      { figure: "  of which private", measured: floors.memory.anon, unit: "MiB" },
      { figure: "RSS idle beyond that floor", measured: idle - floors.memory.rss, unit: "MiB" },
      {
        figure: `RSS peak, 50 desired/s for ${Math.round(loadMs / 1000)} s`,
        measured: Math.max(...underLoad),
        unit: "MiB",
        goal: { value: 72, kind: "max", how: "x64 binary goal" },
      },
      {
        figure: "process start → CONNACK",
        measured: startToConnack,
        unit: "ms",
        goal: { value: 100, kind: "max", how: "x64 binary goal" },
      },
      {
        figure: "process start → every output claimed",
        measured: outputsClaimed,
        unit: "ms",
        goal: { value: 50, kind: "max", how: "x64 binary goal" },
      },
    ];
    if (SOAK_MIN > 0 && slope.length > 2) {
      // The heap first grows to its working size under load, then saws up and down around it as
      // the collector runs: a leak shows as lows that climb, not as a sawtooth's peaks.
      const warmup = Math.min(5, SOAK_MIN / 6) / 60;
      rows.push({ figure: `RSS slope, every sample of ${SOAK_MIN} min (MiB/h)`, measured: slopePerHour(slope), unit: "MiB" });
      rows.push({
        figure: `RSS slope of each minute's low after ${Math.round(warmup * 60)} min`,
        measured: slopePerHour(retainedLows(slope, warmup, 1 / 60)),
        unit: "MiB",
        goal: { value: 1, kind: "max", how: "under 1 MiB an hour" },
      });
    }
    return { name, rows, samples: { roundTrip, share, commit, edge } };
  } finally {
    arrivals.off();
    await proc.stop();
    stateDir.remove();
    dir.remove();
  }
}

async function drain(emulator: Emulator, kind: DeviceKind, ceiling: number): Promise<{ rows: Row[]; rate: number }> {
  const stateDir = tempDir("bench-backlog");
  const device = emulator.provision(DEMO_ROUTES);
  const topic = device.routes.find((route) => route.source_type === "sensor")!.feed_data_topic;
  const store = await DeviceStore.open(stateDir.path);
  const now = Date.now();
  for (let i = 0; i < BACKLOG; i++) {
    addToOutbox(
      store,
      topic,
      1,
      { message_id: `backlog-${i}`, value: String(i % 100), value_received_at: new Date(now + i).toISOString() },
      now,
    );
  }
  store.close();
  const arrivals = watchArrivals(emulator, device.device_id);
  let proc: DeviceProcess | undefined;
  let dir: { remove: () => void } | undefined;
  try {
    const launched = await launch(emulator, kind, stateDir.path, device);
    proc = launched.proc;
    dir = launched.dir;
    const rss = sampler(() => proc!.memory().rss, 50);
    const idle = proc.memory().rss;
    await until("the backlog to arrive", () => arrivals.readings.length >= BACKLOG, 600_000);
    const peak = Math.max(...rss.stop());
    const first = arrivals.readings[0]!.at;
    const last = arrivals.readings[BACKLOG - 1]!.at;
    const rate = BACKLOG / ((last - first) / 1000);
    return {
      rate,
      rows: [
        {
          figure: `outbox drain of ${BACKLOG} over MQTT (max_inflight 20)`,
          measured: rate,
          unit: "msg/s",
          goal: { value: 5000, kind: "min", how: "issue goal" },
        },
        {
          figure: "  the same as a share of the bare echo at 20 in flight",
          measured: (100 * rate) / ceiling,
          unit: "%",
        },
        {
          figure: "RSS peak during the drain",
          measured: peak,
          unit: "MiB",
          goal: { value: idle + 16, kind: "max", how: `idle at connect (${idle.toFixed(1)}) + 16 MiB` },
        },
      ],
    };
  } finally {
    arrivals.off();
    await proc?.stop();
    dir?.remove();
    stateDir.remove();
  }
}

/** A backlog's drain over the HTTPS runtime (MQTT withheld): feed-data/batches, one request at a time. */
async function drainHttps(emulator: Emulator, kind: DeviceKind): Promise<Row> {
  const stateDir = tempDir("bench-https-backlog");
  const device = emulator.provision(DEMO_ROUTES);
  emulator.mqttWithheld.add(device.device_id);
  const topic = device.routes.find((route) => route.source_type === "sensor")!.feed_data_topic;
  const store = await DeviceStore.open(stateDir.path);
  const now = Date.now();
  for (let i = 0; i < BACKLOG; i++) {
    addToOutbox(store, topic, 1, {
      message_id: `https-backlog-${i}`,
      value: String(i % 100),
      value_received_at: new Date(now + i).toISOString(),
    }, now);
  }
  store.close();
  const times: number[] = [];
  const off = emulator.state.events.on("feed", (entry) => {
    if (
      entry.deviceId === device.device_id &&
      (entry.payload as { message_id?: string } | undefined)?.message_id?.startsWith("https-backlog-")
    ) times.push(performance.now());
  });
  let launched: Awaited<ReturnType<typeof launch>> | undefined;
  try {
    launched = await launch(emulator, kind, stateDir.path, device, "https.started");
    await until("the HTTPS backlog to arrive", () => times.length >= BACKLOG, 600_000);
    const rate = BACKLOG / ((times[BACKLOG - 1]! - times[0]!) / 1000);
    return {
      figure: `outbox drain of ${BACKLOG} over HTTPS (feed-data/batches)`,
      measured: rate,
      unit: "msg/s",
      goal: { value: 1000, kind: "min", how: "issue goal" },
    };
  } finally {
    off();
    emulator.mqttWithheld.delete(device.device_id);
    await launched?.proc.stop();
    launched?.dir.remove();
    stateDir.remove();
  }
}

const { emulator, stop } = await startEmulator({ max_publish_per_second: DRAIN_RATE });
const out = "test-results/bench";
mkdirSync(out, { recursive: true });
try {
  const floorDir = tempDir("bench-floor");
  const tight = (await fdatasyncSamples(floorDir.path, WARMUP + ROUNDS)).slice(WARMUP);
  // Paced like the device's events (each round trip leaves the device idle for a few ms).
  const sync = (await fdatasyncSamples(floorDir.path, WARMUP + ROUNDS, 3)).slice(WARMUP);
  floorDir.remove();
  const broker = await brokerFloors(emulator, WARMUP + ROUNDS);
  const echo = broker.echo.slice(WARMUP);
  const oneWay = broker.oneWay.slice(WARMUP);
  console.log(
    `floors (same run): 4 KiB write + fdatasync p50 ${summarize(sync).p50.toFixed(3)} ms p99 ${
      summarize(sync).p99.toFixed(3)
    } ms paced 3 ms apart as events are (in a tight loop: p50 ${summarize(tight).p50.toFixed(3)} ms); raw QoS 1 echo p50 ${
      summarize(echo).p50.toFixed(3)
    } ms p99 ${summarize(echo).p99.toFixed(3)} ms; one-way p50 ${summarize(oneWay).p50.toFixed(3)} ms`,
  );
  const raw = emulator.provision(DEMO_ROUTES);
  const ackRate = await emulatorAckRate(emulator, raw.device_id, BACKLOG);
  const ceiling = await echoCeilingRate(emulator, BACKLOG);
  // The same at the drain's window (the catalog's max_inflight): what a drain can reach here.
  const drainCeiling = await echoCeilingRate(emulator, BACKLOG, 20);
  console.log(
    `\n${
      renderTable("the emulator", [{
        figure: `acks to a raw client (its own process), ${BACKLOG} reports, 100 in flight`,
        measured: ackRate,
        unit: "msg/s",
        goal: { value: 10_000, kind: "min", how: "never the bottleneck" },
      }, {
        figure: "the same client against a bare echo service (ceiling)",
        measured: ceiling,
        unit: "msg/s",
      }, {
        figure: "  the same at 20 in flight (a drain's ceiling)",
        measured: drainCeiling,
        unit: "msg/s",
      }])
    }\n  the emulator reaches ${(100 * ackRate / ceiling).toFixed(0)}% of the bare echo service's rate`,
  );
  const results: Measured[] = [];
  for (const { name, kind } of kinds) {
    // The hop into the mock's control port, measured against this device: part of every edge.
    const probe = await launch(emulator, kind, tempDir("bench-probe").path);
    const controlRtt: number[] = [];
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      const started = performance.now();
      await fetch(`http://127.0.0.1:${probe.port}/lines/gpiochip0/20`).then((answer) => answer.arrayBuffer());
      if (i >= WARMUP) controlRtt.push(performance.now() - started);
    }
    await probe.proc.stop();
    probe.dir.remove();
    const floorDir = tempDir("bench-memory-floor");
    const memory = await memoryFloor(emulator, kind, floorDir.path).finally(() => floorDir.remove());
    const floorDeviceDir = tempDir("bench-floor-device");
    const device = await floorCost(emulator, kind, floorDeviceDir.path, WARMUP, ROUNDS, IDLE_MS).finally(() => floorDeviceDir.remove());
    const measured = await measure(emulator, name, kind, { sync, echo, oneWay, controlRtt, memory, device });
    const localState = tempDir("bench-local");
    try {
      measured.rows.push(
        ...await pressToRelay(
          emulator,
          (configure, wrap) => launch(emulator, kind, localState.path, undefined, "mqtt.connected", configure, wrap),
          200,
        ),
      );
    } finally {
      localState.remove();
    }
    const drained = await drain(emulator, kind, drainCeiling);
    measured.rows.push(...drained.rows, await drainHttps(emulator, kind));
    measured.samples.controlRtt = controlRtt;
    results.push(measured);
    console.log(`\n${renderTable(`${name}: ${ROUNDS} rounds after ${WARMUP} warm-up`, measured.rows)}`);
  }
  // The state file alone, in this process (Bun or Deno, whichever runs the bench): bytes per event
  // at a field pace, the same run to run.
  const storeDir = tempDir("bench-store-writes");
  try {
    const reading = await storeWrites(storeDir.path, "reading", 1_000, 2_000);
    const rows: Row[] = [
      {
        figure: "a desired state's answer, ledger of 1,000",
        measured: await storeWrites(storeDir.path, "desired", 1_000, 2_000),
        unit: "KiB",
      },
      { figure: "the same, ledger full (10,000)", measured: await storeWrites(storeDir.path, "desired", 10_000, 2_000), unit: "KiB" },
      { figure: "a reading", measured: reading, unit: "KiB" },
      ...[1, 10, 100].map((rate): Row => ({
        figure: `  a ${CARD.label} at ${rate} reading(s) a second lasts`,
        measured: CARD.bytes / (reading * 1024 * rate * 365.25 * 86_400),
        unit: "years",
      })),
    ];
    console.log(`\n${renderTable("the state file alone, a second between events: bytes to disk per event", rows)}`);
  } finally {
    storeDir.remove();
  }
  const samples = {
    floors: { fdatasync: sync, fdatasyncTight: tight, echo, oneWay },
    devices: results.map((r) => ({ name: r.name, rows: r.rows, samples: r.samples })),
  };
  writeFileSync(join(out, "samples.json"), JSON.stringify(samples));
  writeFileSync(join(out, "report.html"), histogramPage(samples));
  console.log(`\nsamples: ${out}/samples.json; histograms: ${out}/report.html`);
} finally {
  await stop();
}
process.exit(0);
