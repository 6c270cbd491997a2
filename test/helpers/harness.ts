// Shared helpers for end-to-end suites: a real emulator (HTTPS + mosquitto) and a device
// runtime on the mock backend, both in this process.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BackoffSettings } from "../../src/cloud/retry-policy.ts";
import { systemClock } from "../../src/clock.ts";
import type { Config } from "../../src/config/schema.ts";
import { DeviceRuntime, type RuntimeEvents } from "../../src/device/runtime.ts";
import { DeviceStore } from "../../src/device/store.ts";
import type { Limits } from "../../src/emulator/context.ts";
import { Emulator, type Provisioned } from "../../src/emulator/emulator.ts";
import type { RouteSpec } from "../../src/emulator/state.ts";
import { MockBackend } from "../../src/hal/mock.ts";
import { createLogger, type Logger, silentLogger } from "../../src/log.ts";
import { createFetch } from "../../src/runtime/index.ts";
import { Secret } from "../../src/secret.ts";

/** Retry timing for tests: the same shape as the field defaults, a hundred times faster. */
export const FAST_BACKOFF: BackoffSettings = { baseMs: 20, capMs: 600, slowMs: 3000 };

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `realer-edge-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Logs to the console when REALER_TEST_LOG is set, so a failing suite can be read. */
export function testLogger(source: string): Logger {
  return process.env.REALER_TEST_LOG ? createLogger({ level: "debug", source }) : silentLogger;
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A started emulator in a temporary state folder. */
export async function startEmulator(limits: Partial<Limits> = {}, brokerProxy = false): Promise<{ emulator: Emulator; stop: () => Promise<void> }> {
  const dir = tempDir("emulator");
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

/** The two routes of the demo: a relay on line 6 and a switch input on line 5. */
export const DEMO_ROUTES: readonly RouteSpec[] = [
  { source_type: "command", kind: "relay", pin_port: "6" },
  { source_type: "sensor", kind: "switch", pin_port: "5" },
];

/** The relay's line on the mock. */
export const RELAY_LINE = { chip: "gpiochip0", offset: 6 } as const;
/** The switch's line on the mock. */
export const SWITCH_LINE = { chip: "gpiochip0", offset: 5 } as const;

/** A device config bound to the demo routes, for an emulator's device. */
export function deviceConfig(emulator: Emulator, device: Provisioned, stateDir: string, sampleIntervalS?: number): Config {
  return {
    api_url: emulator.url,
    device_id: device.device_id,
    client_id: device.client_id,
    client_secret: { env: "REALER_CLIENT_SECRET" },
    ca_file: emulator.caPath,
    state_dir: stateDir,
    log: { level: "debug", format: "text" },
    outbox: { max_messages: 10_000, max_bytes: 4 * 1024 * 1024 },
    https: { poll_interval_s: 1, catalog_check_s: 1 },
    gpio: { backend: "mock" },
    routes: [
      { pin_port: "6", line: RELAY_LINE, active_low: false, bias: "as-is", debounce_ms: 0, latest_value: false },
      { pin_port: "5", line: SWITCH_LINE, active_low: false, bias: "as-is", debounce_ms: 0, latest_value: false, ...(sampleIntervalS === undefined ? {} : { sample_interval_s: sampleIntervalS }) },
    ],
  };
}

/** A running device with everything a test looks at. */
export interface RunningDevice {
  readonly runtime: DeviceRuntime;
  readonly mock: MockBackend;
  readonly device: Provisioned;
  readonly store: DeviceStore;
  /** Every event the runtime emitted, in order. */
  readonly seen: { [K in keyof RuntimeEvents]: RuntimeEvents[K][] };
  stop(): Promise<void>;
}

/** Provisions a demo device on `emulator` (or uses `device`) and starts its runtime on the mock backend. */
export async function startDevice(
  emulator: Emulator,
  options: { device?: Provisioned; mock?: MockBackend; stateDir?: string; ackTimeoutMs?: number; sampleIntervalS?: number; backoff?: BackoffSettings; outboxMaxMessages?: number } = {},
): Promise<RunningDevice> {
  const device = options.device ?? emulator.provision(DEMO_ROUTES);
  const dir = options.stateDir === undefined ? tempDir("device") : undefined;
  const stateDir = options.stateDir ?? dir!.path;
  const mock = options.mock ?? new MockBackend();
  const store = await DeviceStore.open(stateDir);
  const runtime = new DeviceRuntime({
    config: {
      ...deviceConfig(emulator, device, stateDir, options.sampleIntervalS),
      ...(options.outboxMaxMessages === undefined ? {} : { outbox: { max_messages: options.outboxMaxMessages, max_bytes: 64 * 1024 * 1024 } }),
    },
    clientSecret: new Secret(device.client_secret),
    backend: mock,
    store,
    fetch: createFetch(emulator.caPem),
    ca: emulator.caPem,
    clock: systemClock,
    logger: testLogger("device"),
    ...(options.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: options.ackTimeoutMs }),
    backoff: options.backoff ?? FAST_BACKOFF,
  });
  const seen = { online: [], offline: [], desired: [], settled: [], reading: [] } as RunningDevice["seen"];
  for (const key of Object.keys(seen) as (keyof RuntimeEvents)[]) {
    runtime.events.on(key, (data) => (seen[key] as unknown[]).push(data));
  }
  await runtime.start();
  return {
    runtime,
    mock,
    device,
    store,
    seen,
    stop: async () => {
      await runtime.stop();
      store.close();
      await mock.close();
      dir?.remove();
    },
  };
}
