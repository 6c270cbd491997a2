// The device the arm64 VM suites provision on the emulator: a relay on gpio-sim line 6, restored at
// power on, and a switch on line 5, with the config that binds them on the board. Each suite says
// where its secret, CA and state live and how it logs.
import type { Emulator } from "../../src/emulator/emulator.ts";

/** The device, its two sources, and its config on the board. */
export function provisionSimDevice(emulator: Emulator) {
  const device = emulator.provision([
    { source_type: "command", kind: "relay", pin_port: "6" },
    { source_type: "sensor", kind: "switch", pin_port: "5" },
  ]);
  const relay = device.routes.find((route) => route.source_type === "command")!.source_id;
  const switchSource = device.routes.find((route) => route.source_type === "sensor")!.source_id;
  return {
    device,
    relay,
    switchSource,
    /** The config: the cloud, the two lines on the chip `realer-sim`, and `extra` over it. */
    config: (extra: Readonly<Record<string, unknown>>) => ({
      api_url: emulator.url,
      device_id: device.device_id,
      client_id: device.client_id,
      gpio: { backend: "cdev" },
      routes: [
        { pin_port: "6", line: { chip: "realer-sim", offset: 6 }, power_on: "restore" },
        { pin_port: "5", line: { chip: "realer-sim", offset: 5 }, bias: "pull-down", debounce_ms: 5 },
      ],
      ...extra,
    }),
    /** What a systemd board's driver reads first (guest/board-kit.ts's BoardPayload, less the package). */
    payload: () => ({
      operator: `${emulator.url}/_emulator`,
      device_id: device.device_id,
      relay,
      switch: switchSource,
      secret: device.client_secret,
    }),
  };
}

/** Where the packaged service finds its secret, CA and state, and how it logs (the systemd board suites). */
export const PACKAGED_SERVICE = {
  client_secret: { file: "/run/credentials/realer-edge.service/client-secret" },
  ca_file: "/etc/realer-edge/ca.crt",
  state_dir: "/var/lib/realer-edge",
  log: { level: "info", format: "json" },
} as const;
