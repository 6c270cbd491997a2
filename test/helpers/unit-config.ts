// A device config for unit tests: device 42 on the mock backend, an API nobody answers, the
// secret from an environment variable nobody sets; `fields` add to it or replace its fields.
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";

/** The config, validated as the runtime validates a file named device.json. */
export function unitConfig(fields: Readonly<Record<string, unknown>> = {}): Config {
  return parseConfig(
    JSON.stringify({
      api_url: "https://127.0.0.1:9",
      device_id: 42,
      client_id: "cdv_x",
      client_secret: { env: "X" },
      gpio: { backend: "mock" },
      routes: [],
      ...fields,
    }),
    "device.json",
  );
}
