// The emulator's side of the contract, seen by a device that publishes by hand: idempotent acks
// (accepted, replayed, conflict, rejected) and credentials that reach only their own topics.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ApiClient } from "../../src/cloud/api-client.ts";
import { type Catalog, fetchCatalog } from "../../src/cloud/catalog.ts";
import { requestCredential } from "../../src/cloud/credentials.ts";
import { DEVICE_SCOPES, TokenSource } from "../../src/cloud/oauth.ts";
import { systemClock } from "../../src/clock.ts";
import type { Emulator, Provisioned } from "../../src/emulator/emulator.ts";
import { RealerError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log.ts";
import { MqttSession } from "../../src/mqtt/session.ts";
import { createFetch } from "../../src/platform/index.ts";
import { Secret } from "../../src/secret.ts";
import { DEMO_ROUTES, startEmulator, waitFor } from "../helpers/harness.ts";
import { connectRawClient, loopbackLogin } from "../helpers/raw-mqtt.ts";

interface RawDevice {
  device: Provisioned;
  catalog: Catalog;
  session: MqttSession;
  acks: Record<string, unknown>[];
}

async function connectRaw(emulator: Emulator, scopes?: readonly string[]): Promise<RawDevice> {
  const device = emulator.provision(DEMO_ROUTES);
  const api = new ApiClient(emulator.url, createFetch(emulator.caPem));
  const tokens = new TokenSource({
    api,
    clientId: device.client_id,
    clientSecret: new Secret(device.client_secret),
    scopes: DEVICE_SCOPES,
    clock: systemClock,
    logger: silentLogger,
  });
  const catalog = await fetchCatalog(api, await tokens.get(), device.device_id);
  const asked = scopes === undefined ? catalog : {
    ...catalog,
    mqtt: { ...catalog.mqtt, credential_endpoint: { ...catalog.mqtt.credential_endpoint!, body: { device_id: device.device_id, scopes } } },
  };
  const credential = await requestCredential(api, await tokens.get(), asked, Date.now());
  const acks: Record<string, unknown>[] = [];
  const session = await MqttSession.connect({
    brokerUrl: catalog.mqtt.broker_url,
    credential,
    ca: emulator.caPem,
    keepaliveSeconds: 30,
    sessionExpirySeconds: 0,
    onMessage: (topic, payload) => {
      if (topic === catalog.mqtt.feed_data_ack_topic) acks.push(JSON.parse(new TextDecoder().decode(payload)));
    },
  });
  return { device, catalog, session, acks };
}

describe("emulator contract (real mosquitto)", () => {
  let emulator: Emulator;
  let stop: () => Promise<void>;
  let raw: RawDevice;
  let sensorTopic: string;

  before(async () => {
    ({ emulator, stop } = await startEmulator());
    raw = await connectRaw(emulator);
    const granted = await raw.session.subscribe([raw.catalog.mqtt.feed_data_ack_topic]);
    assert.equal(granted[0]?.granted, true);
    sensorTopic = raw.catalog.mqtt_routes.find((route) => route.source_type === "sensor")!.mqtt.feed_data_topic;
  });

  after(async () => {
    await raw?.session.end(true);
    await stop?.();
  });

  const ackOf = (messageId: string, nth = 1) =>
    waitFor(`ack #${nth} for ${messageId}`, () => raw.acks.filter((ack) => ack.message_id === messageId)[nth - 1]);

  it("acks a first publish accepted, the same payload again replayed, another payload under that id conflict", async () => {
    const reading = { message_id: "sensor-contract-1", value: "21.5", value_received_at: "2026-04-29T10:00:01Z" };
    await raw.session.publish(sensorTopic, JSON.stringify(reading));
    assert.equal((await ackOf(reading.message_id, 1)).status, "accepted");
    // Same meaning with the keys in another order is the same payload.
    await raw.session.publish(
      sensorTopic,
      JSON.stringify({ value_received_at: reading.value_received_at, value: "21.5", message_id: reading.message_id }),
    );
    assert.equal((await ackOf(reading.message_id, 2)).status, "replayed");
    await raw.session.publish(sensorTopic, JSON.stringify({ ...reading, value: "22.0" }));
    const conflict = await ackOf(reading.message_id, 3);
    assert.equal(conflict.status, "conflict");
    assert.equal(conflict.retryable, false);
  });

  it("rejects invalid payloads with error.type and never stores them", async () => {
    await raw.session.publish(sensorTopic, JSON.stringify({ message_id: "bad-time", value: "1.0", value_received_at: "yesterday" }));
    const badTime = await ackOf("bad-time");
    assert.deepEqual([badTime.status, (badTime.error as { type: string }).type], ["rejected", "invalid_payload"]);
    await raw.session.publish(
      sensorTopic,
      JSON.stringify({ message_id: "bad-time", value: "1.0", value_received_at: "2026-04-29T10:00:01Z" }),
    );
    assert.equal((await ackOf("bad-time", 2)).status, "accepted", "a rejected message was not stored under its id");
    await raw.session.publish(
      sensorTopic,
      JSON.stringify({ message_id: "orphan", value: "1.0", value_received_at: "2026-04-29T10:00:01Z", desired_id: "des_unknown" }),
    );
    assert.equal(((await ackOf("orphan")).error as { type: string }).type, "unknown_desired_id");
    await raw.session.publish(
      sensorTopic,
      JSON.stringify({ message_id: "big", value: "1".repeat(5000), value_received_at: "2026-04-29T10:00:01Z" }),
    );
    assert.equal(((await ackOf("big")).error as { type: string }).type, "payload_too_large");
    await raw.session.publish(sensorTopic, "{not json");
    await waitFor("the ack of a non-JSON publish", () => raw.acks.find((ack) => ack.message_id === null && ack.status === "rejected"));
  });

  it("refuses a publish outside the credential's topics with PUBACK 0x87 and keeps the connection", async () => {
    const other = emulator.provision(DEMO_ROUTES);
    const foreign = other.routes[1]!.feed_data_topic;
    await assert.rejects(
      raw.session.publish(foreign, JSON.stringify({ message_id: "x", value: "1.0", value_received_at: "2026-04-29T10:00:01Z" })),
      (error: unknown) => error instanceof RealerError && error.kind === "permission" && /not authorized/.test(error.message),
    );
    assert.equal(raw.session.connected, true);
  });

  it("refuses subscriptions outside the credential's topics with SUBACK 0x87", async () => {
    const results = await raw.session.subscribe([
      "realer/#",
      "realer/iot/v1/devices/+/feed-data/acks",
      raw.catalog.mqtt_routes[0]!.mqtt.feed_data_topic,
    ]);
    assert.deepEqual(results.map((result) => result.reasonCode), [0x87, 0x87, 0x87]);
  });

  it("gives a benchmark's loopback client its own topic and the subtopics it asked for, and nothing else", async () => {
    const loop = await emulator.createLoopbackClient(["in", "out"]);
    const client = await connectRawClient(loopbackLogin(loop, emulator.caPem, "test"));
    try {
      const granted = await client.subscribeAsync([`${loop.topic}/in`, `${loop.topic}/out`], { qos: 1 });
      assert.deepEqual(granted.map((grant) => grant.qos), [1, 1]);
      await assert.rejects(client.subscribeAsync(`${loop.topic}/other`, { qos: 1 }), /not authorized/i);
      await assert.rejects(client.subscribeAsync("realer/#", { qos: 1 }), /not authorized/i);
      const received = new Promise<string>((resolve) => client.once("message", (topic) => resolve(topic)));
      await client.publishAsync(`${loop.topic}/in`, "ping", { qos: 1 });
      assert.equal(await received, `${loop.topic}/in`);
      await assert.rejects(client.publishAsync(`${loop.topic}/other`, "ping", { qos: 1 }), /not authorized/i);
      await assert.rejects(client.publishAsync(sensorTopic, "ping", { qos: 1 }), /not authorized/i);
    } finally {
      await client.endAsync();
    }
  });

  it("grants only the scopes asked for: without desired:read the desired topic is refused", async () => {
    const limited = await connectRaw(emulator, ["iot:mqtt:connect", "iot:mqtt:ack:read", "iot:mqtt:feed-data:write"]);
    try {
      const desiredTopic = limited.catalog.mqtt_routes.find((route) => route.source_type === "command")!.mqtt.desired_topic!;
      const [result] = await limited.session.subscribe([desiredTopic]);
      assert.equal(result?.reasonCode, 0x87);
    } finally {
      await limited.session.end(true);
    }
  });
});
