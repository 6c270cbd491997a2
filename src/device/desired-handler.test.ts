import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRoute } from "../config/schema.ts";
import type { LineValue } from "../hal/types.ts";
import { silentLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import { decodeJson, type FeedPayload } from "../mqtt/messages.ts";
import type { Binding } from "./bindings.ts";
import { DesiredHandler, type DesiredOutcome } from "./desired-handler.ts";
import { deviceLedger } from "./ledger.ts";
import { Outbox } from "../outbox/outbox.ts";
import { DeviceStore } from "../state/store.ts";
import { FakeOutput } from "../../test/helpers/fake-output.ts";
import { seeded } from "../../test/helpers/seeded.ts";
import { addToOutbox, limitPages, pageCount } from "../../test/helpers/state.ts";

const TOPIC = "realer/iot/v1/devices/cdv_1/routes/rte_1/feed-data";
const binding: Binding = {
  route: {
    source_type: "command",
    source_id: "cmd_1",
    mqtt: { feed_data_topic: TOPIC, desired_topic: "realer/iot/v1/devices/cdv_1/routes/rte_1/desired" },
  },
  config: parseRoute({ pin_port: "6", line: { chip: "gpiochip0", offset: 6 } }),
  key: TOPIC,
  name: "cmd_1",
};

async function setup(maxPayloadBytes = 4096) {
  const clock = new ManualClock();
  const store = await DeviceStore.open(":memory:");
  const outbox = new Outbox({ store, clock, logger: silentLogger, ackTimeoutMs: 60_000, limits: { maxPayloadBytes } });
  const line = new FakeOutput();
  const outcomes: DesiredOutcome[] = [];
  const handler = new DesiredHandler(
    { ledger: deviceLedger(store, outbox), clock, logger: silentLogger, onOutcome: (outcome) => outcomes.push(outcome) },
    binding,
    line,
  );
  const reports = () =>
    store.outbox.pending(100_000).filter((row) => row.topic === TOPIC).map((row) => JSON.parse(row.payload) as FeedPayload);
  return { clock, store, outbox, line, outcomes, handler, reports };
}

/** What a transport hands the handler: the message decoded from JSON (text that is not JSON never reaches it). */
const decoded = (text: string): unknown => JSON.parse(text);
const desired = (id: string, value: unknown, sequence: number, extra: Record<string, unknown> = {}): unknown => ({
  desired_id: id,
  value,
  sequence_number: sequence,
  ...extra,
});

/** Fills the store to its page limit, as a full disk would be. */
function fill(store: DeviceStore): void {
  limitPages(store, pageCount(store) + 2);
  let n = 0;
  for (const size of [2000, 300, 40, 1]) {
    try {
      for (;;) addToOutbox(store, "filler", 1, { message_id: `filler-${n++}`, value: "x".repeat(size), value_received_at: "" }, 0);
    } catch {
      // Full at this size; try a smaller one.
    }
  }
}

describe("DesiredHandler", () => {
  it("applies a value, then records the report with the desired_id before handle() resolves", async () => {
    const { line, handler, reports, store } = await setup();
    await handler.handle(desired("des_1", "1.0", 1));
    assert.deepEqual(line.writes, [1]);
    const [report] = reports();
    assert.equal(report?.desired_id, "des_1");
    assert.equal(report?.value, "1.0");
    assert.equal(report?.report_status, undefined, "applied is the default, omitted");
    assert.equal(store.lines.value(line.key)?.value, 1, "remembered for restore in the same transaction");
  });

  it("answers a line that fails with EIO `rejected`, with what the line holds, and resolves", async () => {
    const { line, handler, reports, outcomes } = await setup();
    line.failSet = true;
    await handler.handle(desired("des_1", "1.0", 1));
    assert.deepEqual(reports().map((r) => [r.desired_id, r.report_status, r.value]), [["des_1", "rejected", "0.0"]]);
    assert.match(outcomes[0]?.reason ?? "", /the line failed: .*EIO/);
  });

  it("reports the value last written when the line cannot even be read", async () => {
    const { line, handler, reports } = await setup();
    await handler.handle(desired("des_1", "1.0", 1));
    line.failSet = true;
    line.failGet = true;
    await handler.handle(desired("des_2", "0.0", 2));
    assert.deepEqual(reports().map((r) => [r.desired_id, r.report_status ?? "applied", r.value]), [["des_1", "applied", "1.0"], [
      "des_2",
      "rejected",
      "1.0",
    ]]);
  });

  it("rejects a sequence_number past 2^53 without letting it into the high-water mark", async () => {
    const { line, handler, reports, store } = await setup();
    await handler.handle(decoded('{"desired_id":"des_big","value":"1.0","sequence_number":9223372036854775808}'));
    await handler.handle(desired("des_huge", "1.0", 1e300));
    await handler.handle(desired("des_5", "1.0", 5));
    assert.deepEqual(reports().map((r) => [r.desired_id, r.report_status ?? "applied", r.sequence_number]), [
      ["des_big", "rejected", undefined],
      ["des_huge", "rejected", undefined],
      ["des_5", "applied", 5],
    ]);
    assert.deepEqual(line.writes, [1], "only the valid request touched the line");
    assert.equal(store.ledger.highestSequence(TOPIC), 5);
  });

  it("answers a value nested 5,000 arrays deep `rejected` instead of overflowing the stack", async () => {
    const { line, handler, reports } = await setup();
    const deep = `{"desired_id":"des_deep","sequence_number":1,"value":${"[".repeat(5000)}${"]".repeat(5000)}}`;
    await handler.handle(decoded(deep));
    assert.deepEqual(reports().map((r) => [r.desired_id, r.report_status]), [["des_deep", "rejected"]]);
    assert.deepEqual(line.writes, []);
  });

  it("never answers with a report over max_payload_bytes: a 1 MB desired_id is logged, counted, and the line left alone", async () => {
    const { line, handler, reports, outbox, outcomes } = await setup();
    await handler.handle(desired("d".repeat(1_000_000), "1.0", 1));
    assert.deepEqual(reports(), []);
    assert.deepEqual(line.writes, []);
    assert.equal(outbox.stats.unanswerable, 1);
    assert.equal(outcomes[0]?.status, "unanswerable");
    assert.ok((outcomes[0]?.desiredId.length ?? 0) < 100, "the console gets a cut id");
  });

  it("on a full disk: rejects handle() (no PUBACK), leaves the relay alone, and answers each request once when space returns", async () => {
    const { clock, line, handler, reports, store } = await setup();
    await handler.handle(desired("des_1", "1.0", 1));
    fill(store);
    assert.ok(store.health.failing, "the filler hit the limit");
    assert.match(store.health.error ?? "", /full/);
    assert.doesNotMatch(store.health.error ?? "", /rollback/, "the real SQLite error, not the failed ROLLBACK's");
    const waiting = [handler.handle(desired("des_2", "0.0", 2)), handler.handle(desired("des_3", "1.0", 3))];
    for (const result of await Promise.allSettled(waiting)) assert.equal(result.status, "rejected", "no PUBACK for an answer not on disk");
    assert.deepEqual(line.writes, [1], "no relay switched for a request whose answer cannot be recorded");
    assert.equal(handler.waiting, 2);
    await clock.advance(60_000);
    assert.equal(handler.waiting, 2, "still full: still waiting");
    limitPages(store, 1_000_000);
    await clock.advance(60_000);
    assert.equal(handler.waiting, 0);
    assert.deepEqual(line.writes, [1, 0, 1], "applied in order once the answers could be recorded");
    assert.deepEqual(reports().map((r) => r.desired_id), ["des_1", "des_2", "des_3"]);
    assert.equal(store.health.failing, false);
    // The broker delivers the unacknowledged ones again after a reconnect: answered from the ledger.
    const before = reports().length;
    await handler.handle(desired("des_2", "0.0", 2));
    assert.equal(reports().length, before, "the same report, not a second answer");
    assert.deepEqual(line.writes, [1, 0, 1]);
  });

  it("records an answer decided after the line moved as it was decided, without acting twice", async () => {
    const { clock, line, handler, reports, store, outbox } = await setup();
    // Healthy until the answer's own commit fails: the line has moved by then.
    const real = outbox.recordAnswer.bind(outbox);
    let failures = 1;
    outbox.recordAnswer = (...args: Parameters<typeof real>) => {
      if (failures-- > 0) {
        fill(store);
        return real(...args);
      }
      return real(...args);
    };
    await assert.rejects(handler.handle(desired("des_1", "1.0", 1)));
    assert.deepEqual(line.writes, [1]);
    limitPages(store, 1_000_000);
    await clock.advance(60_000);
    assert.deepEqual(line.writes, [1], "not applied again");
    assert.deepEqual(reports().map((r) => [r.desired_id, r.value]), [["des_1", "1.0"]]);
  });
});

describe("DesiredHandler: the spec's desired-state rules (5.3), one row each", () => {
  // Each row starts on a relay that des_0 (value 1.0, sequence 10) has switched on, then sends one
  // message; the clock stands at 2026-11-30T12:00:00Z.
  const minutes = (n: number) => new Date(Date.UTC(2026, 10, 30, 12) + n * 60_000).toISOString();
  const rows: {
    rule: string;
    message: unknown;
    status: DesiredOutcome["status"];
    value: string;
    writes: LineValue[];
    sequence?: number;
  }[] = [
    {
      rule: "a newer sequence_number is applied first, then reported with what the line reads",
      message: desired("des_1", "0.0", 11),
      status: "applied",
      value: "0.0",
      writes: [1, 0],
      sequence: 11,
    },
    {
      rule: "an equal sequence_number is outdated: stale, the hardware untouched",
      message: desired("des_1", "0.0", 10),
      status: "stale",
      value: "1.0",
      writes: [1],
      sequence: 10,
    },
    {
      rule: "a lower sequence_number is outdated: stale, the hardware untouched",
      message: desired("des_1", "0.0", 9),
      status: "stale",
      value: "1.0",
      writes: [1],
      sequence: 9,
    },
    {
      rule: "an expires_at in the past: stale, not acted on",
      message: desired("des_1", "0.0", 11, { expires_at: minutes(-1) }),
      status: "stale",
      value: "1.0",
      writes: [1],
    },
    {
      rule: "an expires_at still ahead: applied",
      message: desired("des_1", "0.0", 11, { expires_at: minutes(5) }),
      status: "applied",
      value: "0.0",
      writes: [1, 0],
    },
    {
      rule: "a value the relay cannot take (0.5): rejected, with the physical state",
      message: desired("des_1", "0.5", 11),
      status: "rejected",
      value: "1.0",
      writes: [1],
    },
    {
      rule: "a value that is not a number: rejected, with the physical state",
      message: desired("des_1", "on", 11),
      status: "rejected",
      value: "1.0",
      writes: [1],
    },
    {
      rule: "a message without a value: rejected, with the physical state",
      message: { desired_id: "des_1", sequence_number: 11 },
      status: "rejected",
      value: "1.0",
      writes: [1],
    },
    {
      rule: "a duplicate delivery of an answered desired_id repeats the stored report and does not act twice",
      message: desired("des_0", "0.0", 10),
      status: "duplicate",
      value: "1.0",
      writes: [1],
    },
  ];
  for (const row of rows) {
    it(row.rule, async () => {
      const { line, handler, outcomes, reports } = await setup();
      await handler.handle(desired("des_0", "1.0", 10));
      await handler.handle(row.message);
      const outcome = outcomes.at(-1);
      assert.deepEqual([outcome?.status, outcome?.value], [row.status, row.value]);
      assert.deepEqual(line.writes, row.writes, "what reached the hardware");
      const answer = reports().find((report) => report.message_id === outcome?.messageId);
      assert.ok(answer, "its report waits in the outbox");
      assert.equal(answer.desired_id, row.status === "duplicate" ? "des_0" : "des_1", "the report carries the desired_id");
      if (row.sequence !== undefined) assert.equal(answer.sequence_number, row.sequence, "the sequence_number is echoed");
    });
  }
});

describe("DesiredHandler fuzz", () => {
  it("answers every usable desired_id exactly once among 10,000 seeded hostile and valid payloads", async () => {
    const { line, handler, store, outcomes, outbox } = await setup();
    const random = seeded(20261130);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const sent: string[] = [];
    let sequence = 0;
    const past = "2020-01-01T00:00:00Z";
    const future = "2099-01-01T00:00:00Z";
    const makers: (() => string)[] = [
      () =>
        JSON.stringify({
          desired_id: `des_${sent.length}`,
          value: pick(["1.0", "0.0", "1", 0, 1]),
          sequence_number: ++sequence,
          expires_at: future,
        }),
      () => JSON.stringify({ desired_id: `des_${sent.length}`, value: "1.0", sequence_number: ++sequence, expires_at: past }),
      () =>
        `{"desired_id":"des_${sent.length}","sequence_number":${++sequence},"value":${"[".repeat(3000 + Math.floor(random() * 3000))}${
          "]".repeat(6000)
        }}`,
      () =>
        JSON.stringify({ desired_id: `des_${sent.length}`, value: "x".repeat(Math.floor(random() * 20_000)), sequence_number: ++sequence }),
      () =>
        JSON.stringify({ desired_id: `des_${sent.length}`, value: pick([{}, [], null, true, { "1.0": 1 }]), sequence_number: ++sequence }),
      () => `{"__proto__":{"desired_id":"polluted"},"desired_id":"des_${sent.length}","value":"1.0","sequence_number":${++sequence}}`,
      () =>
        `{"desired_id":"des_${sent.length}","value":"1.0","sequence_number":${
          pick(["9223372036854775808", "1e300", "-1e300", "1.5", '"7"', "null"])
        }}`,
      () => JSON.stringify({ desired_id: pick([42, "", null, ["des"], { id: 1 }]), value: "1.0", sequence_number: ++sequence }),
      () => JSON.stringify({ value: "1.0", sequence_number: ++sequence }),
      () => pick(["", "not json", "{", "[]", "null", '"des_1"', '{"desired_id":']),
      () => sent.length > 0 ? pick(sent) : "{}",
      () => JSON.stringify({ desired_id: `des_${sent.length}_${"L".repeat(5000)}`, value: "1.0", sequence_number: ++sequence }),
      () => JSON.stringify({ desired_id: `des_${sent.length}`, value: "1.0", sequence_number: Math.max(0, sequence - 5) }),
    ];
    let crashes = 0;
    for (let i = 0; i < 10_000; i++) {
      const text = pick(makers)();
      sent.push(text);
      line.failSet = random() < 0.05;
      const message = decodeJson(new TextEncoder().encode(text));
      if (message.ok) await handler.handle(message.value).catch(() => crashes++);
    }
    // What a usable desired_id is, decided independently of the handler.
    const usable = new Set<string>();
    for (const text of sent) {
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        continue;
      }
      const id = typeof raw === "object" && raw !== null ? (raw as { desired_id?: unknown }).desired_id : undefined;
      if (
        typeof id === "string" && id !== "" &&
        outbox.fits({
          message_id: "command-20261130T120000000Z-00000000",
          value: "0.0",
          value_received_at: "2026-11-30T12:00:00.000Z",
          desired_id: id,
          report_status: "rejected",
          sequence_number: Number.MAX_SAFE_INTEGER,
        })
      ) {
        usable.add(id);
      }
    }
    const answers = new Map<string, number>();
    for (const outcome of outcomes) {
      if (outcome.status === "duplicate" || outcome.status === "unanswerable") continue;
      answers.set(outcome.desiredId, (answers.get(outcome.desiredId) ?? 0) + 1);
    }
    const missing = [...usable].filter((id) => !answers.has(id) || store.ledger.answered(id) === undefined);
    const twice = [...answers].filter(([, count]) => count > 1);
    const unasked = [...answers.keys()].filter((id) => !usable.has(id));
    const overLimit = store.outbox.pending(1_000_000).filter((row) => new TextEncoder().encode(row.payload).byteLength > 4096);
    console.log(
      `desired fuzz: ${sent.length} payloads, ${usable.size} usable desired_ids, ${answers.size} answered once, ${twice.length} twice, ${missing.length} unanswered, ${crashes} handle() rejections`,
    );
    assert.equal(crashes, 0);
    assert.deepEqual(missing, []);
    assert.deepEqual(twice, []);
    assert.deepEqual(unasked, []);
    assert.deepEqual(overLimit, []);
    assert.ok(!Object.prototype.hasOwnProperty.call({}, "desired_id"), "no prototype was polluted");
  });
});
