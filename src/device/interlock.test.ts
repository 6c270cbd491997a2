import { outputHardware } from "../../test/helpers/fake-output.ts";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemClock } from "../clock.ts";
import { type LineRouteConfig, parseRoute } from "../config/schema.ts";
import { MockBackend } from "../hal/mock.ts";
import { testLogger } from "../../test/helpers/harness.ts";
import { Actuator, type LocalChange } from "./actuator.ts";
import { InterlockGroup } from "./interlock.ts";
import { DeviceStore } from "../state/store.ts";

const relay = (offset: number, extra: Partial<Parameters<typeof parseRoute>[0]> = {}): LineRouteConfig =>
  parseRoute({ pin_port: String(offset), line: { chip: "gpiochip0", offset }, ...extra }) as LineRouteConfig;
const deps = async () => ({ store: await DeviceStore.open(":memory:"), clock: systemClock, logger: testLogger("interlock") });

describe("InterlockGroup", () => {
  it("never has two outputs of a group active, and waits the dead time between them", async () => {
    const mock = new MockBackend();
    const d = await deps();
    const group = new InterlockGroup("motor", d.clock, d.logger);
    const up = await Actuator.claim(outputHardware(mock), relay(6, { interlock: "motor", interlock_dead_time_ms: 80 }), {
      ...d,
      interlock: group,
    });
    const down = await Actuator.claim(outputHardware(mock), relay(7, { interlock: "motor" }), { ...d, interlock: group });
    const changes: LocalChange[] = [];
    up.onLocalChange((change) => changes.push(change));
    await up.apply(1, "desired");
    const started = Date.now();
    await Promise.all([down.apply(1, "desired"), up.apply(1, "desired"), down.apply(1, "desired")]);
    const both = [6, 7].map((offset) => mock.levelHistory({ chip: "gpiochip0", offset }));
    const levels = new Map<number, number>();
    for (const change of mock.timeline()) {
      levels.set(change.offset, change.level);
      assert.ok((levels.get(6) ?? 0) + (levels.get(7) ?? 0) <= 1, "both outputs of the group were active at once");
    }
    assert.ok(Date.now() - started >= 80 * 2, "each switch-over waits the dead time");
    assert.equal(
      mock.getLevel({ chip: "gpiochip0", offset: 7 }) + mock.getLevel({ chip: "gpiochip0", offset: 6 }),
      1,
      "one of the two is active at the end",
    );
    assert.ok(both[0]!.length > 2 && both[1]!.length > 2, "both switched several times");
    assert.ok(
      changes.some((change) => change.cause === "interlock" && change.value === 0),
      "the output switched off for the other is reported",
    );
  });

  it("powers on at most one output of a group", async () => {
    const mock = new MockBackend();
    const d = await deps();
    const group = new InterlockGroup("motor", d.clock, d.logger);
    await Actuator.claim(outputHardware(mock), relay(6, { interlock: "motor", power_on: "on" }), { ...d, interlock: group });
    await Actuator.claim(outputHardware(mock), relay(7, { interlock: "motor", power_on: "on" }), { ...d, interlock: group });
    assert.deepEqual([mock.getLevel({ chip: "gpiochip0", offset: 6 }), mock.getLevel({ chip: "gpiochip0", offset: 7 })], [1, 0]);
  });

  it("keeps the new output off when another member cannot be switched off: never two active at once", async () => {
    const mock = new MockBackend();
    const d = await deps();
    const group = new InterlockGroup("motor", d.clock, d.logger);
    const up = await Actuator.claim(outputHardware(mock), relay(6, { interlock: "motor" }), { ...d, interlock: group });
    const down = await Actuator.claim(outputHardware(mock), relay(7, { interlock: "motor" }), { ...d, interlock: group });
    await up.apply(1, "desired");
    mock.failLine({ chip: "gpiochip0", offset: 6 }, { set: true });
    await assert.rejects(down.apply(1, "desired"), /gpiochip0/);
    assert.deepEqual([mock.getLevel({ chip: "gpiochip0", offset: 6 }), mock.getLevel({ chip: "gpiochip0", offset: 7 })], [1, 0]);
    // The group is not wedged by the failure: once the line heals, the next activation goes through.
    mock.failLine({ chip: "gpiochip0", offset: 6 }, {});
    assert.equal(await down.apply(1, "desired"), 1);
    assert.deepEqual([mock.getLevel({ chip: "gpiochip0", offset: 6 }), mock.getLevel({ chip: "gpiochip0", offset: 7 })], [0, 1]);
  });

  it("takes the longest dead time any member asks for, and forgets a member removed at shutdown", async () => {
    const mock = new MockBackend();
    const d = await deps();
    const group = new InterlockGroup("valve", d.clock, d.logger);
    const open = await Actuator.claim(outputHardware(mock), relay(6, { interlock: "valve", interlock_dead_time_ms: 0 }), {
      ...d,
      interlock: group,
    });
    const close = await Actuator.claim(outputHardware(mock), relay(7, { interlock: "valve", interlock_dead_time_ms: 60 }), {
      ...d,
      interlock: group,
    });
    await open.apply(1, "desired");
    const started = performance.now();
    await close.apply(1, "desired");
    assert.ok(performance.now() - started >= 55, "the open valve's member waits the closing one's 60 ms too");
    assert.equal(group.anyActive(), true);
    await close.shutdown();
    group.remove(close);
    assert.equal(group.anyActive(), false, "the one left is off");
    assert.equal(await open.apply(1, "desired"), 1, "and turns on without waiting for a member that is gone");
  });
});
