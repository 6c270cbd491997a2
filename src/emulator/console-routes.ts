// The emulator console under /_emulator/console: the page, its live stream, and provisioning a
// demo device that can be run at once (its config and a secret file readable by the owner only).
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { describeFaults } from "./faults.ts";
import type { EmulatorDeps } from "./context.ts";
import { consolePage } from "./console-page.ts";
import type { AckMessage, FeedEntry, RouteRecord } from "./state.ts";
import { randomSecret } from "./ids.ts";

/** What the console needs beyond the routes' shared dependencies. */
export interface ConsoleDeps {
  readonly deps: EmulatorDeps;
  readonly stateDir: string;
  readonly apiUrl: () => string;
  readonly caPath: () => string;
}

const DEMO = [
  { source_type: "command", kind: "relay", pin_port: "6" },
  { source_type: "sensor", kind: "switch", pin_port: "5" },
] as const;

/** The console's routes, mounted under the operator prefix. */
export function consoleRoutes(options: ConsoleDeps): Hono {
  const { deps } = options;
  const { state } = deps;
  const app = new Hono();

  const lastFeed = (route: RouteRecord): FeedEntry | undefined =>
    state.feedOf(route.deviceId).findLast((entry) => entry.routeId === route.routeId);
  const lastAck = (route: RouteRecord): AckMessage | undefined =>
    state.acksOf(route.deviceId).findLast((ack) => ack.source_id === route.sourceId);

  app.get("/console", (c) => {
    const devices = [...state.devices.values()];
    return c.html(consolePage({
      apiUrl: options.apiUrl(),
      devices,
      lastFeed,
      lastAck,
      recentFeed: devices.flatMap((device) => state.feedOf(device.deviceId)).sort((a, b) => a.receivedAt.localeCompare(b.receivedAt)).slice(
        -50,
      ),
      faults: describeFaults(deps.faults) as Record<string, unknown>,
      mqttOffered: deps.mqttOffered,
    }));
  });

  app.get("/console/stream", (c) =>
    streamSSE(c, async (stream) => {
      let closed = false;
      const send = (event: string, data: unknown) => void stream.writeSSE({ event, data: JSON.stringify(data) }).catch(() => {});
      const off = [
        state.events.on("feed", (entry) => send("feed", entry)),
        state.events.on("ack", (ack) => send("ack", ack)),
        state.events.on("device", (device) => send("device", { device_id: device.deviceId })),
      ];
      stream.onAbort(() => {
        closed = true;
        for (const stop of off) stop();
      });
      // A comment line now and then keeps idle proxies (and Bun's idle timeout) from closing it.
      while (!closed) {
        await stream.writeSSE({ event: "ping", data: String(Date.now()) }).catch(() => {});
        await stream.sleep(5000);
      }
    }));

  app.post("/console/provision", (c) => {
    const secret = randomSecret();
    const device = state.addDevice(secret, DEMO);
    const dir = resolve(join(options.stateDir, "devices", String(device.deviceId)));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const secretPath = join(dir, "client-secret");
    writeFileSync(secretPath, `${secret}\n`, { mode: 0o600 });
    chmodSync(secretPath, 0o600);
    const configPath = join(dir, "device.json");
    writeFileSync(
      configPath,
      `${
        JSON.stringify(
          {
            api_url: options.apiUrl(),
            device_id: device.deviceId,
            client_id: device.clientId,
            client_secret: { file: secretPath },
            ca_file: options.caPath(),
            state_dir: join(dir, "state"),
            gpio: { backend: "mock", control_port: 0 },
            console: { enabled: true, host: "127.0.0.1", port: 0 },
            routes: [
              { pin_port: "6", line: { chip: "gpiochip0", offset: 6 }, direction: "output", power_on: "restore" },
              { pin_port: "5", line: { chip: "gpiochip0", offset: 5 }, debounce_ms: 20 },
            ],
          },
          null,
          2,
        )
      }\n`,
    );
    deps.logger.info("device.provisioned", { device_id: device.deviceId, client_id: device.clientId, config: configPath, from: "console" });
    return c.json({
      device_id: device.deviceId,
      client_id: device.clientId,
      config_path: configPath,
      command: `realer-edge run --config ${configPath}`,
    }, 201);
  });
  return app;
}
