// The emulator restarted on the same state folder while a device runs: same URLs, same devices,
// and its idempotency records intact, so a message accepted before the restart is replayed after.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Emulator } from "../../src/emulator/emulator.ts";
import { DEMO_ROUTES, RELAY_LINE, startDevice, SWITCH_LINE, tempDir, testLogger, waitFor } from "../helpers/harness.ts";
import { addToOutbox } from "../helpers/state.ts";

describe("emulator restart", () => {
  it("keeps devices, ports and ack records; a running device carries on", { timeout: 60_000 }, async () => {
    const dir = tempDir("emulator-restart");
    let emulator = new Emulator({ stateDir: dir.path, logger: testLogger("emulator") });
    await emulator.start();
    const device = emulator.provision(DEMO_ROUTES);
    const dev = await startDevice(emulator, { device });
    try {
      await waitFor("online", () => dev.seen.online.length > 0);
      await waitFor("the start-up reading accepted", () => dev.runtime.outboxDepth === 0);
      const first = emulator.state.feedOf(device.device_id)[0]!;
      const url = emulator.url;
      const relay = device.routes.find((route) => route.source_type === "command")!.source_id;
      const before = await emulator.setDesired(device.device_id, relay, "0.0");
      await waitFor("a desired state before the restart", () => emulator.state.desired.get(before.desiredId)?.answer);

      await emulator.stop();
      await waitFor("the device to notice", () => dev.seen.offline.length > 0);
      dev.mock.setPull(SWITCH_LINE, 1);
      const offlineReading = dev.seen.reading.at(-1)!.messageId;

      emulator = new Emulator({ stateDir: dir.path, logger: testLogger("emulator") });
      await emulator.start();
      assert.equal(emulator.url, url, "the same HTTPS URL");
      await waitFor(
        "the reading made while the emulator was down to be accepted",
        () =>
          emulator.state.feedOf(device.device_id).find((e) =>
            (e.payload as { message_id?: string }).message_id === offlineReading && e.status === "accepted"
          ),
        20_000,
      );

      // The device sends the very first message again, as after a lost ack; the outbox sends it
      // with its next pump, which the report below triggers.
      const sensorTopic = device.routes.find((route) => route.source_type === "sensor")!.feed_data_topic;
      addToOutbox(dev.store, sensorTopic, 1, first.payload as { message_id: string; value: string; value_received_at: string }, Date.now());
      // Had the emulator forgotten its sequence numbers, this would be 1 again and answered stale.
      const after = await emulator.setDesired(device.device_id, relay, "1.0");
      assert.equal(after.sequenceNumber, before.sequenceNumber + 1);
      await waitFor("the desired state after the restart", () => emulator.state.desired.get(after.desiredId)?.answer, 10_000);
      assert.equal(emulator.state.desired.get(after.desiredId)?.answer?.reportStatus, "applied");
      assert.equal(dev.mock.getLevel(RELAY_LINE), 1);
      const replay = await waitFor(
        "the replayed ack",
        () =>
          emulator.state.acksOf(device.device_id).find((ack) =>
            ack.message_id === (first.payload as { message_id: string }).message_id && ack.status === "replayed"
          ),
        10_000,
      );
      assert.equal(replay.status, "replayed");
    } finally {
      await dev.stop();
      await emulator.stop();
      dir.remove();
    }
  });
});
