// A device the server does not offer MQTT: desired states by HTTPS polling, feed data by POST
// from the same outbox and ledger, then MQTT as soon as it is offered; and the bootstrap.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { DeviceStore } from "../../src/state/store.ts";
import { DEMO_ROUTES, RELAY_LINE, startDevice, startEmulator, SWITCH_LINE, tempDir, waitFor } from "../helpers/harness.ts";
import { addToOutbox } from "../helpers/state.ts";

describe("HTTPS runtime and bootstrap (emulator section 8)", () => {
  let emulator: Emulator;
  let stop: () => Promise<void>;

  before(async () => {
    ({ emulator, stop } = await startEmulator());
  });

  after(async () => {
    await stop?.();
  });

  it("works over HTTPS polling without MQTT, then moves to MQTT when it is offered", { timeout: 60_000 }, async () => {
    const device = emulator.provision(DEMO_ROUTES);
    emulator.mqttWithheld.add(device.device_id);
    const dev = await startDevice(emulator, { device });
    try {
      assert.equal(dev.runtime.transport, "https");
      const relay = device.routes.find((route) => route.source_type === "command")!.source_id;
      const overHttps = await emulator.setDesired(device.device_id, relay, "1.0");
      await waitFor(
        "the desired state polled, applied and reported over HTTPS",
        () => emulator.state.desired.get(overHttps.desiredId)?.answer,
        10_000,
      );
      assert.equal(dev.mock.getLevel(RELAY_LINE), 1);
      dev.mock.setPull(SWITCH_LINE, 1);
      const reading = dev.seen.reading.at(-1)!.messageId;
      await waitFor(
        "the reading posted",
        () =>
          emulator.state.feedOf(device.device_id).find((e) =>
            (e.payload as { message_id?: string }).message_id === reading && e.status === "accepted"
          ),
        10_000,
      );
      assert.equal(
        emulator.requests.some((r) => r.path.endsWith("/mqtt-credentials")),
        false,
        "no MQTT credential asked for while MQTT is not offered",
      );

      emulator.mqttWithheld.delete(device.device_id);
      await waitFor("the move to MQTT", () => dev.seen.online.length > 0, 15_000);
      assert.equal(dev.runtime.transport, "mqtt");
      const overMqtt = await emulator.setDesired(device.device_id, relay, "0.0");
      await waitFor("the desired state over MQTT", () => emulator.state.desired.get(overMqtt.desiredId)?.answer, 10_000);
      assert.equal(dev.mock.getLevel(RELAY_LINE), 0);
      assert.equal(
        dev.seen.desired.filter((o) => o.desiredId === overHttps.desiredId && o.status === "applied").length,
        1,
        "the HTTPS answer is not repeated",
      );
    } finally {
      await dev.stop();
    }
  });

  it("polls no faster than the server's cadence", { timeout: 30_000 }, async () => {
    const device = emulator.provision(DEMO_ROUTES);
    emulator.mqttWithheld.add(device.device_id);
    const from = emulator.requests.length;
    const dev = await startDevice(emulator, { device });
    try {
      await new Promise((resolve) => setTimeout(resolve, 3500));
      const polls = emulator.requests.slice(from).filter((r) => r.path === `/iot/v1/devices/${device.device_id}/desired-states`);
      assert.ok(polls.length >= 2 && polls.length <= 5, `${polls.length} polls in 3.5 s at a 1 s cadence`);
      const gaps = polls.slice(1).map((poll, i) => poll.at - polls[i]!.at);
      assert.ok(gaps.every((gap) => gap >= 950), `gaps ${gaps.join(", ")} ms`);
    } finally {
      await dev.stop();
    }
  });

  it("uses only a protocol the bootstrap lists, and takes a 404 as an older server", { timeout: 30_000 }, async () => {
    emulator.faults.noBootstrap = true;
    try {
      const dev = await startDevice(emulator);
      try {
        await waitFor("MQTT without a bootstrap", () => dev.seen.online.length > 0);
        assert.equal(dev.runtime.transport, "mqtt");
      } finally {
        await dev.stop();
      }
    } finally {
      emulator.faults.noBootstrap = false;
    }
    emulator.faults.bootstrapProtocols = ["https"];
    try {
      const from = emulator.requests.length;
      const dev = await startDevice(emulator);
      try {
        assert.equal(dev.runtime.transport, "https", "the catalog offers MQTT, the bootstrap lists only HTTPS");
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(emulator.requests.slice(from).some((r) => r.path.endsWith("/mqtt-credentials")), false);
      } finally {
        await dev.stop();
      }
    } finally {
      emulator.faults.bootstrapProtocols = undefined;
    }
  });

  it("drains a backlog over HTTPS in feed-data/batches, in order, each reading once", { timeout: 60_000 }, async () => {
    const device = emulator.provision(DEMO_ROUTES);
    emulator.mqttWithheld.add(device.device_id);
    const sensor = device.routes.find((route) => route.source_type === "sensor")!;
    const dir = tempDir("https-backlog");
    const store = await DeviceStore.open(dir.path);
    const backlog = 300;
    for (let i = 0; i < backlog; i++) {
      addToOutbox(store, sensor.feed_data_topic, 1, {
        message_id: `backlog-${i}`,
        value: String(i % 2),
        value_received_at: new Date(Date.UTC(2026, 10, 30, 0, 0, i)).toISOString(),
      }, i);
    }
    store.close();
    const posts = { batches: 0, single: 0 };
    const dev = await startDevice(emulator, {
      device,
      stateDir: dir.path,
      wrapFetch: (inner) =>
        ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
          const url = String(input instanceof Request ? input.url : input);
          if (url.endsWith("/feed-data/batches")) posts.batches++;
          else if (url.endsWith("/feed-data")) posts.single++;
          return inner(input, init);
        }) as typeof fetch,
    });
    try {
      assert.equal(dev.runtime.transport, "https");
      const ids = () =>
        emulator.state.feedOf(device.device_id).map((entry) => (entry.payload as { message_id?: string }).message_id).filter((id) =>
          id?.startsWith("backlog-")
        );
      await waitFor("the backlog to arrive", () => ids().length >= backlog, 30_000);
      assert.deepEqual(ids(), Array.from({ length: backlog }, (_, i) => `backlog-${i}`), "in order, each once");
      assert.ok(
        posts.batches > 0 && posts.batches + posts.single <= backlog / 10,
        `${posts.batches} batch POSTs and ${posts.single} single ones for ${backlog} readings`,
      );
      await waitFor("the outbox to empty", () => dev.runtime.outboxDepth === 0, 10_000);
    } finally {
      await dev.stop();
      emulator.mqttWithheld.delete(device.device_id);
    }
  });
});
