// A bare MQTT.js client on the emulator's broker, for benchmarks and contract tests that need the
// broker without the device's session around it.
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { withNoDelay } from "../../src/mqtt/no-delay.ts";
import type { Secret } from "../../src/secret.ts";

/** Who a bare client connects as: plain fields, so that a job can carry them to another process. */
export interface RawLogin {
  readonly port: number;
  /** The emulator's CA, as PEM: the broker's certificate is verified against it. */
  readonly ca: string;
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
}

/** The login of one connection of an `Emulator.createLoopbackClient()` client, its client id `<username>-<suffix>`. */
export function loopbackLogin(
  loop: { readonly username: string; readonly password: Secret; readonly port: number },
  ca: string,
  suffix: string,
): RawLogin {
  return { port: loop.port, ca, clientId: `${loop.username}-${suffix}`, username: loop.username, password: loop.password.reveal() };
}

/** Connects an MQTT 5 client over TLS to 127.0.0.1 as `login`, without reconnects; `extra` adds options. */
export function connectRawClient(login: RawLogin, extra: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(withNoDelay({
    protocol: "mqtts",
    host: "127.0.0.1",
    port: login.port,
    ca: login.ca,
    protocolVersion: 5,
    clientId: login.clientId,
    username: login.username,
    password: login.password,
    reconnectPeriod: 0,
    ...extra,
  }));
}
