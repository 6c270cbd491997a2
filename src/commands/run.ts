import { systemClock } from "../clock.ts";
import { loadConfig, readCaFile, readClientSecret, readSecret } from "../config/load.ts";
import { composeDevice } from "../device/compose.ts";
import { MockBackend } from "../hal/mock.ts";
import { batchedSink, createLogger, type LogLevel } from "../log.ts";
import { serve, type Server, ShutdownLatch, systemTimeSources } from "../platform/index.ts";
import type { Secret } from "../secret.ts";
import { createNotifier } from "../service/systemd-notify.ts";
import { BUILD_FAULT } from "../build-fault.ts";
import { readUpdateView, runningOnTrial } from "../update/board-view.ts";
import { RealerError } from "../errors.ts";
import { HealthReporter } from "./health-report.ts";

/** Options of `realer-edge run`. */
export interface RunOptions {
  readonly configPath: string;
  readonly logLevel?: LogLevel | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The stop signal, caught before this module loaded (see main.ts); one is made when absent. */
  readonly shutdown?: ShutdownLatch;
}

/** `realer-edge run`: the device runtime, until SIGINT or SIGTERM. */
export async function runCommand(options: RunOptions): Promise<void> {
  // First of all, so that a stop in the first moments of start-up is a clean stop, not a kill.
  let onStop: ((signal: string) => void) | undefined;
  let stopSignal: string | undefined;
  (options.shutdown ?? new ShutdownLatch()).on((signal) => {
    stopSignal ??= signal;
    onStop?.(signal);
  });
  const config = loadConfig(options.configPath);
  const firstSecret = readClientSecret(config, options.configPath, options.env);
  // Lines of a turn go out in one write (a backlog's acks are thousands a second); the rest
  // is written before the process ends, whichever way it ends.
  const lines = batchedSink();
  process.once("exit", lines.flush);
  const logger = createLogger({
    level: options.logLevel ?? config.log.level,
    format: config.log.format,
    source: "device",
    sink: lines.sink,
  });
  if (BUILD_FAULT !== undefined) logger.warn("build.fault", { fault: BUILD_FAULT, note: "a test release that fails on purpose" });
  if (BUILD_FAULT === "crash-at-start") {
    throw new RealerError("unsupported", "Cannot start: this test release crashes at start (build fault)");
  }
  // Read afresh for every token: an operator who fixes a wrong secret file needs no restart.
  const clientSecret = (): Secret => {
    try {
      return readClientSecret(config, options.configPath, options.env);
    } catch (error) {
      logger.error("auth.secret_unreadable", {
        error: error instanceof Error ? error.message : String(error),
        note: "using the secret read at start",
      });
      return firstSecret;
    }
  };
  const ca = readCaFile(config, options.configPath);
  if (stopSignal) return;
  const time = await systemTimeSources();
  // A rig reads the mock PWM chip through the control port too: the run holds it from the start.
  const pwm = config.gpio.backend === "mock" && config.gpio.control_port !== undefined
    ? new (await import("../hal/pwm/mock.ts")).MockPwmBackend()
    : undefined;
  const { runtime, backend, close } = await composeDevice({ config, clientSecret, ca, logger, time, ...(pwm ? { pwm } : {}) });
  // Under systemd (RuntimeDirectory=), the health a release on trial is judged by.
  const runtimeDir = options.env.RUNTIME_DIRECTORY?.split(":")[0];
  const health = runtimeDir ? new HealthReporter(runtime, `${runtimeDir}/health.json`) : undefined;
  health?.start();
  let control: Server | undefined;
  if (backend instanceof MockBackend && config.gpio.control_port !== undefined) {
    // Loaded only when asked for, like the console: a field device never holds hono at all.
    const { mockControlApp } = await import("../hal/mock-control.ts");
    control = serve({ hostname: "127.0.0.1", port: config.gpio.control_port, fetch: mockControlApp(backend, pwm).fetch });
    logger.info("mock.control", { url: `http://127.0.0.1:${control.port}/lines` });
  }
  const consoleToken = config.console.enabled && config.console.token
    ? readSecret(config.console.token, "console.token", options.configPath, options.env)
    : undefined;
  const web = config.console.enabled
    ? (await import("../console/serve-console.ts")).startDeviceConsole({
      runtime,
      deviceId: config.device_id,
      host: config.console.host,
      port: config.console.port,
      token: consoleToken,
      clock: systemClock,
      allowedHosts: config.console.allowed_hosts,
      logger: logger.child("console"),
      update: () => readUpdateView(),
    })
    : undefined;
  if (web) logger.info("console.ready", { url: web.url, token: consoleToken ? "required" : "none (loopback only)" });
  const notifier = await createNotifier(options.env, logger);
  const stopped = new Promise<void>((resolve) => {
    onStop = (signal) => {
      logger.info("runtime.stopping", { signal });
      notifier.stopping();
      runtime.requestStop();
      // The last word on the stop's bound, whatever part of it hangs: everything observed is
      // already committed, so exiting loses nothing.
      setTimeout(() => {
        logger.warn("runtime.exit_forced", { after_ms: HARD_EXIT_MS, link: JSON.stringify(runtime.linkStatus ?? null) });
        process.exit(0);
      }, HARD_EXIT_MS).unref?.();
      resolve();
    };
    if (stopSignal) onStop(stopSignal);
  });
  // A release on trial says so, in the log and in every status line systemd shows.
  const atStart = readUpdateView();
  const trial = runningOnTrial(atStart) ? atStart?.trial : undefined;
  if (trial) {
    logger.info("update.on_trial", {
      release: trial.release,
      version: trial.version,
      start: trial.attempts,
      note: "the updater commits it once it has proved itself healthy, or rolls back",
    });
  }
  const status = (text: string) => (trial ? `${text} · on trial (release ${trial.release})` : text);
  runtime.events.on("trouble", ({ text }) => notifier.status(status(text ?? "working")));
  try {
    // Start-up retries whatever the cloud answers; only a local fault ends it early. Ready comes
    // once connected, or after a bound with the lines claimed, whatever keeps the cloud away:
    // a service manager must not kill a device that works offline.
    const starting = runtime.start();
    const failed = starting.then(() => new Promise<never>(() => {}));
    const online = await Promise.race([
      new Promise<boolean>((resolve) => runtime.events.on("online", () => resolve(true))),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), READY_WAIT_MS).unref?.()),
      stopped.then(() => false),
      failed,
    ]);
    const trouble = runtime.status().trouble;
    health?.ready();
    notifier.ready(status(
      online
        ? "connected over MQTT"
        : runtime.transport === "https"
        ? "working over the HTTPS runtime"
        : trouble ?? "lines claimed; offline, retrying",
    ));
    runtime.events.on("online", () => notifier.status(status("connected over MQTT")));
    runtime.events.on("offline", () => notifier.status(status("offline, reconnecting")));
    await Promise.race([stopped, failed]);
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
    // Deno's server stop waits for idle keep-alive connections; a rig's must not hold the exit.
    await Promise.race([control?.stop(), new Promise((resolve) => setTimeout(resolve, 500).unref?.())]);
    await web?.stop();
    health?.stop();
    await close();
    notifier.close();
    lines.flush();
    process.off("exit", lines.flush);
  }
}

/** How long start-up waits for a connection before telling systemd it is ready offline. */
const READY_WAIT_MS = 10_000;

/** How long the runtime's stop may take before cleanup goes on without it. */
const STOP_BOUND_MS = 8000;
/** How long after a stop signal the process exits, whatever is still running. */
const HARD_EXIT_MS = 9000;
