import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemClock } from "../clock.ts";
import { parseRoute, type RouteConfig } from "../config/schema.ts";
import { MockBackend } from "../hal/mock.ts";
import { testLogger } from "../../test/helpers/harness.ts";
import { Actuator, type LocalChange } from "./actuator.ts";
import { InterlockGroup } from "./interlock.ts";
import { DeviceStore } from "../state/store.ts";

const relay = (offset: number, extra: Partial<Parameters<typeof parseRoute>[0]> = {}): RouteConfig =>
  parseRoute({ pin_port: String(offset), line: { chip: "gpiochip0", offset }, ...extra });
const deps = async () => ({ store: await DeviceStore.open(":memory:"), clock: systemClock, logger: testLogger("interlock") });

describe("InterlockGroup", () => {
  it("never has two outputs of a group active, and waits the dead time between them", async () => {
    const mock = new MockBackend();
    const d = await deps();
    const group = new InterlockGroup("motor", d.clock, d.logger);
    const up = await Actuator.claim(mock, relay(6, { interlock: "motor", interlock_dead_time_ms: 80 }), { ...d, interlock: group });
    const down = await Actuator.claim(mock, relay(7, { interlock: "motor" }), { ...d, interlock: group });
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
    await Actuator.claim(mock, relay(6, { interlock: "motor", power_on: "on" }), { ...d, interlock: group });
    await Actuator.claim(mock, relay(7, { interlock: "motor", power_on: "on" }), { ...d, interlock: group });
    assert.deepEqual([mock.getLevel({ chip: "gpiochip0", offset: 6 }), mock.getLevel({ chip: "gpiochip0", offset: 7 })], [1, 0]);
  });
});
