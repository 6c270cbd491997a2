// A PWM route end to end inside the device: the actuator over the mock PWM chip, its desired
// states answered by the same handler as a relay's, its memory across a restart.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRoute, type PwmRouteConfig, routeKey } from "../config/schema.ts";
import { MockBackend } from "../hal/mock.ts";
import { MockPwmBackend } from "../hal/pwm/mock.ts";
import { silentLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import type { FeedPayload } from "../mqtt/messages.ts";
import { Outbox } from "../outbox/outbox.ts";
import { DeviceStore } from "../state/store.ts";
import { outputHardware } from "../../test/helpers/fake-output.ts";
import { testLogger } from "../../test/helpers/harness.ts";
import { Actuator } from "./actuator.ts";
import type { Binding } from "./bindings.ts";
import { DesiredHandler } from "./desired-handler.ts";
import { deviceLedger } from "./ledger.ts";

const CHANNEL = { chip: "pwmchip0", channel: 0 };
const TOPIC = "realer/iot/v1/devices/cdv_1/routes/rte_1/feed-data";
const dimmer = (extra: Record<string, unknown> = {}): PwmRouteConfig =>
  parseRoute({ pin_port: "6", pwm: { ...CHANNEL }, ...extra }) as PwmRouteConfig;

async function setup(config: PwmRouteConfig, options: { store?: DeviceStore; pwm?: MockPwmBackend; log?: string[] } = {}) {
  const clock = new ManualClock();
  const store = options.store ?? await DeviceStore.open(":memory:");
  const pwm = options.pwm ?? new MockPwmBackend();
  const logger = options.log ? testLogger("level", options.log) : silentLogger;
  const actuator = await Actuator.claim(outputHardware(new MockBackend(), pwm), config, { store, clock, logger });
  const outbox = new Outbox({ store, clock, logger: silentLogger, ackTimeoutMs: 60_000 });
  const binding: Binding = {
    route: { source_type: "command", source_id: "cmd_1", mqtt: { feed_data_topic: TOPIC, desired_topic: `${TOPIC}/desired` } },
    config,
    key: TOPIC,
    name: "cmd_1",
  };
  const handler = new DesiredHandler({ ledger: deviceLedger(store, outbox), clock, logger }, binding, actuator);
  const reports = () =>
    store.outbox.pending(100_000).filter((row) => row.topic === TOPIC).map((row) => JSON.parse(row.payload) as FeedPayload)
      .map((report) => [report.desired_id, report.report_status ?? "applied", report.value]);
  const duty = () => pwm.channelState(CHANNEL).dutyNs;
  return { clock, store, pwm, actuator, handler, reports, duty };
}

const desired = (id: string, value: unknown, sequence: number) => ({ desired_id: id, value, sequence_number: sequence });

describe("a PWM route", () => {
  it("applies a level, reports it read back from the channel, and rejects what is outside its range or not a number with the level it holds", async () => {
    const { handler, reports, duty } = await setup(dimmer());
    await handler.handle(desired("des_1", "40", 1));
    assert.equal(duty(), 400_000);
    await handler.handle(desired("des_2", "150", 2));
    await handler.handle(desired("des_3", "4O", 3));
    await handler.handle(desired("des_4", "-1", 4));
    assert.deepEqual(reports(), [
      ["des_1", "applied", "40"],
      ["des_2", "rejected", "40"],
      ["des_3", "rejected", "40"],
      ["des_4", "rejected", "40"],
    ]);
    assert.equal(duty(), 400_000, "a rejected value never touches the channel");
  });

  it("reports what the driver really set when it rounds the duty to its clock, with the route's decimals", async () => {
    const pwm = new MockPwmBackend([{ name: "pwmchip0", channels: 1, stepNs: 40_000 }]);
    const { handler, reports } = await setup(dimmer({ range: { min: 0, max: 100, decimals: 1 } }), { pwm });
    await handler.handle(desired("des_1", "12.5", 1));
    assert.deepEqual(reports(), [["des_1", "applied", "12.0"]]);
  });

  it("powers on at its configured level in the claim: the channel never shows another duty", async () => {
    const { pwm } = await setup(dimmer({ power_on: 30 }));
    assert.deepEqual(pwm.history(CHANNEL).map((state) => state.dutyNs), [300_000]);
  });

  it("restores its last level after a restart, and is off with power_on off", async () => {
    const store = await DeviceStore.open(":memory:");
    const first = await setup(dimmer({ power_on: "restore" }), { store });
    await first.handler.handle(desired("des_1", "65", 1));
    await first.actuator.shutdown();
    const again = await setup(dimmer({ power_on: "restore" }), { store, pwm: first.pwm });
    assert.equal(again.duty(), 650_000);
    assert.equal(await again.actuator.read(), 65);
    const off = await setup(dimmer(), { store: await DeviceStore.open(":memory:") });
    assert.equal(off.duty(), 0);
  });

  it("toggles between off and its last level, and still knows that level after a restart that powered it off", async () => {
    const store = await DeviceStore.open(":memory:");
    const { actuator, handler, duty, pwm } = await setup(dimmer(), { store });
    await handler.handle(desired("des_1", "35", 1));
    assert.equal(await actuator.apply("flip", "control"), 0);
    assert.equal(await actuator.apply("flip", "control"), 35);
    await actuator.apply("flip", "control");
    assert.equal(duty(), 0);
    await actuator.shutdown();
    const again = await setup(dimmer(), { store, pwm });
    assert.equal(again.duty(), 0, "power_on off");
    assert.equal(await again.actuator.apply("flip", "control"), 35, "the level remembered, not full");
    const fresh = await setup(dimmer(), { store: await DeviceStore.open(":memory:") });
    assert.equal(await fresh.actuator.apply("on", "control"), 100, "with nothing remembered, on is full");
  });

  it("goes off (duty 0, still enabled) on a safe shutdown, and to its level on a fail-safe", async () => {
    const { actuator, handler, pwm } = await setup(dimmer({ shutdown: "safe", failsafe: { value: 20, after_s: 60 } }));
    await handler.handle(desired("des_1", "80", 1));
    await actuator.apply(20, "failsafe");
    assert.equal(pwm.channelState(CHANNEL).dutyNs, 200_000);
    await actuator.shutdown();
    assert.deepEqual({ duty: pwm.channelState(CHANNEL).dutyNs, enabled: pwm.channelState(CHANNEL).enabled }, { duty: 0, enabled: true });
  });

  it("counts and logs a channel that does not hold what was written", async () => {
    const log: string[] = [];
    const pwm = new MockPwmBackend([{ name: "pwmchip0", channels: 1, stepNs: 100_000 }]);
    const { actuator } = await setup(dimmer(), { pwm, log });
    await actuator.apply(55, "local");
    assert.equal(actuator.drifts, 1);
    assert.ok(
      log.some((line) => line.includes("line.drift") && line.includes("written=55") && line.includes("observed=50")),
      log.join("\n"),
    );
  });

  it("answers a channel that fails with EIO rejected, with the level it holds, and works again once it heals", async () => {
    const { handler, reports, pwm } = await setup(dimmer());
    await handler.handle(desired("des_1", "10", 1));
    pwm.failChannel(CHANNEL, { set: true });
    await handler.handle(desired("des_2", "90", 2));
    pwm.failChannel(CHANNEL, {});
    await handler.handle(desired("des_3", "90", 3));
    assert.deepEqual(reports(), [["des_1", "applied", "10"], ["des_2", "rejected", "10"], ["des_3", "applied", "90"]]);
  });

  it("remembers a desired level for restore in the answer's own commit", async () => {
    const { handler, store } = await setup(dimmer());
    await handler.handle(desired("des_1", "45", 1));
    assert.equal(store.lines.value(routeKey(dimmer()))?.value, 45);
    assert.equal(store.lines.onLevel(routeKey(dimmer())), 45);
  });
});
