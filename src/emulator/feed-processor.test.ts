import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { processFeed } from "./feed-processor.ts";
import { EmulatorState } from "./state.ts";

const state = new EmulatorState();
const device = state.addDevice("secret", [{ source_type: "command", pin_port: "6" }, { source_type: "sensor" }]);
const relay = device.routes[0]!;
const sensor = device.routes[1]!;
const policy = { maxPayloadBytes: 4096 };
const send = (route: typeof relay, payload: unknown) =>
  processFeed(state, device, route, new TextEncoder().encode(typeof payload === "string" ? payload : JSON.stringify(payload)), policy, 0)
    .ack;

describe("processFeed()", () => {
  it("accepts, replays the same meaning, and flags another payload under one id as conflict", () => {
    const reading = { message_id: "r1", value: "21.5", value_received_at: "2026-04-29T10:00:01Z" };
    assert.equal(send(sensor, reading).status, "accepted");
    assert.equal(
      send(sensor, { value: "21.5", value_received_at: "2026-04-29T10:00:01Z", message_id: "r1", extra: true }).status,
      "replayed",
    );
    assert.equal(send(sensor, { ...reading, value: "21.6" }).status, "conflict");
    assert.equal(send(relay, reading).status, "accepted", "message ids are scoped to the route");
  });

  it("treats an omitted report_status as applied when comparing a retry", () => {
    state.desired.set("des_1", {
      desiredId: "des_1",
      deviceId: device.deviceId,
      routeId: relay.routeId,
      value: "1.0",
      sequenceNumber: 1,
      requestedAt: "",
      expiresAt: "",
      answer: undefined,
    });
    const report = { message_id: "c1", value: "1.0", value_received_at: "2026-04-29T10:00:03Z", desired_id: "des_1", sequence_number: 1 };
    assert.equal(send(relay, report).status, "accepted");
    assert.equal(send(relay, { ...report, report_status: "applied" }).status, "replayed");
    assert.equal(state.desired.get("des_1")?.answer?.reportStatus, "applied");
  });

  it("rejects invalid payloads with the error type the spec lists", () => {
    const cases: [unknown, string][] = [
      ["{", "invalid_payload"],
      [{ value: "1", value_received_at: "2026-04-29T10:00:01Z" }, "invalid_payload"],
      [{ message_id: "x", value: 1, value_received_at: "2026-04-29T10:00:01Z" }, "invalid_payload"],
      [{ message_id: "x", value: "1", value_received_at: "2026-04-29 10:00:01" }, "invalid_payload"],
      [{ message_id: "x", value: "abc", value_received_at: "2026-04-29T10:00:01Z" }, "invalid_payload"],
      [{ message_id: "x", value: "1", value_received_at: "2026-04-29T10:00:01Z", report_status: "stale" }, "invalid_payload"],
      [{ message_id: "x", value: "1", value_received_at: "2026-04-29T10:00:01Z", desired_id: "des_nope" }, "unknown_desired_id"],
      [{ message_id: "x", value: "1".repeat(5000), value_received_at: "2026-04-29T10:00:01Z" }, "payload_too_large"],
    ];
    for (const [payload, type] of cases) {
      const ack = send(sensor, payload);
      assert.deepEqual([ack.status, ack.error?.type, ack.retryable], ["rejected", type, false], JSON.stringify(payload).slice(0, 80));
    }
  });

  it("fills the ack with the route it answers for", () => {
    const ack = send(sensor, { message_id: "r9", value: "1", value_received_at: "2026-04-29T10:00:01Z" });
    assert.deepEqual(
      {
        source_type: ack.source_type,
        source_id: ack.source_id,
        feed_data_topic: ack.feed_data_topic,
        desired_id: ack.desired_id,
        error: ack.error,
      },
      { source_type: "sensor", source_id: sensor.sourceId, feed_data_topic: sensor.feedDataTopic, desired_id: null, error: null },
    );
  });
});
