import assert from "node:assert/strict";
import { inspect } from "node:util";
import { describe, it } from "node:test";
import { createLogger } from "./log.ts";
import { Secret } from "./secret.ts";

describe("createLogger()", () => {
  it("writes one JSON object per line with level, source, event and fields", () => {
    const lines: string[] = [];
    const log = createLogger({ format: "json", source: "device", sink: (line) => lines.push(line), now: () => 0 });
    log.info("mqtt.connected", { broker: "mqtts://127.0.0.1:8883", attempt: 2 });
    assert.deepEqual(JSON.parse(lines[0]!), { time: "1970-01-01T00:00:00.000Z", level: "info", source: "device", event: "mqtt.connected", broker: "mqtts://127.0.0.1:8883", attempt: 2 });
  });

  it("drops events below its level", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", sink: (line) => lines.push(line) });
    log.info("quiet");
    log.warn("loud");
    assert.equal(lines.length, 1);
  });

  it("never prints a Secret, in either format or through inspect", () => {
    const secret = new Secret("hunter2-password");
    const lines: string[] = [];
    for (const format of ["text", "json"] as const) {
      createLogger({ format, sink: (line) => lines.push(line) }).info("credential", { password: secret });
    }
    lines.push(String(secret), `${secret}`, JSON.stringify({ secret }), inspect(secret), inspect({ nested: { secret } }));
    for (const line of lines) assert.ok(!line.includes("hunter2"), line);
    assert.equal(secret.reveal(), "hunter2-password");
  });

  it("cuts a field that came from the network to a sane length and says how much went", () => {
    const lines: string[] = [];
    for (const format of ["text", "json"] as const) {
      createLogger({ format, sink: (line) => lines.push(line) }).warn("desired.invalid", { desired_id: "x".repeat(1_000_000) });
    }
    for (const line of lines) {
      assert.ok(line.length < 500, `line of ${line.length} characters`);
      assert.match(line, /…\(\+999700 chars\)/);
    }
  });
});
