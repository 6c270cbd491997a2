// Runs inside the arm64 VM: the emulator (`realer-edge emulator`, with mosquitto for arm64) and
// the device runtime (`realer-edge run`, cdev backend on gpio-sim lines), both the compiled
// arm64 binary, driven through the emulator's operator API and gpio-sim's pulls and values.
// Prints one line per check for the host test:  LOOP ok|fail <name>[: <why>],  MEASURE …
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createFetch, loadLibc } from "../../../src/platform/index.ts";
import { samplePin, simDir, simPull, simValue } from "./gpio-sim.ts";

const BINARY = "/opt/realer-edge";
const label = process.env.SIM_LABEL!;
const RELAY = 6;
const SWITCH = 5;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function verdict(name: string, ok: boolean, why = ""): void {
  console.log(ok ? `LOOP ok ${name}` : `LOOP fail ${name}: ${why.replaceAll("\n", " ")}`);
}

interface Proc {
  readonly child: ChildProcess;
  output(): string;
}

function start(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(BINARY, args, { env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  return { child, output: () => text };
}

async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const exited = (proc: Proc) =>
  new Promise<number | null>((
    resolve,
  ) => (proc.child.exitCode !== null ? resolve(proc.child.exitCode) : proc.child.on("exit", (code) => resolve(code))));

/** A guest emulator: its process, API, CA file and a caller of its operator API. */
interface GuestEmulator {
  readonly proc: Proc;
  readonly api: string;
  readonly caFile: string;
  operator(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
}

/** Starts `realer-edge emulator` with its state in `stateDir` on `port`, and waits until it says it is ready. */
async function startEmulatorProcess(stateDir: string, port: number): Promise<GuestEmulator> {
  const proc = start(["emulator", "--state-dir", stateDir, "--port", String(port)]);
  const ready = await waitFor(`the emulator in ${stateDir}`, () => {
    if (proc.child.exitCode !== null) throw new Error(`the emulator exited ${proc.child.exitCode}`);
    return /emulator\.ready.*?api=(\S+).*?ca_file=(\S+)/.exec(proc.output()) ?? undefined;
  }, 120_000).catch((error: Error) => {
    throw new Error(`${error.message} ${proc.output().slice(-1500)}`);
  });
  const api = ready[1]!.replace(/"/g, "");
  const caFile = ready[2]!.replace(/"/g, "");
  const http = createFetch(readFileSync(caFile, "utf8"));
  const operator = async (method: string, path: string, body?: unknown) => {
    const response = await http(`${api}/_emulator${path}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return await response.json() as Record<string, unknown>;
  };
  return { proc, api, caFile, operator };
}

/** Writes the config of a device on the cdev backend, served by `cloud`, to `path`. */
function writeCdevConfig(
  path: string,
  cloud: GuestEmulator,
  device: { device_id: number; client_id: string },
  stateDir: string,
  routes: unknown[],
): void {
  writeFileSync(
    path,
    JSON.stringify({
      api_url: cloud.api,
      device_id: device.device_id,
      client_id: device.client_id,
      client_secret: { env: "REALER_CLIENT_SECRET" },
      ca_file: cloud.caFile,
      state_dir: stateDir,
      log: { level: "info", format: "text" },
      gpio: { backend: "cdev" },
      routes,
    }),
  );
}

// 0. A clock that is wrong at boot, on a real kernel. The guest's clock is set two days back (a
// board that booted with the time of its last shutdown; the kernel says unsynchronised) and a
// separate emulator starts on it, so its certificates hold. The runtime believes its clock only
// as far as the cloud's Date header agrees; then the clock is set right (NTP would) and marked
// synchronised through adjtimex: the runtime logs the jump, trusts the kernel, and stamps a reading
// with the right time.
const REAL_NOW = Date.now();
const REAL_AT = performance.now();
const TWO_DAYS_S = 2 * 86_400;
const setClock = (epochMs: number) => spawnSync("date", ["-s", `@${Math.round(epochMs / 1000)}`]);
/** Clears STA_UNSYNC (with a small max error), as an NTP daemon does once it has synchronised. */
async function markSynchronised(): Promise<number> {
  const timex = new Uint8Array(256);
  const view = new DataView(timex.buffer);
  view.setUint32(0, 0x0010 | 0x0004, true); // modes: ADJ_STATUS | ADJ_MAXERROR
  view.setBigInt64(24, 0n, true); // maxerror
  view.setInt32(40, 0, true); // status: STA_UNSYNC cleared
  return (await loadLibc()).adjtimex(timex);
}
try {
  setClock(REAL_NOW - TWO_DAYS_S * 1000);
  const clockCloud = await startEmulatorProcess("/tmp/clock-state", 8444);
  const clockOperator = clockCloud.operator;
  const clockDevice = await clockOperator("POST", "/devices", { routes: [{ source_type: "sensor", kind: "switch", pin_port: "4" }] }) as {
    device_id: number;
    client_id: string;
    client_secret: string;
  };
  writeCdevConfig("/tmp/clock-device.json", clockCloud, clockDevice, "/tmp/clock-device-state", [{
    pin_port: "4",
    line: { chip: label, offset: 4 },
    bias: "pull-down",
  }]);
  const clockRuntime = start(["run", "--config", "/tmp/clock-device.json"], { REALER_CLIENT_SECRET: clockDevice.client_secret });
  await waitFor("the clock test's device online", () => clockRuntime.output().includes("mqtt.connected"), 90_000);
  const atBoot = clockRuntime.output();
  verdict(
    "an unsynchronised kernel clock is not believed at boot, and the cloud's Date header then is",
    /clock\.untrusted/.test(atBoot) && /clock\.trusted source="agrees with the cloud"/.test(atBoot),
    atBoot.split("\n").filter((line) => line.includes("clock.")).join(" | "),
  );
  setClock(REAL_NOW + (performance.now() - REAL_AT));
  const synced = await markSynchronised();
  // The runtime asks the kernel at most once a second: give it that second, as NTP's next minutes would.
  await sleep(1500);
  simPull(4, 1);
  await waitFor(
    "the jump and the kernel's word",
    () => /clock\.moved/.test(clockRuntime.output()) && /clock\.trusted source=kernel/.test(clockRuntime.output()),
    30_000,
  );
  const feedNow = async () => ((await clockOperator("GET", `/devices/${clockDevice.device_id}/feed-data`)).feed_data as {
    payload: { value: string; value_received_at: string };
  }[]);
  const reading = await waitFor(
    "the reading after the clock was set",
    async () => (await feedNow()).find((entry) => entry.payload.value === "1.0"),
    30_000,
  );
  const off = Math.abs(Date.parse(reading.payload.value_received_at) - Date.now());
  const moved = clockRuntime.output().split("\n").find((line) => line.includes("clock.moved")) ?? "";
  console.log(`MEASURE vm-clock-moved ${/by_s=(-?\d+)/.exec(moved)?.[1] ?? "?"} s`);
  verdict(
    "the runtime logs the clock being set, trusts the synchronised kernel and stamps readings right",
    synced === 0 && off < 60_000 && /by_s=17\d{4}/.test(moved),
    `adjtimex ${synced}, reading ${off} ms off, ${moved}`,
  );
  clockRuntime.child.kill("SIGTERM");
  await exited(clockRuntime);
  clockCloud.proc.child.kill("SIGTERM");
  await exited(clockCloud.proc);
} catch (error) {
  setClock(REAL_NOW + (performance.now() - REAL_AT));
  verdict("an unsynchronised kernel clock is not believed at boot, and the cloud's Date header then is", false, (error as Error).message);
  verdict(
    "the runtime logs the clock being set, trusts the synchronised kernel and stamps readings right",
    false,
    (error as Error).message,
  );
}

// 1. The emulator.
const emulatorStarted = performance.now();
const cloud = await startEmulatorProcess("/tmp/state", 8443).catch((error: Error) => {
  console.log(`LOOP fail the emulator starts: ${error.message}`);
  return process.exit(1);
});
const { proc: emulator, operator } = cloud;
console.log(`MEASURE vm-emulator-start ${(performance.now() - emulatorStarted).toFixed(0)} ms`);

// 2. A device with a relay and a switch, on gpio-sim lines through the cdev backend.
const device = await operator("POST", "/devices", {
  routes: [{ source_type: "command", kind: "relay", pin_port: "6" }, { source_type: "sensor", kind: "switch", pin_port: "5" }],
}) as {
  device_id: number;
  client_id: string;
  client_secret: string;
  routes: { source_type: string; source_id: string }[];
};
const relay = device.routes.find((route) => route.source_type === "command")!.source_id;
const switchSource = device.routes.find((route) => route.source_type === "sensor")!.source_id;
writeCdevConfig("/tmp/device.json", cloud, device, "/tmp/device-state", [
  { pin_port: "6", line: { chip: label, offset: RELAY }, power_on: "restore" },
  { pin_port: "5", line: { chip: label, offset: SWITCH }, bias: "pull-down", debounce_ms: 5 },
]);
const run = () => start(["run", "--config", "/tmp/device.json"], { REALER_CLIENT_SECRET: device.client_secret });
const acks = async () => ((await operator("GET", `/devices/${device.device_id}/acks`)).acks as { desired_id?: string; status: string }[]);
const feed = async () => ((await operator("GET", `/devices/${device.device_id}/feed-data`)).feed_data as {
  sourceId: string;
  status: string;
  payload: { value: string };
}[]);

let runtime = run();
const runStarted = performance.now();
try {
  await waitFor("mqtt.connected", () => runtime.output().includes("mqtt.connected"), 90_000);
  console.log(`MEASURE vm-device-start-to-connected ${(performance.now() - runStarted).toFixed(0)} ms`);
  await waitFor("the first ack", async () => (await acks()).length > 0);
  verdict("the runtime connects with the cdev backend on gpio-sim lines", true);
} catch (error) {
  verdict(
    "the runtime connects with the cdev backend on gpio-sim lines",
    false,
    `${(error as Error).message} ${runtime.output().slice(-2000)}`,
  );
  process.exit(1);
}

// 3. A desired state turns the simulated line active; the ack comes back accepted.
try {
  const sent = performance.now();
  const desired = await operator("POST", `/devices/${device.device_id}/desired`, { source_id: relay, value: "1.0" }) as {
    desired_id: string;
  };
  const ack = await waitFor(
    "the relay report's ack",
    async () => (await acks()).find((candidate) => candidate.desired_id === desired.desired_id),
  );
  console.log(`MEASURE vm-desired-to-ack ${(performance.now() - sent).toFixed(0)} ms`);
  verdict(
    "a desired state turns the simulated line active and the ack comes back accepted",
    ack.status === "accepted" && simValue(RELAY) === 1,
    `ack ${ack.status}, line ${simValue(RELAY)}`,
  );
} catch (error) {
  verdict("a desired state turns the simulated line active and the ack comes back accepted", false, (error as Error).message);
}

// 4. Pulling the input produces an accepted reading.
try {
  simPull(SWITCH, 1);
  const reading = await waitFor(
    "the switch reading",
    async () => (await feed()).find((entry) => entry.sourceId === switchSource && entry.payload.value === "1.0"),
  );
  verdict("pulling an input produces an accepted reading", reading.status === "accepted", `status ${reading.status}`);
} catch (error) {
  verdict("pulling an input produces an accepted reading", false, (error as Error).message);
}

// 4b. `realer-edge check` on this board while the runtime holds its lines: it says so, exit 1.
const cli = async (args: string[], during?: (proc: Proc) => Promise<void>) => {
  const proc = start(args, { REALER_CLIENT_SECRET: device.client_secret });
  await during?.(proc);
  const code = await exited(proc);
  return { code, output: proc.output() };
};
{
  const checked = await cli(["check", "--config", "/tmp/device.json"], undefined);
  verdict(
    "check names the lines the running runtime holds and exits 1",
    checked.code === 1 && checked.output.includes('is already held by "realer-edge"'),
    `exit ${checked.code}: ${checked.output.slice(0, 800)}`,
  );
}

// 5. SIGKILL and restart: a relay configured `restore` comes back active with no glitch. The
// simulator's pull is set to the relay's level first, as on a board whose controller keeps
// the level of a released line; a claim that showed inactive even briefly reads 0 here.
const restartSampler = samplePin(RELAY);
try {
  simPull(RELAY, 1);
  await sleep(100);
  const killedAt = performance.now();
  runtime.child.kill("SIGKILL");
  await exited(runtime);
  runtime = run();
  await waitFor("the restarted runtime to claim the relay", () => runtime.output().includes("line.power_on"), 90_000);
  const restoredLine = runtime.output().split("\n").find((line) => line.includes("line.power_on")) ?? "";
  await waitFor("mqtt.connected after the restart", () => runtime.output().includes("mqtt.connected"), 90_000);
  await sleep(500);
  const after = (await restartSampler.stop()).filter((sample) => sample.t >= killedAt);
  const zeros = after.filter((sample) => sample.value === 0).length;
  console.log(`MEASURE vm-restart-samples ${after.length} samples`);
  verdict(
    "a restore relay comes back active after SIGKILL and restart",
    simValue(RELAY) === 1 && /value=1\.0/.test(restoredLine),
    restoredLine,
  );
  verdict(
    "the relay line shows no glitch while the runtime restarts",
    after.length > 100 && zeros === 0,
    `${zeros} of ${after.length} samples read inactive`,
  );
} catch (error) {
  await restartSampler.stop();
  verdict(
    "a restore relay comes back active after SIGKILL and restart",
    false,
    `${(error as Error).message} ${runtime.output().slice(-1500)}`,
  );
}

// 6. The sampler can see a glitch: another process claims the line at the default (inactive)
// value and holds it 20 ms before letting go, as a runtime that claims first and sets later
// would; the same sampler must read inactive samples.
try {
  runtime.child.kill("SIGTERM");
  await exited(runtime);
  const control = samplePin(RELAY);
  const naive = start(["gpio", "set", label, String(RELAY), "0", "--hold-ms", "20"]);
  await exited(naive);
  await sleep(50);
  const samples = await control.stop();
  const zeros = samples.filter((sample) => sample.value === 0).length;
  const spanMs = samples.at(-1)!.t - samples[0]!.t;
  console.log(`MEASURE vm-sampler-interval ${((spanMs / samples.length) * 1000).toFixed(0)} us`);
  verdict(
    "the sampler sees the glitch of a claim-then-set (control)",
    zeros > 0 && simValue(RELAY) === 1,
    `${zeros} of ${samples.length} samples read inactive`,
  );
} catch (error) {
  verdict("the sampler sees the glitch of a claim-then-set (control)", false, (error as Error).message);
}

// 7. The gpio diagnostics commands on the same kernel.
const gpio = (args: string[], during?: (proc: Proc) => Promise<void>) => cli(["gpio", ...args], during);
try {
  const checked = await cli(["check", "--config", "/tmp/device.json"]);
  verdict(
    "check prints the binding table on this board and exits 0 with the runtime stopped",
    checked.code === 0 && checked.output.includes(`${label}:6`) && checked.output.includes(`${label}:5`),
    `exit ${checked.code}: ${checked.output.slice(0, 800)}`,
  );
  const listed = await gpio(["info"]);
  verdict(
    "gpio info lists the simulated chip and its named line",
    listed.code === 0 && listed.output.includes(`[${label}]`) && listed.output.includes('"SIM_NAMED"'),
    listed.output.slice(0, 600),
  );
  simPull(3, 1);
  const got = await gpio(["get", label, "3"]);
  verdict("gpio get reads an input", got.code === 0 && got.output.trim() === "1", got.output);
  let heldLevel = -1;
  const set = await gpio(["set", label, "7", "1", "--hold-ms", "1500"], async () => {
    await waitFor("gpio set to hold", () => simValue(7) === 1, 10_000).catch(() => false);
    heldLevel = simValue(7);
  });
  verdict(
    "gpio set drives a line for the time asked",
    set.code === 0 && heldLevel === 1,
    `exit ${set.code}, level while held ${heldLevel}: ${set.output}`,
  );
  simPull(2, 0);
  const watched = await gpio(["watch", label, "2", "--count", "2"], async (proc) => {
    await waitFor("gpio watch to start", () => proc.output().includes("watching"), 30_000);
    simPull(2, 1);
    await sleep(200);
    simPull(2, 0);
  });
  const edges = watched.output.split("\n").filter((line) => / (rising|falling) /.test(line)).map((line) => line.split(" ")[1]);
  verdict("gpio watch prints edges as they come", watched.code === 0 && edges.join(",") === "rising,falling", watched.output);
} catch (error) {
  verdict("gpio diagnostics", false, (error as Error).message);
}

let sysfsOutput = () => "";
// 8. The same device on the sysfs backend. A sysfs export outlives the process, so after a
// SIGKILL the relay stays driven by the kernel and the restarted runtime takes it over as it is:
// the pull is set to the opposite level to show the line is held, not floating.
try {
  const config = JSON.parse(readFileSync("/tmp/device.json", "utf8")) as { routes: Record<string, unknown>[] };
  // sysfs cannot set a bias (the runtime would refuse the switch route with one line saying so).
  const routes = config.routes.map(({ bias: _, ...route }) => route);
  writeFileSync("/tmp/device-sysfs.json", JSON.stringify({ ...config, routes, gpio: { backend: "sysfs" } }));
  const runSysfs = () => start(["run", "--config", "/tmp/device-sysfs.json"], { REALER_CLIENT_SECRET: device.client_secret });
  let sysfs = runSysfs();
  sysfsOutput = () => sysfs.output();
  await waitFor("the sysfs runtime to connect", () => {
    if (sysfs.child.exitCode !== null) throw new Error(`the sysfs runtime exited ${sysfs.child.exitCode}: ${sysfs.output().slice(-800)}`);
    return sysfs.output().includes("mqtt.connected");
  }, 90_000);
  const desired = await operator("POST", `/devices/${device.device_id}/desired`, { source_id: relay, value: "1.0" }) as {
    desired_id: string;
  };
  const ack = await waitFor(
    "the sysfs relay report's ack",
    async () => (await acks()).find((candidate) => candidate.desired_id === desired.desired_id),
  );
  verdict(
    "the runtime on the sysfs backend applies a desired state and gets it accepted",
    ack.status === "accepted" && simValue(RELAY) === 1,
    `ack ${ack.status}, line ${simValue(RELAY)}`,
  );
  const before = (await feed()).length;
  // The cdev run's pull-down bias moved the simulator's pull; flip whatever the input reads now.
  const next = simValue(SWITCH) === 1 ? 0 : 1;
  simPull(SWITCH, next);
  const reading = await waitFor(
    "the sysfs switch reading",
    async () => (await feed()).slice(before).find((entry) => entry.sourceId === switchSource && entry.payload.value === `${next}.0`),
  );
  verdict("the runtime on the sysfs backend reports an input edge", reading.status === "accepted", `status ${reading.status}`);
  simPull(RELAY, 0);
  const watch = samplePin(RELAY);
  sysfs.child.kill("SIGKILL");
  await exited(sysfs);
  sysfs = runSysfs();
  await waitFor("the restarted sysfs runtime to connect", () => sysfs.output().includes("mqtt.connected"), 90_000);
  await sleep(300);
  const samples = await watch.stop();
  const zeros = samples.filter((sample) => sample.value === 0).length;
  console.log(`MEASURE vm-sysfs-restart-samples ${samples.length} samples`);
  verdict(
    "a sysfs relay is held by the kernel through SIGKILL and taken over with no glitch",
    samples.length > 100 && zeros === 0 && simValue(RELAY) === 1,
    `${zeros} of ${samples.length} samples read inactive`,
  );
  sysfs.child.kill("SIGTERM");
  const code = await exited(sysfs);
  const exported = readdirSync("/sys/class/gpio").filter((entry) => /^gpio\d+$/.test(entry));
  verdict(
    "a clean stop unexports every sysfs line",
    code === 0 && exported.length === 0,
    `exit ${code}, still exported: ${exported.join(" ")}`,
  );
} catch (error) {
  verdict(
    "the sysfs section",
    false,
    `${(error as Error).message}; the runtime said: ${
      sysfsOutput().split("\n").filter((line) => !line.includes("feed.publish")).slice(-15).join(" | ")
    }`,
  );
}

// 8b. Local control on cdev: the switch toggles the relay on the board. Timed two ways: the
// device's own switched_ms (edge arrival → line written), and from the pull of the simulated pin
// to the relay's pin changing, as the driver sees it; beside the floor of one line read plus one
// line write through the same backend on spare lines, in this VM.
try {
  const pct = (samples: number[], p: number) =>
    [...samples].sort((a, b) => a - b)[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
  const config = JSON.parse(readFileSync("/tmp/device.json", "utf8")) as { routes: Record<string, unknown>[] };
  const routes = config.routes.map((route) => (route.pin_port === "5" ? { ...route, controls: { output: "6", mode: "toggle" } } : route));
  writeFileSync("/tmp/device-local.json", JSON.stringify({ ...config, routes }));
  simPull(SWITCH, 0);
  const local = start(["run", "--config", "/tmp/device-local.json"], { REALER_CLIENT_SECRET: device.client_secret });
  await waitFor("the local-control runtime to claim its lines", () => local.output().includes("local.bound"), 60_000);
  await sleep(500);
  const seen: number[] = [];
  let toggled = 0;
  for (let i = 0; i < 30; i++) {
    const before = simValue(RELAY);
    const pulled = performance.now();
    simPull(SWITCH, 1);
    // Polled a millisecond apart: a tight loop here would take the emulated CPU from the device it times.
    while (simValue(RELAY) === before && performance.now() - pulled < 2000) await sleep(1);
    if (simValue(RELAY) !== before) {
      toggled++;
      seen.push(performance.now() - pulled);
    }
    await sleep(30);
    simPull(SWITCH, 0);
    await sleep(30);
  }
  local.child.kill("SIGTERM");
  await exited(local);
  const switched = [...local.output().matchAll(/local\.action .*switched_ms=([\d.]+)/g)].map((match) => Number(match[1]));
  const { CdevBackend } = await import("../../../src/hal/cdev.ts");
  const backend = await CdevBackend.open();
  const input = await backend.requestLine({ chip: label, offset: 2 }, { direction: "input" }, "floor");
  const output = await backend.requestLine({ chip: label, offset: 3 }, { direction: "output", outputValue: 0 }, "floor");
  const floor: number[] = [];
  for (let i = 0; i < 300; i++) {
    const started = performance.now();
    const value = await input.getValue();
    await output.setValue(value === 1 ? 0 : 1);
    floor.push(performance.now() - started);
  }
  await input.release();
  await output.release();
  await backend.close();
  const show = (samples: number[]) =>
    samples.length === 0 ? "none" : `p50 ${pct(samples, 0.5).toFixed(3)} ms p99 ${pct(samples, 0.99).toFixed(3)} ms`;
  console.log(`MEASURE vm-local-switched ${show(switched)} (device: edge arrival → line written, ${switched.length} presses)`);
  console.log(`MEASURE vm-local-pull-to-relay ${show(seen)} (driver: sim pull → relay pin, ${seen.length} presses)`);
  console.log(`MEASURE vm-local-floor ${show(floor)} (cdev: one line read + one line write)`);
  verdict(
    "a switch on gpio-sim toggles its relay through cdev on the board, every press",
    toggled === 30 && switched.length === 30,
    `${toggled} of 30 presses toggled, ${switched.length} local actions logged: ${local.output().slice(-800)}`,
  );
} catch (error) {
  verdict("a switch on gpio-sim toggles its relay through cdev on the board, every press", false, (error as Error).message);
}

emulator.child.kill("SIGTERM");
await exited(emulator);

// 9. `realer-edge hil run` on gpio-sim: the same runner and scenario files as on the mock, the
// compiled binary as both runner and device under test, the rig sampling the simulator's lines.
// The control scenario powers on "off" where "restore" was meant: the rig must catch its glitch.
try {
  simPull(RELAY, 0);
  simPull(SWITCH, 0);
  const hil = (files: string[]) => {
    const started = performance.now();
    const proc = start(["hil", "run", "--rig", "gpio-sim", "--sim-dir", simDir, "--chip", label, "--state-dir", "/tmp/hil", ...files]);
    return exited(proc).then((code) => ({ code, output: proc.output(), ms: performance.now() - started }));
  };
  const passing = await hil([
    "/opt/hil/relay-follows-cloud.json",
    "/opt/hil/restore-after-crash.json",
    "/opt/hil/failsafe-broker-down.json",
  ]);
  console.log(`MEASURE vm-hil-three-scenarios ${passing.ms.toFixed(0)} ms`);
  for (const line of passing.output.split("\n").filter((line) => /^(PASS|FAIL|hil:)|FAIL /.test(line.trim()))) {
    console.log(`=== HIL ${line}`);
  }
  verdict(
    "hil runs the relay-follows-the-cloud scenario on gpio-sim",
    /^PASS {2}relay follows the cloud and is acked/m.test(passing.output),
    passing.output.slice(-1500),
  );
  verdict(
    "hil runs the restore-after-a-crash scenario on gpio-sim",
    /^PASS {2}restore after a crash without a glitch/m.test(passing.output),
    passing.output.slice(-1500),
  );
  verdict(
    "hil runs the fail-safe scenario on gpio-sim: the heater goes safe with the broker down",
    /^PASS {2}a heater goes safe when the cloud is gone/m.test(passing.output) && passing.code === 0,
    passing.output.slice(-1500),
  );
  simPull(RELAY, 0);
  simPull(SWITCH, 0);
  const local = await hil(["/opt/hil/button-toggles-offline.json", "/opt/hil/switch-follow.json", "/opt/hil/press-races-desired.json"]);
  console.log(`MEASURE vm-hil-local-control ${local.ms.toFixed(0)} ms`);
  for (const line of local.output.split("\n").filter((line) => /^(PASS|FAIL|hil:)|FAIL /.test(line.trim()))) {
    console.log(`=== HIL ${line}`);
  }
  verdict(
    "hil runs the wall-button scenario on gpio-sim: the light toggles with the broker down",
    /^PASS {2}a wall button toggles its light with the broker down/m.test(local.output),
    local.output.slice(-1500),
  );
  verdict(
    "hil runs the maintained-switch scenario on gpio-sim",
    /^PASS {2}a maintained switch decides its light/m.test(local.output),
    local.output.slice(-1500),
  );
  verdict(
    "hil runs the press-racing-a-desired-state scenario on gpio-sim",
    /^PASS {2}a press racing a desired state/m.test(local.output) && local.code === 0,
    local.output.slice(-1500),
  );
  const control = await hil(["/opt/hil/glitch.json"]);
  verdict(
    "hil on gpio-sim fails a relay that glitches at restart (control)",
    control.code === 1 && /hold 1 through the restart; it showed 0 at \+\d+ ms \(sampled\)/.test(control.output),
    `exit ${control.code}: ${control.output.slice(-1500)}`,
  );
} catch (error) {
  verdict("hil runs the relay-follows-the-cloud scenario on gpio-sim", false, (error as Error).message);
}
console.log("LOOP DONE");
process.exit(0);
