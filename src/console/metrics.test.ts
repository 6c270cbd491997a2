import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Counter, CounterReader, Gauge, Histogram, Registry } from "./metrics.ts";

describe("OpenMetrics registry", () => {
  it("writes counters, gauges and cumulative histograms, and ends with # EOF", () => {
    const registry = new Registry();
    const acks = registry.add(new Counter("realer_acks", "Acks by status."));
    acks.inc({ status: "accepted" });
    acks.inc({ status: "accepted" });
    acks.inc({ status: "rejected" });
    registry.add(new CounterReader("realer_mqtt_reconnects", "Reconnects.", () => [{ labels: {}, value: 3 }]));
    registry.add(new Gauge("realer_outbox_depth", "Depth.", () => 7));
    const latency = registry.add(new Histogram("realer_apply_seconds", "Latency.", [0.01, 0.1, 1]));
    for (const value of [0.005, 0.05, 0.05, 2]) latency.observe(value);
    assert.equal(
      registry.render(),
      [
        "# TYPE realer_acks counter",
        "# HELP realer_acks Acks by status.",
        'realer_acks_total{status="accepted"} 2',
        'realer_acks_total{status="rejected"} 1',
        "# TYPE realer_mqtt_reconnects counter",
        "# HELP realer_mqtt_reconnects Reconnects.",
        "realer_mqtt_reconnects_total 3",
        "# TYPE realer_outbox_depth gauge",
        "# HELP realer_outbox_depth Depth.",
        "realer_outbox_depth 7",
        "# TYPE realer_apply_seconds histogram",
        "# HELP realer_apply_seconds Latency.",
        'realer_apply_seconds_bucket{le="0.01"} 1',
        'realer_apply_seconds_bucket{le="0.1"} 3',
        'realer_apply_seconds_bucket{le="1"} 3',
        'realer_apply_seconds_bucket{le="+Inf"} 4',
        "realer_apply_seconds_count 4",
        "realer_apply_seconds_sum 2.105",
        "# EOF",
        "",
      ].join("\n"),
    );
  });

  it("escapes label values", () => {
    const registry = new Registry();
    registry.add(new Counter("c", "x")).inc({ path: 'a"b\\c\nd' });
    assert.match(registry.render(), /^c_total\{path="a\\"b\\\\c\\nd"\} 1$/m);
  });
});
