// How many reports a second the emulator acks from a raw MQTT.js client holding a device's
// credential: the emulator must never be what limits a device's drain.
import mqtt from "mqtt";
import { MQTT_SCOPES } from "../../src/emulator/credentials.ts";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { withNoDelay } from "../../src/mqtt/no-delay.ts";

/** Publishes `count` readings with `inflight` at a time and returns acks per second. */
export async function emulatorAckRate(emulator: Emulator, deviceId: number, count: number, inflight = 100): Promise<number> {
  const device = emulator.state.devices.get(deviceId);
  if (!device) throw new RangeError(`Cannot measure: no device ${deviceId}`);
  const route = device.routes.find((candidate) => candidate.desiredTopic === undefined);
  if (!route) throw new RangeError("Cannot measure: the device has no sensor route");
  const tuple = await emulator.issuer.issue(device, MQTT_SCOPES);
  const client = await mqtt.connectAsync(withNoDelay({
    protocol: "mqtts",
    host: "127.0.0.1",
    port: emulator.broker.port,
    ca: emulator.caPem,
    protocolVersion: 5,
    clientId: tuple.mqtt_client_id,
    username: tuple.mqtt_username,
    password: tuple.mqtt_credential,
    reconnectPeriod: 0,
  }));
  try {
    await client.subscribeAsync(device.ackTopic, { qos: 1 });
    let acked = 0;
    let sent = 0;
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const send = () => {
        const i = sent++;
        void client.publishAsync(route.feedDataTopic, JSON.stringify({ message_id: `raw-${i}`, value: String(i % 100), value_received_at: new Date().toISOString() }), { qos: 1 });
      };
      client.on("message", () => {
        if (++acked === count) resolve();
        else if (sent < count) send();
      });
      for (let i = 0; i < Math.min(inflight, count); i++) send();
    });
    return count / ((performance.now() - started) / 1000);
  } finally {
    await client.endAsync();
  }
}
