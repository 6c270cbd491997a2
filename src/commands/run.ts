import { readFileSync } from "node:fs";
import { systemClock } from "../clock.ts";
import { loadConfig, readClientSecret } from "../config/load.ts";
import { DeviceRuntime } from "../device/runtime.ts";
import { DeviceStore } from "../device/store.ts";
import { RealerError } from "../errors.ts";
import { createBackend } from "../hal/create.ts";
import { MockBackend } from "../hal/mock.ts";
import { mockControlApp } from "../hal/mock-control.ts";
import { createLogger, type LogLevel } from "../log.ts";
import { createFetch, onShutdownSignal, serve, type Server } from "../runtime/index.ts";

/** Options of `realer-edge run`. */
export interface RunOptions {
  readonly configPath: string;
  readonly logLevel?: LogLevel | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** `realer-edge run`: the device runtime, until SIGINT or SIGTERM. */
export async function runCommand(options: RunOptions): Promise<void> {
  const config = loadConfig(options.configPath);
  const clientSecret = readClientSecret(config, options.configPath, options.env);
  const logger = createLogger({ level: options.logLevel ?? config.log.level, format: config.log.format, source: "device" });
  let ca: string | undefined;
  if (config.ca_file !== undefined) {
    try {
      ca = readFileSync(config.ca_file, "utf8");
    } catch {
      throw new RealerError("config", `Cannot load config ${options.configPath}: ca_file: cannot read ${config.ca_file}`);
    }
  }
  const backend = await createBackend(config.gpio.backend);
  const store = await DeviceStore.open(config.state_dir);
  let control: Server | undefined;
  if (backend instanceof MockBackend && config.gpio.control_port !== undefined) {
    control = serve({ hostname: "127.0.0.1", port: config.gpio.control_port, fetch: mockControlApp(backend).fetch });
    logger.info("mock.control", { url: `http://127.0.0.1:${control.port}/lines` });
  }
  const runtime = new DeviceRuntime({ config, clientSecret, backend, store, fetch: createFetch(ca), ca, clock: systemClock, logger });
  const stopped = new Promise<void>((resolve) => onShutdownSignal((signal) => {
    logger.info("runtime.stopping", { signal });
    runtime.requestStop();
    resolve();
  }));
  try {
    await runtime.start();
    await stopped;
  } catch (error) {
    // A signal during start-up ends the start; that is a clean stop, not a failure.
    if (!runtime.stopRequested) throw error;
  } finally {
    // Everything observed is already committed; stopping only ends the session and releases
    // lines, and must not hang a service manager's stop: after the bound, exit regardless.
    const bounded = await Promise.race([
      runtime.stop().then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), STOP_BOUND_MS).unref?.()),
    ]);
    if (!bounded) logger.warn("runtime.stop_timeout", { after_ms: STOP_BOUND_MS, note: "exiting anyway; the outbox is on disk" });
    await control?.stop();
    await backend.close();
    store.close();
  }
}

/** How long a stop may take before the process exits regardless. */
const STOP_BOUND_MS = 8000;
