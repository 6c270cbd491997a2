// Starts the device console beside a runtime: the monitor first (so it sees every event from the
// start), then the HTTP server on the configured address.
import type { Clock } from "../clock.ts";
import type { DeviceRuntime } from "../device/runtime.ts";
import { serve, type Server } from "../platform/index.ts";
import type { Logger } from "../log.ts";
import type { Secret } from "../secret.ts";
import { deviceConsoleApp } from "./device-app.ts";
import { DeviceMonitor } from "./device-monitor.ts";
import type { UpdateView } from "../update/board-view.ts";

/** A running console. */
export interface RunningConsole {
  readonly url: string;
  readonly monitor: DeviceMonitor;
  stop(): Promise<void>;
}

/** Serves the console of `runtime` on `host`:`port` (0: any free port). */
export function startDeviceConsole(options: {
  readonly runtime: DeviceRuntime;
  readonly deviceId: string | number;
  readonly host: string;
  readonly port: number;
  readonly token: Secret | undefined;
  readonly clock: Clock;
  readonly allowedHosts?: readonly string[];
  readonly logger?: Logger;
  /** The updater as the board shows it (see update/board-view.ts). */
  readonly update?: () => UpdateView | undefined;
}): RunningConsole {
  const monitor = new DeviceMonitor(options.runtime, options.clock, options.update);
  const app = deviceConsoleApp({
    runtime: options.runtime,
    monitor,
    deviceId: options.deviceId,
    clock: options.clock,
    token: options.token,
    host: options.host,
    allowedHosts: options.allowedHosts ?? [],
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const server: Server = serve({ hostname: options.host, port: options.port, fetch: app.fetch });
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${server.port}/`,
    monitor,
    // A browser's open event stream must not hold a stop: bounded like the rig's control server.
    stop: () => {
      monitor.close();
      return Promise.race([server.stop(), new Promise<void>((resolve) => setTimeout(resolve, 500).unref?.())]);
    },
  };
}
