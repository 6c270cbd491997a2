// How many reports a second the emulator acks from a raw MQTT.js client holding a device's
// credential (the emulator must never be what limits a device's drain), and the same client
// against a bare echo service: the most this machine's broker and MQTT.js carry. The client runs
// as its own process (this file as a script), so that its work is not charged to the service.
import { fileURLToPath } from "node:url";
import { MQTT_SCOPES } from "../../src/emulator/credentials.ts";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { inheritedEnv, spawnProcess } from "../../src/platform/index.ts";
import { connectRawClient, loopbackLogin, type RawLogin } from "../../test/helpers/raw-mqtt.ts";

/** What the client process needs: how to log in to the broker, the topics, how much to send. */
interface RawClientJob extends RawLogin {
  readonly feedTopic: string;
  readonly ackTopic: string;
  readonly count: number;
  readonly inflight: number;
}

/** Publishes `count` readings with `inflight` at a time and returns acks per second. */
async function publishAndCount(job: RawClientJob): Promise<number> {
  const client = await connectRawClient(job);
  try {
    await client.subscribeAsync(job.ackTopic, { qos: 1 });
    let acked = 0;
    let sent = 0;
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const send = () => {
        const i = sent++;
        void client.publishAsync(
          job.feedTopic,
          JSON.stringify({ message_id: `raw-${i}`, value: String(i % 100), value_received_at: new Date().toISOString() }),
          { qos: 1 },
        );
      };
      client.on("message", () => {
        if (++acked === job.count) resolve();
        else if (sent < job.count) send();
      });
      for (let i = 0; i < Math.min(job.inflight, job.count); i++) send();
    });
    return job.count / ((performance.now() - started) / 1000);
  } finally {
    await client.endAsync();
  }
}

/** Runs the raw client as its own process and returns the answers it counted per second. */
async function rawClientRate(job: RawClientJob): Promise<number> {
  const env = inheritedEnv();
  // The job in the environment, not argv: the password stays out of the process list.
  const child = spawnProcess(process.execPath, [fileURLToPath(import.meta.url)], { ...env, REALER_RAW_CLIENT_JOB: JSON.stringify(job) });
  const code = await child.exited;
  const out = child.output();
  const rate = Number(/^rate (\S+)$/m.exec(out.stdout)?.[1]);
  if (code !== 0 || !Number.isFinite(rate)) {
    throw new Error(`The raw client failed (exit ${code}): ${out.stderr.trim().split("\n").slice(-3).join(" ")}`);
  }
  return rate;
}

/** Runs the raw client as its own process against `deviceId` and returns the emulator's acks per second. */
export async function emulatorAckRate(emulator: Emulator, deviceId: number, count: number, inflight = 100): Promise<number> {
  const device = emulator.state.devices.get(deviceId);
  if (!device) throw new RangeError(`Cannot measure: no device ${deviceId}`);
  const route = device.routes.find((candidate) => candidate.desiredTopic === undefined);
  if (!route) throw new RangeError("Cannot measure: the device has no sensor route");
  const tuple = await emulator.issuer.issue(device, MQTT_SCOPES);
  return await rawClientRate({
    port: emulator.broker.port,
    ca: emulator.caPem,
    clientId: tuple.mqtt_client_id,
    username: tuple.mqtt_username,
    password: tuple.mqtt_credential,
    feedTopic: route.feedDataTopic,
    ackTopic: device.ackTopic,
    count,
    inflight,
  });
}

/**
 * The machine's ceiling for the same exchange: the same raw client against a service that does
 * nothing but answer each message with an ack-sized QoS 1 publish (MQTT.js over TLS, in this
 * process as the emulator is, same broker). No validation, no SQLite: what the emulator's acks
 * per second can be compared with on this machine.
 */
export async function echoCeilingRate(emulator: Emulator, count: number, inflight = 100): Promise<number> {
  const loop = await emulator.createLoopbackClient(["in", "out"]);
  const service = await connectRawClient(loopbackLogin(loop, emulator.caPem, "service"));
  try {
    await service.subscribeAsync(`${loop.topic}/in`, { qos: 1 });
    service.on("message", (_topic, payload) => {
      const { message_id } = JSON.parse(payload.toString("utf8")) as { message_id?: string };
      const ack = { message_id, status: "accepted", received_at: new Date().toISOString() };
      void service.publishAsync(`${loop.topic}/out`, JSON.stringify(ack), { qos: 1 }).catch(() => {});
    });
    return await rawClientRate({
      ...loopbackLogin(loop, emulator.caPem, "client"),
      feedTopic: `${loop.topic}/in`,
      ackTopic: `${loop.topic}/out`,
      count,
      inflight,
    });
  } finally {
    await service.endAsync();
  }
}

if (import.meta.main) {
  const job = JSON.parse(process.env.REALER_RAW_CLIENT_JOB ?? "{}") as RawClientJob;
  console.log(`rate ${await publishAndCount(job)}`);
  process.exit(0);
}
