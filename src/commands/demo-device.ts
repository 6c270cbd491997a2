import { type Config, parseRoute } from "../config/schema.ts";
import type { Provisioned } from "../emulator/emulator.ts";
import type { RouteSpec } from "../emulator/state.ts";

/** The demo's relay: line 6 of the mock's gpiochip0. */
export const RELAY_LINE = { chip: "gpiochip0", offset: 6 } as const;
/** The demo's switch input: line 5 of the mock's gpiochip0. */
export const SWITCH_LINE = { chip: "gpiochip0", offset: 5 } as const;

/** The demo device's routes: a relay command on pin 6 and a switch sensor on pin 5. */
export const DEMO_ROUTES: readonly RouteSpec[] = [
  { source_type: "command", kind: "relay", pin_port: "6" },
  { source_type: "sensor", kind: "switch", pin_port: "5" },
];

/** The config of a demo device on the mock backend, for an emulator at `url` with its CA file. */
export function demoDeviceConfig(
  emulator: { url: string; caPath: string },
  device: Provisioned,
  stateDir: string,
  level: Config["log"]["level"] = "info",
): Config {
  return {
    api_url: emulator.url,
    device_id: device.device_id,
    client_id: device.client_id,
    client_secret: { env: "REALER_CLIENT_SECRET" },
    ca_file: emulator.caPath,
    state_dir: stateDir,
    log: { level, format: "text" },
    outbox: { max_messages: 10_000, max_bytes: 4 * 1024 * 1024 },
    https: { poll_interval_s: 10, catalog_check_s: 300 },
    gpio: { backend: "mock" },
    console: { enabled: false, host: "127.0.0.1", port: 8480, allowed_hosts: [] },
    routes: [
      parseRoute({ pin_port: "6", line: { ...RELAY_LINE } }),
      parseRoute({ pin_port: "5", line: { ...SWITCH_LINE } }),
    ],
  };
}
