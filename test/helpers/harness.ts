// Shared helpers for end-to-end suites: a real emulator (HTTPS + mosquitto) and a device
// runtime on the mock backend, both in this process.
import { MockPwmBackend } from "../../src/hal/pwm/mock.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BackoffSettings } from "../../src/cloud/retry-policy.ts";
import { DEMO_ROUTES, demoDeviceConfig } from "../../src/commands/demo-device.ts";
import type { Config } from "../../src/config/schema.ts";
import { DeviceRuntime, type RuntimeDeps, type RuntimeEvents } from "../../src/device/runtime.ts";
import { composeDevice } from "../../src/device/compose.ts";
import type { DeviceStore } from "../../src/state/store.ts";
import type { Limits } from "../../src/emulator/context.ts";
import { Emulator, type Provisioned } from "../../src/emulator/emulator.ts";
import { MockBackend } from "../../src/hal/mock.ts";
import { createLogger, type Logger, silentLogger } from "../../src/log.ts";
import { Secret } from "../../src/secret.ts";

/** Retry timing for tests: the same shape as the field defaults, a hundred times faster. */
export const FAST_BACKOFF: BackoffSettings = { baseMs: 20, capMs: 600, slowMs: 3000 };

/** A fresh temporary directory (under `parent`, the system's temp folder by default), removed by the returned function. */
export function tempDir(prefix: string, parent = tmpdir()): { path: string; remove: () => void } {
  const path = mkdtempSync(join(parent, `realer-edge-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Logs to the console when REALER_TEST_LOG is set, so a failing suite can be read; `lines` collects them too. */
export function testLogger(source: string, lines?: string[]): Logger {
  const print = Boolean(process.env.REALER_TEST_LOG);
  if (!print && !lines) return silentLogger;
  return createLogger({
    level: "debug",
    source,
    sink: (line) => {
      lines?.push(line);
      if (print) console.log(line);
    },
  });
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A started emulator in a temporary state folder. */
export async function startEmulator(
  limits: Partial<Limits> = {},
  brokerProxy = false,
  parent?: string,
): Promise<{ emulator: Emulator; stop: () => Promise<void> }> {
  const dir = tempDir("emulator", parent);
  const emulator = new Emulator({ stateDir: dir.path, logger: testLogger("emulator"), limits, desiredPollSeconds: 1, brokerProxy });
  await emulator.start();
  return {
    emulator,
    stop: async () => {
      await emulator.stop();
      dir.remove();
    },
  };
}

export { DEMO_ROUTES, RELAY_LINE, SWITCH_LINE } from "../../src/commands/demo-device.ts";

/** The demo device's config with test timings: HTTPS polls and catalog checks every second. */
export function deviceConfig(emulator: Emulator, device: Provisioned, stateDir: string, sampleIntervalS?: number): Config {
  const config = demoDeviceConfig(emulator, device, stateDir, "debug");
  return {
    ...config,
    https: { poll_interval_s: 1, catalog_check_s: 1 },
    routes: config.routes.map((route) =>
      route.pin_port === "5" && sampleIntervalS !== undefined ? { ...route, sample_interval_s: sampleIntervalS } : route
    ),
  };
}

/** A running device with everything a test looks at. */
export interface RunningDevice {
  readonly runtime: DeviceRuntime;
  readonly mock: MockBackend;
  /** The mock PWM chip (pwmchip0, two channels) the device's PWM routes drive. */
  readonly pwm: MockPwmBackend;
  readonly device: Provisioned;
  readonly store: DeviceStore;
  /** Every event the runtime emitted, in order. */
  readonly seen: { [K in keyof RuntimeEvents]: RuntimeEvents[K][] };
  /** Every line the runtime logged. */
  readonly log: string[];
  /** The runtime's start: settled once `startDevice` returns, unless it was told not to wait. */
  readonly started: Promise<void>;
  stop(): Promise<void>;
}

/** Provisions a demo device on `emulator` (or uses `device`) and starts its runtime on the mock backend. */
export async function startDevice(
  emulator: Emulator,
  options: {
    device?: Provisioned;
    mock?: MockBackend;
    /** The PWM chip, to keep one across a restart as a board keeps its hardware. */
    pwm?: MockPwmBackend;
    stateDir?: string;
    ackTimeoutMs?: number;
    sampleIntervalS?: number;
    backoff?: BackoffSettings;
    outboxMaxMessages?: number;
    /** Changes the demo config's route entries (power-on policy, pulse…). */
    routes?: (routes: Config["routes"]) => Config["routes"];
    /** Starts against this API URL instead of the emulator's (an unreachable one, say). */
    apiUrl?: string;
    /** Return while `start()` still runs (it retries an unreachable API, say); `stop()` ends it. */
    background?: boolean;
    /** Wraps the device's fetch (to answer some calls as a captive portal would, say). */
    wrapFetch?: (inner: typeof fetch) => typeof fetch;
    /** The client secret, or a reader called for every token; the provisioned one by default. */
    clientSecret?: Secret | (() => Secret);
    /** Called with the runtime before it starts (to attach a console that sees every event). */
    beforeStart?: (runtime: DeviceRuntime, device: Provisioned) => void;
    /** The machine's clocks as the runtime sees them (see `TimeKeeper`); none by default: the wall clock as it is. */
    time?: RuntimeDeps["time"];
  } = {},
): Promise<RunningDevice> {
  const device = options.device ?? emulator.provision(DEMO_ROUTES);
  const dir = options.stateDir === undefined ? tempDir("device") : undefined;
  const stateDir = options.stateDir ?? dir!.path;
  const mock = options.mock ?? new MockBackend();
  const pwm = options.pwm ?? new MockPwmBackend();
  const log: string[] = [];
  const base = deviceConfig(emulator, device, stateDir, options.sampleIntervalS);
  const { runtime, store, close } = await composeDevice({
    config: {
      ...base,
      routes: options.routes ? options.routes(base.routes) : base.routes,
      ...(options.apiUrl === undefined ? {} : { api_url: options.apiUrl }),
      ...(options.outboxMaxMessages === undefined
        ? {}
        : { outbox: { max_messages: options.outboxMaxMessages, max_bytes: 64 * 1024 * 1024 } }),
    },
    clientSecret: options.clientSecret ?? new Secret(device.client_secret),
    backend: mock,
    pwm,
    ca: emulator.caPem,
    logger: testLogger("device", log),
    storeLogger: testLogger("store", log),
    ...(options.wrapFetch ? { wrapFetch: options.wrapFetch } : {}),
    ...(options.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: options.ackTimeoutMs }),
    backoff: options.backoff ?? FAST_BACKOFF,
    ...(options.time ? { time: options.time } : {}),
  });
  const seen = {
    online: [],
    offline: [],
    desired: [],
    settled: [],
    reading: [],
    local: [],
    control: [],
    published: [],
    trouble: [],
    failsafe: [],
  } as RunningDevice["seen"];
  for (const key of Object.keys(seen) as (keyof RuntimeEvents)[]) {
    runtime.events.on(key, (data) => (seen[key] as unknown[]).push(data));
  }
  options.beforeStart?.(runtime, device);
  const started = runtime.start();
  if (!options.background) await started;
  return {
    runtime,
    mock,
    pwm,
    device,
    store,
    seen,
    log,
    started,
    stop: async () => {
      runtime.requestStop();
      await started.catch(() => {});
      await runtime.stop();
      await close();
      dir?.remove();
    },
  };
}
