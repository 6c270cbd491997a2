import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRoute } from "../config/schema.ts";
import { Faults } from "../faults.ts";
import { MockBackend } from "../hal/mock.ts";
import { silentLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import { Outbox } from "../outbox/outbox.ts";
import { DeviceStore } from "../state/store.ts";
import type { Binding } from "./bindings.ts";
import { boundRoute, SensorReader } from "./sensor-reader.ts";

const TOPIC = "realer/iot/v1/devices/cdv_1/routes/rte_5/feed-data";
const SWITCH = { chip: "gpiochip0", offset: 5 };
const START = Date.UTC(2026, 11, 1, 8);

async function setup(extra: Record<string, unknown> = {}) {
  const clock = new ManualClock(START);
  const backend = new MockBackend(undefined, { clock });
  const store = await DeviceStore.open(":memory:");
  const outbox = new Outbox({ store, clock, logger: silentLogger, ackTimeoutMs: 60_000 });
  const faults = new Faults(silentLogger, clock);
  const binding: Binding = {
    route: { source_type: "sensor", source_id: "sen_5", mqtt: { feed_data_topic: TOPIC } },
    config: parseRoute({ pin_port: "5", line: SWITCH, ...extra }),
    key: TOPIC,
    name: "sen_5",
  };
  const line = await backend.requestLine(SWITCH, { direction: "input", edge: "both" }, "test");
  const readings: { value: string; observedAt: number }[] = [];
  const reader = new SensorReader({
    route: boundRoute(binding),
    line,
    outbox,
    clock,
    logger: silentLogger,
    faults,
    onReading: ({ value, observedAt }) => readings.push({ value, observedAt }),
  });
  const stored = async () => {
    await new Promise((resolve) => setTimeout(resolve, 0)); // the turn's readings are written at its end
    return store.outbox.pending(100).map((row) => ({ topic: row.topic, priority: row.priority, ...JSON.parse(row.payload) }));
  };
  return { clock, backend, reader, readings, faults, stored };
}

describe("SensorReader", () => {
  it("reports the value at start, then every edge stamped with the moment it was seen, as telemetry on the route's topic", async () => {
    const { clock, backend, reader, readings, stored } = await setup();
    await reader.start();
    await clock.advance(250);
    backend.setPull(SWITCH, 1);
    await clock.advance(250);
    backend.setPull(SWITCH, 0);
    assert.deepEqual(readings, [
      { value: "0.0", observedAt: START },
      { value: "1.0", observedAt: START + 250 },
      { value: "0.0", observedAt: START + 500 },
    ]);
    const rows = await stored();
    assert.deepEqual(rows.map((row) => [row.topic, row.priority, row.value, row.value_received_at]), [
      [TOPIC, 1, "0.0", new Date(START).toISOString()],
      [TOPIC, 1, "1.0", new Date(START + 250).toISOString()],
      [TOPIC, 1, "0.0", new Date(START + 500).toISOString()],
    ]);
    assert.equal(new Set(rows.map((row) => row.message_id)).size, 3, "each reading its own message_id");
    reader.stop();
  });

  it("samples on sample_interval_s as a heartbeat; a read that fails is counted, not thrown, and sampling goes on", async () => {
    const { clock, backend, reader, readings, faults } = await setup({ sample_interval_s: 10 });
    await reader.start();
    await clock.advance(10_000);
    backend.failLine(SWITCH, { get: true });
    await clock.advance(10_000);
    await clock.advance(10_000);
    backend.failLine(SWITCH, {});
    await clock.advance(10_000);
    assert.deepEqual(readings.map((reading) => reading.observedAt - START), [0, 10_000, 40_000], "the failing samples made no reading");
    assert.deepEqual(faults.counts(), [{ where: "sensor.read_failed", count: 2 }]);
    reader.stop();
    backend.setPull(SWITCH, 1);
    await clock.advance(10_000);
    assert.equal(readings.length, 3, "after stop(): no edge, no sample");
  });
});
