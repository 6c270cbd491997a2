import { LINE_SCALE } from "./value-scale.ts";
import { outputHardware } from "../../test/helpers/fake-output.ts";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemClock } from "../clock.ts";
import { ManualClock } from "../manual-clock.ts";
import { type LineRouteConfig, parseRoute, routeKey } from "../config/schema.ts";
import { MockBackend } from "../hal/mock.ts";
import type { GpioBackend, LineRequest } from "../hal/types.ts";
import { testLogger } from "../../test/helpers/harness.ts";
import { Actuator, choosePowerOn, type LocalChange } from "./actuator.ts";
import { DeviceStore } from "../state/store.ts";

const relay = (offset: number, extra: Partial<Parameters<typeof parseRoute>[0]> = {}): LineRouteConfig =>
  parseRoute({ pin_port: String(offset), line: { chip: "gpiochip0", offset }, ...extra }) as LineRouteConfig;
const deps = async () => ({ store: await DeviceStore.open(":memory:"), clock: systemClock, logger: testLogger("actuator") });

describe("power-on policy", () => {
  const now = 1_000_000_000;
  it("chooses off, on, or the remembered value while it is young enough", () => {
    assert.equal(choosePowerOn(relay(6), { value: 1, changedAt: now }, now, LINE_SCALE).value, 0);
    assert.equal(choosePowerOn(relay(6, { power_on: "on" }), undefined, now, LINE_SCALE).value, 1);
    const restore = relay(6, { power_on: "restore", restore_max_age_s: 60 });
    assert.equal(choosePowerOn(restore, { value: 1, changedAt: now - 59_000 }, now, LINE_SCALE).value, 1);
    assert.deepEqual(choosePowerOn(restore, { value: 1, changedAt: now - 61_000 }, now, LINE_SCALE), {
      value: 0,
      reason: "power_on restore: the last value is 61 s old, older than 60 s, so off",
    });
    assert.equal(choosePowerOn(restore, undefined, now, LINE_SCALE).value, 0);
  });

  it("claims a restored relay active in the same request: the pin never shows inactive first", async () => {
    const mock = new MockBackend();
    const d = await deps();
    const config = relay(6, { power_on: "restore" });
    d.store.lines.saveValue(routeKey(config), 1, Date.now() - 1000);
    const actuator = await Actuator.claim(outputHardware(mock), config, d);
    assert.deepEqual(mock.levelHistory({ chip: "gpiochip0", offset: 6 }), [0, 1], "the pull, then active: no 0 → 1 → 0 → 1");
    assert.equal(await actuator.read(), 1);
  });

  it("brings back the last written value after a clean stop that holds it, and not after a safe stop", async () => {
    const d = await deps();
    for (const [shutdown, expected] of [["hold", 1], ["safe", 0]] as const) {
      const config = relay(6, { power_on: "restore", shutdown });
      const first = await Actuator.claim(outputHardware(new MockBackend()), config, d);
      await first.apply(1, "local");
      await first.shutdown();
      const again = await Actuator.claim(outputHardware(new MockBackend()), config, d);
      assert.equal(await again.read(), expected, `shutdown ${shutdown}`);
      await again.shutdown();
    }
  });
});

describe("Actuator", () => {
  it("settles a desired state before any other write: a press racing it is applied, and reported, after its answer", async () => {
    const mock = new MockBackend();
    const actuator = await Actuator.claim(outputHardware(mock), relay(6), await deps());
    const order: string[] = [];
    actuator.onLocalChange((change) => order.push(`${change.cause} ${change.value}`));
    const desired = actuator.apply(1, "desired", (observed) => order.push(`answer ${observed}`));
    const press = actuator.apply("flip", "control");
    const again = actuator.apply("flip", "control");
    assert.deepEqual(await Promise.all([desired, press, again]), [1, 0, 1], "each flip decided on the write before it");
    assert.deepEqual(order, ["answer 1", "control 0", "control 1"]);
    assert.equal(mock.getLevel({ chip: "gpiochip0", offset: 6 }), 1);
  });

  it("ends a pulse by itself and reports it as a local change", async () => {
    const mock = new MockBackend();
    const clock = new ManualClock();
    const actuator = await Actuator.claim(outputHardware(mock), relay(6, { pulse_ms: 60 }), { ...(await deps()), clock });
    const changes: LocalChange[] = [];
    actuator.onLocalChange((change) => changes.push(change));
    assert.equal(await actuator.apply(1, "desired"), 1);
    assert.equal(mock.getLevel({ chip: "gpiochip0", offset: 6 }), 1);
    await clock.advance(59);
    assert.equal(mock.getLevel({ chip: "gpiochip0", offset: 6 }), 1, "on for the whole pulse");
    await clock.advance(1);
    assert.equal(mock.getLevel({ chip: "gpiochip0", offset: 6 }), 0);
    assert.deepEqual(changes.map((change) => [change.value, change.cause]), [[0, "pulse"]]);
  });

  it("goes inactive at shutdown while a pulse runs, whatever the shutdown policy", async () => {
    const d = await deps();
    const config = relay(6, { pulse_ms: 10_000 });
    const actuator = await Actuator.claim(outputHardware(new MockBackend()), config, d);
    await actuator.apply(1, "desired");
    await actuator.shutdown();
    assert.equal(d.store.lines.value(routeKey(config))?.value, 0);
  });

  it("reports what the line reads back, and raises a drift alarm when it does not hold what was written", async () => {
    const lines: string[] = [];
    // A driver stage that is stuck low: every write is taken, every read says 0.
    const stuck: LineRequest = {
      chip: "gpiochip0",
      offset: 6,
      settings: { direction: "output" },
      getValue: () => Promise.resolve(0),
      setValue: () => Promise.resolve(),
      reconfigure: () => Promise.resolve(),
      onEdge: () => () => {},
      release: () => Promise.resolve(),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
    const backend = { requestLine: () => Promise.resolve(stuck) } as unknown as GpioBackend;
    const actuator = await Actuator.claim(outputHardware(backend), relay(6), { ...(await deps()), logger: testLogger("actuator", lines) });
    assert.equal(await actuator.apply(1, "desired"), 0, "the report carries the observed value");
    assert.equal(actuator.drifts, 1);
    assert.ok(lines.some((line) => line.includes("line.drift")), lines.join("\n"));
    const healthy = await Actuator.claim(outputHardware(new MockBackend()), relay(6), await deps());
    assert.equal(await healthy.apply(1, "desired"), 1);
    assert.equal(healthy.drifts, 0);
  });
});
