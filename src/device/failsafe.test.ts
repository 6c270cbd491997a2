import type { OutputConfig } from "./actuator.ts";
import { outputHardware } from "../../test/helpers/fake-output.ts";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRoute } from "../config/schema.ts";
import { MockBackend } from "../hal/mock.ts";
import { ManualClock } from "../manual-clock.ts";
import { testLogger } from "../../test/helpers/harness.ts";
import { Actuator, type LocalChange } from "./actuator.ts";
import { FailSafes } from "./failsafe.ts";
import { DeviceStore } from "../state/store.ts";

const HEATER = { chip: "gpiochip0", offset: 6 };
const LOCK = { chip: "gpiochip0", offset: 7 };

async function rig(routes: OutputConfig[]) {
  const mock = new MockBackend();
  const clock = new ManualClock();
  const log: string[] = [];
  const deps = { store: await DeviceStore.open(":memory:"), clock, logger: testLogger("failsafe", log) };
  const outputs: Actuator[] = [];
  for (const route of routes) outputs.push(await Actuator.claim(outputHardware(mock), route, deps));
  const failsafes = new FailSafes({ clock, logger: deps.logger, outputs: () => outputs });
  return { mock, clock, log, outputs, failsafes };
}

const heater = (extra: object = {}) =>
  parseRoute({ pin_port: "heater", line: HEATER, direction: "output", power_on: "on", failsafe: { value: 0, after_s: 300 }, ...extra });

describe("fail-safes", () => {
  it("sets an output to its safe value once the link has been down for after_s, not a moment before, and reports it as a local change", async () => {
    const { mock, clock, outputs, failsafes } = await rig([heater()]);
    const changes: LocalChange[] = [];
    outputs[0]!.onLocalChange((change) => changes.push(change));
    failsafes.linkDown();
    assert.equal(failsafes.status()[0]!.state, "armed");
    await clock.advance(299_000);
    assert.equal(mock.getLevel(HEATER), 1, "still on at 299 s");
    await clock.advance(1000);
    assert.equal(mock.getLevel(HEATER), 0, "safe at 300 s");
    assert.deepEqual(changes.map((change) => [change.value, change.cause]), [[0, "failsafe"]]);
    assert.equal(failsafes.status()[0]!.state, "fired");
    assert.match(failsafes.status()[0]!.reason!, /no working link to the cloud for 300 s/);
  });

  it("disarms when the link returns in time, and counts again from the next outage", async () => {
    const { mock, clock, failsafes } = await rig([heater()]);
    failsafes.linkDown();
    await clock.advance(200_000);
    failsafes.linkUp();
    assert.equal(failsafes.status()[0]!.state, "idle");
    await clock.advance(200_000);
    assert.equal(mock.getLevel(HEATER), 1, "a link that came back in time leaves the heater alone");
    failsafes.linkDown();
    await clock.advance(299_000);
    assert.equal(mock.getLevel(HEATER), 1);
    await clock.advance(1000);
    assert.equal(mock.getLevel(HEATER), 0);
  });

  it("goes safe at once on 4002 where the policy says so, and leaves the others to their timers", async () => {
    const lock = parseRoute({
      pin_port: "lock",
      line: LOCK,
      direction: "output",
      power_on: "off",
      failsafe: { value: 1, after_s: 60, on_subscription_inactive: false },
    });
    const { mock, clock, failsafes } = await rig([heater(), lock]);
    failsafes.subscriptionInactive();
    await clock.advance(0);
    assert.equal(mock.getLevel(HEATER), 0, "the heater goes safe at once");
    assert.equal(mock.getLevel(LOCK), 0, "the lock waits for its timer");
    await clock.advance(60_000);
    assert.equal(mock.getLevel(LOCK), 1, "then takes its safe value, 1");
  });

  it("counts a device that boots without a link from the start, and never fires after stop()", async () => {
    const { mock, clock, failsafes } = await rig([heater()]);
    const started = clock.now();
    await clock.advance(100_000);
    failsafes.linkDown(started);
    await clock.advance(200_000);
    assert.equal(mock.getLevel(HEATER), 0, "300 s after the start");
    const second = await rig([heater()]);
    second.failsafes.linkDown();
    second.failsafes.stop();
    await second.clock.advance(400_000);
    assert.equal(second.mock.getLevel(HEATER), 1);
  });

  it("does not report a change for an output already at its safe value, and logs a line that cannot be set", async () => {
    const { mock, clock, log, outputs, failsafes } = await rig([
      heater({ power_on: "off" }),
      parseRoute({ pin_port: "lock", line: LOCK, direction: "output", failsafe: { value: 1, after_s: 10 } }),
    ]);
    const changes: LocalChange[] = [];
    outputs[0]!.onLocalChange((change) => changes.push(change));
    mock.failLine(LOCK, { set: true });
    failsafes.linkDown();
    await clock.advance(300_000);
    assert.deepEqual(changes, [], "the heater was already off");
    assert.ok(log.some((line) => line.includes("failsafe.failed") && line.includes("EIO")), log.join("\n"));
    assert.equal(mock.getLevel(HEATER), 0);
  });

  it("is refused on an input, a file sensor, and as an active pulse", () => {
    assert.throws(
      () => parseRoute({ pin_port: "x", line: HEATER, direction: "input", failsafe: { value: 0, after_s: 5 } }),
      /a fail-safe is for outputs/,
    );
    assert.throws(
      () => parseRoute({ pin_port: "x", file: { path: "/sys/bus/w1/t" }, failsafe: { value: 0, after_s: 5 } }),
      /a fail-safe is for outputs/,
    );
    assert.throws(
      () => parseRoute({ pin_port: "x", line: HEATER, pulse_ms: 100, failsafe: { value: 1, after_s: 5 } }),
      /a pulse output's fail-safe value must be 0/,
    );
    assert.throws(() => parseRoute({ pin_port: "x", line: HEATER, failsafe: { value: 0, after_s: 0 } }), /at least 1 second/);
  });
});
