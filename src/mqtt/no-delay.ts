import type { IClientOptions } from "mqtt";

/**
 * MQTT.js options with TCP_NODELAY on the TLS socket it opens (it hands the whole object to
 * `tls.connect`, whose `noDelay` its types do not list). Without it, Deno's socket keeps Nagle
 * on and every QoS 1 exchange waits about 40 ms for a delayed ACK.
 */
export function withNoDelay(options: IClientOptions): IClientOptions {
  return Object.assign({}, options, { noDelay: true });
}
