import assert from "node:assert/strict";
import { inspect } from "node:util";
import { describe, it } from "node:test";
import { batchedSink, createLogger } from "./log.ts";
import { Secret } from "./secret.ts";

describe("createLogger()", () => {
  it("writes one JSON object per line with level, source, event and fields", () => {
    const lines: string[] = [];
    const log = createLogger({ format: "json", source: "device", sink: (line) => lines.push(line), now: () => 0 });
    log.info("mqtt.connected", { broker: "mqtts://127.0.0.1:8883", attempt: 2 });
    assert.deepEqual(JSON.parse(lines[0]!), {
      time: "1970-01-01T00:00:00.000Z",
      level: "info",
      source: "device",
      event: "mqtt.connected",
      broker: "mqtts://127.0.0.1:8883",
      attempt: 2,
    });
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

describe("batchedSink()", () => {
  it("writes the lines of one turn in one write, in order, and nothing is lost", async () => {
    const writes: string[] = [];
    const { sink } = batchedSink((text) => writes.push(text));
    const log = createLogger({ format: "json", sink, now: () => 0 });
    for (let i = 0; i < 100; i++) log.info("ack.received", { message_id: `m-${i}` });
    assert.equal(writes.length, 0, "nothing written before the turn ends");
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(writes.length, 1, "one write for the burst");
    assert.deepEqual(
      writes[0]!.split("\n").map((line) => (JSON.parse(line) as { message_id: string }).message_id),
      Array.from({ length: 100 }, (_, i) => `m-${i}`),
    );
    log.info("later");
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(writes.length, 2, "a later turn writes again");
  });

  it("writes what waits on flush (before an exit), and at once when a burst grows large", () => {
    const writes: string[] = [];
    const { sink, flush } = batchedSink((text) => writes.push(text));
    sink("one", "info");
    sink("two", "error");
    flush();
    assert.deepEqual(writes, ["one\ntwo"]);
    flush();
    assert.equal(writes.length, 1, "an empty flush writes nothing");
    const long = "x".repeat(40 * 1024);
    sink(long, "info");
    sink(long, "info");
    assert.equal(writes.length, 2, "64 KiB waiting is written without waiting for the turn");
    flush();
  });
});
