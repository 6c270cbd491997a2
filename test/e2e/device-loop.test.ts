// The device loop against the real emulator and mosquitto: desired → line → report → ack,
// sensor edges → readings, and the rules of 5.3 for every kind of desired state.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { DEMO_ROUTES, RELAY_LINE, type RunningDevice, startDevice, startEmulator, SWITCH_LINE, waitFor } from "../helpers/harness.ts";

describe("device loop (emulator + mosquitto + mock GPIO)", () => {
  let emulator: Emulator;
  let stopEmulator: () => Promise<void>;
  let dev: RunningDevice;
  let relay: string;

  before(async () => {
    ({ emulator, stop: stopEmulator } = await startEmulator());
    dev = await startDevice(emulator);
    relay = dev.device.routes.find((route) => route.source_type === "command")!.source_id;
    await waitFor("the device to come online", () => dev.seen.online.length > 0);
  });

  after(async () => {
    await dev?.stop();
    await stopEmulator?.();
  });

  const ackFor = (desiredId: string) =>
    waitFor(
      `the ack of the report for ${desiredId}`,
      () => emulator.state.acksOf(dev.device.device_id).find((ack) => ack.desired_id === desiredId),
    );

  it("holds no HTTPS write access while MQTT serves it: its tokens ask only for what it uses", () => {
    const tokens = [...emulator.state.tokens.values()].filter((token) => token.deviceId === dev.device.device_id);
    assert.ok(tokens.length > 0);
    for (const token of tokens) assert.ok(!token.scopes.includes("iot:feed-data:write"), token.scopes.join(" "));
  });

  it("sets the relay line active and gets the report for the desired_id accepted", async () => {
    assert.equal(dev.mock.getLevel(RELAY_LINE), 0);
    const desired = await emulator.setDesired(dev.device.device_id, relay, "1.0");
    const ack = await ackFor(desired.desiredId);
    assert.equal(ack.status, "accepted");
    assert.equal(dev.mock.getLevel(RELAY_LINE), 1);
    const report = emulator.state.feedOf(dev.device.device_id).find((entry) =>
      (entry.payload as { desired_id?: string }).desired_id === desired.desiredId
    );
    assert.deepEqual(
      { value: (report?.payload as { value: string }).value, status: (report?.payload as { report_status?: string }).report_status },
      { value: "1.0", status: undefined },
      "an applied report carries the observed value and omits report_status",
    );
    await waitFor(
      "the device to see the ack",
      () => dev.seen.settled.some((s) => s.payload?.desired_id === desired.desiredId && s.status === "accepted"),
    );
    // The read of open desired states after connect may list this one while its report is in
    // flight: a duplicate delivery, whose report goes once more (answered `replayed`). Nothing stays.
    await waitFor("the outbox to empty", () => dev.runtime.outboxDepth === 0);
  });

  it("reports a sensor change with the time it was observed, and the reading is accepted", async () => {
    const before = Date.now();
    dev.mock.setPull(SWITCH_LINE, 1);
    const entry = await waitFor(
      "the reading at the emulator",
      () =>
        emulator.state.feedOf(dev.device.device_id).find((e) => e.sourceId !== relay && (e.payload as { value?: string }).value === "1.0"),
    );
    assert.equal(entry.status, "accepted");
    const observed = Date.parse((entry.payload as { value_received_at: string }).value_received_at);
    assert.ok(observed >= before - 5 && observed <= Date.now(), "value_received_at is the moment of observation");
    dev.mock.setPull(SWITCH_LINE, 0);
  });

  it("answers a redelivered desired_id with the stored report, replayed, without acting twice", async () => {
    const desired = await emulator.setDesired(dev.device.device_id, relay, "0.0");
    await ackFor(desired.desiredId);
    assert.equal(dev.mock.getLevel(RELAY_LINE), 0);
    const applied = dev.seen.desired.filter((o) => o.desiredId === desired.desiredId && o.status === "applied").length;
    await emulator.redeliver(desired.desiredId);
    const replay = await waitFor(
      "the replayed ack",
      () => emulator.state.acksOf(dev.device.device_id).find((ack) => ack.desired_id === desired.desiredId && ack.status === "replayed"),
    );
    assert.equal(replay.status, "replayed");
    assert.equal(dev.seen.desired.filter((o) => o.desiredId === desired.desiredId && o.status === "applied").length, applied);
    assert.equal(dev.seen.desired.filter((o) => o.desiredId === desired.desiredId && o.status === "duplicate").length, 1);
  });

  it("answers an outdated sequence_number stale without touching the line", async () => {
    const newer = await emulator.setDesired(dev.device.device_id, relay, "1.0");
    await ackFor(newer.desiredId);
    const route = emulator.state.devices.get(dev.device.device_id)!.routes.find((r) => r.sourceId === relay)!;
    route.lastSequence -= 2; // the emulator now hands out a number lower than the one applied
    const older = await emulator.setDesired(dev.device.device_id, relay, "0.0");
    route.lastSequence += 2;
    await ackFor(older.desiredId);
    const report = emulator.state.desired.get(older.desiredId)!.answer;
    assert.deepEqual(report, { messageId: report!.messageId, reportStatus: "stale", value: "1.0" });
    assert.equal(dev.mock.getLevel(RELAY_LINE), 1, "the line keeps the newer value");
  });

  it("answers an expired desired state stale without touching the line", async () => {
    const expired = await emulator.setDesired(dev.device.device_id, relay, "0.0", -5);
    await ackFor(expired.desiredId);
    assert.equal(emulator.state.desired.get(expired.desiredId)!.answer?.reportStatus, "stale");
    assert.equal(dev.mock.getLevel(RELAY_LINE), 1);
  });

  it("answers a value the relay cannot take rejected, with the physical state", async () => {
    const outOfRange = await emulator.setDesired(dev.device.device_id, relay, "0.5");
    await ackFor(outOfRange.desiredId);
    assert.deepEqual(
      {
        status: emulator.state.desired.get(outOfRange.desiredId)!.answer?.reportStatus,
        value: emulator.state.desired.get(outOfRange.desiredId)!.answer?.value,
      },
      { status: "rejected", value: "1.0" },
    );
    const notANumber = await emulator.setDesired(dev.device.device_id, relay, "on");
    await ackFor(notANumber.desiredId);
    assert.equal(emulator.state.desired.get(notANumber.desiredId)!.answer?.reportStatus, "rejected");
    assert.equal(dev.mock.getLevel(RELAY_LINE), 1);
  });

  it("survives malformed desired messages and keeps serving", async () => {
    await emulator.publishRawDesired(dev.device.device_id, relay, "not json");
    await emulator.publishRawDesired(dev.device.device_id, relay, JSON.stringify({ value: "1.0" }));
    const desired = await emulator.setDesired(dev.device.device_id, relay, "0.0");
    const ack = await ackFor(desired.desiredId);
    assert.equal(ack.status, "accepted");
    assert.equal(dev.mock.getLevel(RELAY_LINE), 0);
  });

  it("answers a desired state on a catalog command route the config binds to no line rejected, once, and keeps serving", async () => {
    const device = emulator.provision([...DEMO_ROUTES, { source_type: "command", kind: "relay", pin_port: "7" }]);
    const gap = await startDevice(emulator, { device });
    try {
      await waitFor("online", () => gap.seen.online.length > 0);
      const unbound = device.routes.find((route) => route.pin_port === "7")!.source_id;
      const first = await emulator.setDesired(device.device_id, unbound, "1.0");
      const ack = await waitFor("its answer", () => emulator.state.acksOf(device.device_id).find((a) => a.desired_id === first.desiredId));
      assert.equal(ack.status, "accepted", "the report itself is taken");
      const report = emulator.state.feedOf(device.device_id).find((entry) =>
        (entry.payload as { desired_id?: string }).desired_id === first.desiredId
      )?.payload as { value: string; report_status?: string };
      assert.deepEqual([report.report_status, report.value], ["rejected", "0.0"], "rejected, with the value nothing drives");
      const second = await emulator.setDesired(device.device_id, unbound, "0.0");
      await waitFor("the second answer", () => emulator.state.acksOf(device.device_id).some((a) => a.desired_id === second.desiredId));
      assert.equal(gap.log.filter((line) => line.includes("route.unserved")).length, 1, "the gap is logged once per route");
      const relayId = device.routes.find((route) => route.pin_port === "6")!.source_id;
      const served = await emulator.setDesired(device.device_id, relayId, "1.0");
      await waitFor(
        "the bound relay still served",
        () => emulator.state.acksOf(device.device_id).some((a) => a.desired_id === served.desiredId),
      );
      assert.equal(gap.mock.getLevel(RELAY_LINE), 1);
      assert.equal(gap.mock.getLevel({ chip: "gpiochip0", offset: 7 }), 0, "no line 7 was ever touched");
    } finally {
      await gap.stop();
    }
  });

  it("keeps serving every route while a sensor samples on its own interval", async () => {
    const sampled = await startDevice(emulator, { sampleIntervalS: 1 });
    try {
      const sensorTopic = sampled.device.routes.find((route) => route.source_type === "sensor")!.feed_data_topic;
      await waitFor(
        "a start-up reading and two samples, all accepted",
        () => sampled.seen.settled.filter((s) => s.topic === sensorTopic && s.status === "accepted").length >= 3,
        5_000,
      );
      const ids = sampled.seen.reading.map((reading) => reading.messageId);
      assert.equal(new Set(ids).size, ids.length, "each sample is a new event with its own message_id");
    } finally {
      await sampled.stop();
    }
  });
});
