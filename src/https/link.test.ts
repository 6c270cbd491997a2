// The HTTPS runtime (section 8) with no network and no waiting: the emulator's HTTPS app answers
// in process (no broker), the lines are fakes, the store is in memory, and a manual clock moves
// the polls.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { fetchCatalog } from "../cloud/catalog.ts";
import { DEFAULT_BACKOFF } from "../cloud/retry-policy.ts";
import { parseRoute } from "../config/schema.ts";
import { silentLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import { FakeOutput } from "../../test/helpers/fake-output.ts";
import { deviceApi, inProcessCloud, turnsUntil } from "../../test/helpers/in-process-cloud.ts";
import { bindRoutes } from "../device/bindings.ts";
import { DesiredHandler } from "../device/desired-handler.ts";
import { deviceLedger } from "../device/ledger.ts";
import { HttpsLink } from "./link.ts";
import { Outbox } from "../outbox/outbox.ts";
import { SETTLE_WAIT_MS } from "../outbox/settling.ts";
import { DeviceStore } from "../state/store.ts";
import { outboxDepth } from "../../test/helpers/state.ts";

const { emulator, fetch: inProcess, remove } = inProcessCloud("https-link");
after(remove);

async function setup() {
  const device = emulator.provision([{ source_type: "command", kind: "relay", pin_port: "6" }, {
    source_type: "sensor",
    kind: "switch",
    pin_port: "5",
  }]);
  emulator.mqttWithheld.add(device.device_id);
  // The emulator judges expiry by the real time: the manual clock starts there.
  const clock = new ManualClock(Date.now());
  const { api, tokens } = deviceApi(device, inProcess, clock);
  const catalog = await fetchCatalog(api, await tokens.get(), device.device_id);
  const { bindings } = bindRoutes(catalog.mqtt_routes, [
    parseRoute({ pin_port: "6", line: { chip: "gpiochip0", offset: 6 } }),
    parseRoute({ pin_port: "5", line: { chip: "gpiochip0", offset: 5 } }),
  ]);
  const store = await DeviceStore.open(":memory:");
  const outbox = new Outbox({ store, clock, logger: silentLogger, ackTimeoutMs: 60_000 });
  const relay = new FakeOutput();
  const command = bindings.find((binding) => binding.route.source_type === "command")!;
  const sensor = bindings.find((binding) => binding.route.source_type === "sensor")!;
  const handler = new DesiredHandler({ ledger: deviceLedger(store, outbox), clock, logger: silentLogger }, command, relay);
  const link = new HttpsLink({
    api,
    tokens,
    deviceId: device.device_id,
    routes: bindings.map((binding) => binding.route),
    desired: { deliverToCommand: (id, desired) => (id === command.route.source_id ? handler.handle(desired) : undefined) },
    outbox,
    clock,
    logger: silentLogger,
    backoff: DEFAULT_BACKOFF,
    pollMs: 1000,
    catalogCheckMs: 5000,
  });
  const stop = new AbortController();
  const running = link.run(stop.signal);
  return { device, clock, store, outbox, relay, command, sensor, running, stop };
}

describe("HttpsLink", () => {
  it("applies a desired state it polls, then reports it and deletes it once the server has it", async () => {
    const { device, clock, store, relay, command, running, stop } = await setup();
    await turnsUntil("the first poll to end", () => clock.sleeping > 0);
    const desired = {
      desiredId: "des_https_1",
      deviceId: device.device_id,
      routeId: emulator.state.devices.get(device.device_id)!.routes.find((r) => r.sourceId === command.route.source_id)!.routeId,
      value: "1.0",
      sequenceNumber: 1,
      requestedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 300_000).toISOString(),
      answer: undefined,
    };
    emulator.state.addDesired(desired);
    await clock.advance(1000);
    await turnsUntil("the report to reach the server", () => emulator.state.desired.get("des_https_1")?.answer !== undefined);
    assert.deepEqual(relay.writes, [1], "applied once");
    assert.deepEqual(emulator.state.desired.get("des_https_1")?.answer?.value, "1.0", "the server has the report");
    await clock.advance(1000);
    await turnsUntil("the next poll", () => clock.sleeping > 0);
    assert.deepEqual(relay.writes, [1], "answered requests are not listed again, nor applied again");
    await clock.advance(SETTLE_WAIT_MS);
    assert.equal(outboxDepth(store), 0, "the report's row went once the server took it");
    stop.abort();
    assert.equal(await running, undefined);
  });

  it("sends what waits as feed-data batches, in order, each once, with the sensor's id", async () => {
    const { device, clock, outbox, sensor, running, stop } = await setup();
    const at = new Date().toISOString();
    for (let i = 0; i < 150; i++) {
      outbox.enqueue(sensor.route.mqtt.feed_data_topic, 1, { message_id: `r-${i}`, value: String(i % 2), value_received_at: at });
    }
    await turnsUntil("150 readings at the server", () => emulator.state.feedOf(device.device_id).length >= 150);
    const feed = emulator.state.feedOf(device.device_id);
    assert.deepEqual(
      feed.map((entry) => (entry.payload as { message_id: string }).message_id),
      Array.from({ length: 150 }, (_, i) => `r-${i}`),
    );
    assert.ok(feed.every((entry) => entry.status === "accepted"));
    await clock.advance(10);
    assert.equal(outbox.depth, 0);
    stop.abort();
    await running;
  });

  it("ends with the new catalog once the server offers MQTT", async () => {
    const { device, clock, running } = await setup();
    for (let second = 0; second < 3; second++) {
      await turnsUntil("a poll to end", () => clock.sleeping > 0);
      await clock.advance(1000);
    }
    emulator.mqttWithheld.delete(device.device_id);
    let ended = false;
    void running.then(() => (ended = true));
    // The catalog is looked at every 5 s of polling: by then the link hands it back.
    for (let second = 3; second < 6 && !ended; second++) {
      await turnsUntil("a poll to end", () => ended || clock.sleeping > 0);
      await clock.advance(1000);
    }
    await turnsUntil("the link to end", () => ended);
    const catalog = await running;
    assert.ok(catalog?.mqtt.credential_endpoint, "handed back to the runtime, which moves to MQTT");
  });
});
