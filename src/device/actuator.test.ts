import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { systemClock } from "../clock.ts";
import { ManualClock } from "../manual-clock.ts";
import { parseRoute, type RouteConfig, routeKey } from "../config/schema.ts";
import { MockBackend } from "../hal/mock.ts";
import type { GpioBackend, LineRequest } from "../hal/types.ts";
import { tempDir, testLogger } from "../../test/helpers/harness.ts";
import { Actuator, choosePowerOn, type LocalChange } from "./actuator.ts";
import { FileSensor, parseSensorFile, shouldReport } from "./file-sensor.ts";
import { InterlockGroup } from "./interlock.ts";
import { DeviceStore } from "../state/store.ts";

const relay = (offset: number, extra: Partial<Parameters<typeof parseRoute>[0]> = {}): RouteConfig =>
  parseRoute({ pin_port: String(offset), line: { chip: "gpiochip0", offset }, ...extra });
const deps = async () => ({ store: await DeviceStore.open(":memory:"), clock: systemClock, logger: testLogger("actuator") });

describe("power-on policy", () => {
  const now = 1_000_000_000;
  it("chooses off, on, or the remembered value while it is young enough", () => {
    assert.equal(choosePowerOn(relay(6), { value: 1, changedAt: now }, now).value, 0);
    assert.equal(choosePowerOn(relay(6, { power_on: "on" }), undefined, now).value, 1);
    const restore = relay(6, { power_on: "restore", restore_max_age_s: 60 });
    assert.equal(choosePowerOn(restore, { value: 1, changedAt: now - 59_000 }, now).value, 1);
    assert.deepEqual(choosePowerOn(restore, { value: 1, changedAt: now - 61_000 }, now), {
      value: 0,
      reason: "power_on restore: the last value is 61 s old, older than 60 s, so off",
    });
    assert.equal(choosePowerOn(restore, undefined, now).value, 0);
  });

  it("claims a restored relay active in the same request: the pin never shows inactive first", async () => {
    const mock = new MockBackend();
    const d = await deps();
    const config = relay(6, { power_on: "restore" });
    d.store.saveLineState(routeKey(config), 1, Date.now() - 1000);
    const actuator = await Actuator.claim(mock, config, d);
    assert.deepEqual(mock.levelHistory({ chip: "gpiochip0", offset: 6 }), [0, 1], "the pull, then active: no 0 → 1 → 0 → 1");
    assert.equal(await actuator.read(), 1);
  });

  it("brings back the last written value after a clean stop that holds it, and not after a safe stop", async () => {
    const d = await deps();
    for (const [shutdown, expected] of [["hold", 1], ["safe", 0]] as const) {
      const config = relay(6, { power_on: "restore", shutdown });
      const first = await Actuator.claim(new MockBackend(), config, d);
      await first.apply(1, "local");
      await first.shutdown();
      const again = await Actuator.claim(new MockBackend(), config, d);
      assert.equal(await again.read(), expected, `shutdown ${shutdown}`);
      await again.shutdown();
    }
  });
});

describe("Actuator", () => {
  it("ends a pulse by itself and reports it as a local change", async () => {
    const mock = new MockBackend();
    const clock = new ManualClock();
    const actuator = await Actuator.claim(mock, relay(6, { pulse_ms: 60 }), { ...(await deps()), clock });
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
    const actuator = await Actuator.claim(new MockBackend(), config, d);
    await actuator.apply(1, "desired");
    await actuator.shutdown();
    assert.equal(d.store.lineState(routeKey(config))?.value, 0);
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
    const actuator = await Actuator.claim(backend, relay(6), { ...(await deps()), logger: testLogger("actuator", lines) });
    assert.equal(await actuator.apply(1, "desired"), 0, "the report carries the observed value");
    assert.equal(actuator.drifts, 1);
    assert.ok(lines.some((line) => line.includes("line.drift")), lines.join("\n"));
    const healthy = await Actuator.claim(new MockBackend(), relay(6), await deps());
    assert.equal(await healthy.apply(1, "desired"), 1);
    assert.equal(healthy.drifts, 0);
  });
});

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

describe("file sensors", () => {
  it("reads plain numbers and 1-Wire w1_slave files, refusing a failed CRC", () => {
    assert.deepEqual(parseSensorFile("1234\n"), { ok: true, raw: 1234 });
    assert.deepEqual(parseSensorFile("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"), {
      ok: true,
      raw: 23125,
    });
    assert.equal(parseSensorFile("72 01 : crc=57 NO\n72 01 t=85000\n").ok, false);
    assert.equal(parseSensorFile("banana").ok, false);
  });

  it("reports outside the deadband, and on the heartbeat inside it", () => {
    assert.equal(shouldReport(20.0, undefined, 0, 0.5, 60_000), true);
    assert.equal(shouldReport(20.3, { value: 20.0, at: 0 }, 1000, 0.5, 60_000), false);
    assert.equal(shouldReport(20.5, { value: 20.0, at: 0 }, 1000, 0.5, 60_000), true);
    assert.equal(shouldReport(20.0, { value: 20.0, at: 0 }, 60_000, 0.5, 60_000), true);
  });

  it("scales a file's number and reports it with the configured decimals", async () => {
    const dir = tempDir("file-sensor");
    const path = `${dir.path}/temperature`;
    writeFileSync(path, "23125\n");
    const reports: string[] = [];
    const sensor = new FileSensor({
      config: parseRoute({ pin_port: "5", file: { path, scale: 0.001, decimals: 1 }, deadband: 0.5 }),
      name: "t",
      clock: systemClock,
      logger: testLogger("file"),
      report: (value) => reports.push(value),
    });
    await sensor.sample();
    writeFileSync(path, "23400\n");
    await sensor.sample();
    writeFileSync(path, "23700\n");
    await sensor.sample();
    writeFileSync(path, "not yet\n");
    await sensor.sample();
    assert.deepEqual(reports, ["23.1", "23.7"]);
    dir.remove();
  });
});
