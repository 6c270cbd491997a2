import { rmSync } from "node:fs";
import { join } from "node:path";
import { systemClock } from "../clock.ts";
import { DeviceRuntime, type RuntimeEvents } from "../device/runtime.ts";
import { DEMO_ROUTES, demoDeviceConfig, RELAY_LINE, SWITCH_LINE } from "./demo-device.ts";
import { composeDevice } from "../device/compose.ts";
import { Emulator, OPERATOR_PREFIX } from "../emulator/emulator.ts";
import { describeError } from "../errors.ts";
import { startDeviceConsole } from "../console/serve-console.ts";
import { MockBackend } from "../hal/mock.ts";
import { mockControlApp } from "../hal/mock-control.ts";
import { createLogger, type Logger, type LogLevel } from "../log.ts";
import { onShutdownSignal, serve } from "../platform/index.ts";
import { Secret } from "../secret.ts";

/** Options of `realer-edge demo`. */
export interface DemoOptions {
  readonly stateDir: string;
  readonly logLevel?: LogLevel | undefined;
  /** Stop after the scripted scenario instead of waiting for Ctrl-C. */
  readonly once?: boolean;
}

function waitFor<K extends keyof RuntimeEvents>(
  runtime: DeviceRuntime,
  event: K,
  test: (data: RuntimeEvents[K]) => boolean,
  timeoutMs = 15_000,
): Promise<RuntimeEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`Cannot finish the demo: no ${String(event)} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = runtime.events.on(event, (data) => {
      if (!test(data)) return;
      clearTimeout(timer);
      off();
      resolve(data);
    });
  });
}

async function scenario(
  emulator: Emulator,
  runtime: DeviceRuntime,
  mock: MockBackend,
  device: { device_id: number; routes: readonly { source_id: string; source_type: string; feed_data_topic: string }[] },
  log: Logger,
): Promise<void> {
  const relay = device.routes.find((route) => route.source_type === "command")!;
  const sensor = device.routes.find((route) => route.source_type === "sensor")!;
  await waitFor(runtime, "online", () => true);
  // The sensor's start-up reading is acknowledged first, so the scenario's lines stay in order.
  await waitFor(runtime, "settled", (s) => s.topic === sensor.feed_data_topic);

  log.info("step", { n: 1, what: "operator sets the relay to 1.0" });
  const applied = waitFor(runtime, "desired", () => true);
  const desired = await emulator.setDesired(device.device_id, relay.source_id, "1.0");
  const acked = waitFor(runtime, "settled", (s) => s.payload?.desired_id === desired.desiredId);
  const outcome = await applied;
  log.info("relay", {
    line: `${RELAY_LINE.chip}:${RELAY_LINE.offset}`,
    level: mock.getLevel(RELAY_LINE),
    state: mock.getLevel(RELAY_LINE) === 1 ? "active" : "inactive",
    report: outcome.status,
  });
  const ack = await acked;
  log.info("ack", { desired_id: desired.desiredId, status: ack.status });

  log.info("step", { n: 2, what: "the switch on the sensor input closes" });
  const readingAcked = waitFor(runtime, "settled", (s) => s.topic === sensor.feed_data_topic && s.payload?.value === "1.0");
  mock.setPull(SWITCH_LINE, 1);
  const reading = await readingAcked;
  log.info("reading", { value: reading.payload?.value, status: reading.status });
}

/** `realer-edge demo`: the emulator, one device on mock GPIO, and a scripted relay and sensor scenario. */
export async function demoCommand(options: DemoOptions): Promise<void> {
  const level = options.logLevel ?? "info";
  const log = createLogger({ level, source: "demo" });
  const emulator = new Emulator({ stateDir: join(options.stateDir, "emulator"), logger: createLogger({ level, source: "emulator" }) });
  await emulator.start();
  const device = emulator.provision(DEMO_ROUTES);
  log.info("provisioned", {
    device_id: device.device_id,
    client_id: device.client_id,
    operator: `${emulator.url}${OPERATOR_PREFIX}/devices/${device.device_id}`,
  });

  const deviceDir = join(options.stateDir, "device");
  rmSync(deviceDir, { recursive: true, force: true });
  const config = demoDeviceConfig(emulator, device, deviceDir, level);
  const mock = new MockBackend();
  const { runtime, close } = await composeDevice({
    config,
    clientSecret: new Secret(device.client_secret),
    ca: emulator.caPem,
    backend: mock,
    logger: createLogger({ level, source: "device" }),
  });
  const control = serve({ hostname: "127.0.0.1", port: 0, fetch: mockControlApp(mock).fetch });
  const web = startDeviceConsole({ runtime, deviceId: device.device_id, host: "127.0.0.1", port: 0, token: undefined, clock: systemClock });
  log.info("consoles", { device: web.url, emulator: `${emulator.url}${OPERATOR_PREFIX}/console` });
  const stopped = new Promise<void>((resolve) => onShutdownSignal(() => resolve()));
  try {
    await runtime.start();
    await scenario(emulator, runtime, mock, device, log);
    log.info("done", { note: "the scenario passed" });
    if (!options.once) {
      log.info("running", {
        device_console: web.url,
        emulator_console: `${emulator.url}${OPERATOR_PREFIX}/console`,
        mock_lines: `http://127.0.0.1:${control.port}/lines`,
        note: "press Ctrl-C to stop",
      });
      await stopped;
    }
  } catch (error) {
    log.error("failed", { error: describeError(error) });
    throw error;
  } finally {
    await runtime.stop();
    await web.stop();
    await control.stop();
    await close();
    await emulator.stop();
    log.info("stopped");
  }
}
