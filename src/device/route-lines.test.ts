// The routes' lines with no network: the mock backend, a store in memory, a manual clock.
import { MockPwmBackend } from "../hal/pwm/mock.ts";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CatalogRoute } from "../cloud/catalog.ts";
import { Emitter } from "../events.ts";
import { Faults } from "../faults.ts";
import { MockBackend } from "../hal/mock.ts";
import { silentLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import type { FeedPayload } from "../mqtt/messages.ts";
import { unitConfig } from "../../test/helpers/unit-config.ts";
import { bindRoutes } from "./bindings.ts";
import { Outbox } from "../outbox/outbox.ts";
import { RouteLines } from "./route-lines.ts";
import type { RuntimeEvents } from "./runtime-events.ts";
import { DeviceStore } from "../state/store.ts";
import { addToOutbox, limitPages, pageCount } from "../../test/helpers/state.ts";

const RELAY = { chip: "gpiochip0", offset: 6 };
const SWITCH = { chip: "gpiochip0", offset: 5 };
const topic = (pin: string) => `realer/iot/v1/devices/1/routes/${pin}/feed-data`;
const catalogRoute = (pin: string, type: "command" | "sensor"): CatalogRoute => ({
  source_type: type,
  source_id: `${type}_${pin}`,
  pin_port: pin,
  mqtt: { feed_data_topic: topic(pin), ...(type === "command" ? { desired_topic: `realer/iot/v1/devices/1/routes/${pin}/desired` } : {}) },
} as CatalogRoute);

async function setup(routes: unknown[], store?: DeviceStore) {
  const config = unitConfig({ routes });
  const clock = new ManualClock();
  const backend = new MockBackend();
  const pwm = new MockPwmBackend();
  const state = store ?? await DeviceStore.open(":memory:");
  const outbox = new Outbox({ store: state, clock, logger: silentLogger, ackTimeoutMs: 60_000 });
  const events = new Emitter<RuntimeEvents>();
  const lines = new RouteLines({
    config,
    backend,
    pwm: () => Promise.resolve(pwm),
    store: state,
    clock,
    logger: silentLogger,
    outbox,
    events,
    faults: new Faults(silentLogger, clock),
  });
  const waiting = () => state.outbox.pending(1000).map((row) => ({ topic: row.topic, ...(JSON.parse(row.payload) as FeedPayload) }));
  return { config, clock, backend, pwm, store: state, outbox, events, lines, waiting };
}

describe("RouteLines", () => {
  it("claims a command route's line as an output with its handler, and a sensor's as an input that reports its start value", async () => {
    const { config, backend, lines, waiting, clock } = await setup([{ pin_port: "6", line: RELAY }, {
      pin_port: "5",
      line: SWITCH,
      bias: "pull-up",
    }]);
    const { bindings } = bindRoutes([catalogRoute("6", "command"), catalogRoute("5", "sensor")], config.routes);
    await lines.claim(bindings);
    await clock.advance(0);
    assert.equal(backend.getLevel(RELAY), 0, "the relay powers on off");
    assert.deepEqual(lines.desired.sourceIds(), ["command_6"]);
    assert.ok(lines.desired.byTopic("realer/iot/v1/devices/1/routes/6/desired"));
    assert.deepEqual(waiting().map((m) => [m.topic, m.value]), [[topic("5"), "1.0"]], "the switch's level at start, as a reading");
    await lines.release();
  });

  it("reports a sensor edge as a reading and a local change of an output as a report without desired_id", async () => {
    const { config, backend, lines, waiting, clock, events } = await setup([{ pin_port: "6", line: RELAY }, {
      pin_port: "5",
      line: SWITCH,
    }]);
    await lines.claim(bindRoutes([catalogRoute("6", "command"), catalogRoute("5", "sensor")], config.routes).bindings);
    const seen: string[] = [];
    events.on("reading", (reading) => seen.push(`reading ${reading.value}`));
    events.on("local", (change) => seen.push(`local ${change.value} ${change.cause}`));
    backend.setPull(SWITCH, 1);
    await clock.advance(0);
    assert.equal(await lines.setLocal(topic("6"), 1), "1.0");
    await clock.advance(0);
    assert.equal(backend.getLevel(RELAY), 1);
    assert.deepEqual(seen, ["reading 1.0", "local 1.0 local"]);
    const relayReports = waiting().filter((m) => m.topic === topic("6"));
    assert.deepEqual(relayReports.map((m) => [m.value, m.desired_id]), [["1.0", undefined]]);
    await lines.release();
  });

  it("names the outputs it should drive and does not (a release on trial is not healthy while any is missing)", async () => {
    const { config, lines, backend } = await setup([
      { pin_port: "6", line: RELAY, direction: "output" },
      { pin_port: "7", pwm: { chip: "pwmchip0", channel: 0 } },
      { pin_port: "8", line: { chip: "gpiochip0", offset: 8 } },
    ]);
    assert.deepEqual(lines.unclaimedOutputs(), ["pin_port:6", "pin_port:7"], "before the boot's claims");
    await lines.claimAtBoot();
    assert.deepEqual(lines.unclaimedOutputs(), []);
    // The catalog makes pin 8 a command route; its line is held by someone else, so its claim fails.
    await backend.requestLine({ chip: "gpiochip0", offset: 8 }, { direction: "input" }, "another program");
    await assert.rejects(lines.claim(bindRoutes([catalogRoute("8", "command")], config.routes).bindings));
    assert.deepEqual(lines.unclaimedOutputs(), ["pin_port:8"]);
    await lines.release();
  });

  it("claims a known output at boot, before any catalog, and gives it back as an input when the catalog says sensor", async () => {
    const store = await DeviceStore.open(":memory:");
    store.lines.saveDirection("pin_port:6", "output");
    store.lines.saveValue("pin_port:6", 1, new ManualClock().now() - 60_000); // a minute before this boot
    const { config, backend, lines } = await setup([{ pin_port: "6", line: RELAY, power_on: "restore" }], store);
    await lines.claimAtBoot();
    assert.equal(backend.getLevel(RELAY), 1, "restored before the network");
    await lines.claim(bindRoutes([catalogRoute("6", "sensor")], config.routes).bindings);
    assert.equal(store.lines.direction("pin_port:6"), "input", "remembered for the next boot");
    assert.equal(lines.desired.size, 0, "no desired states on a sensor");
    await lines.release();
  });

  it("answers a command route on a file rejected (nothing drives it), while serving the rest", async () => {
    const { config, lines, backend, waiting } = await setup([{ pin_port: "6", file: { path: "/nonexistent/temp" } }, {
      pin_port: "7",
      line: { chip: "gpiochip0", offset: 7 },
    }]);
    await lines.claim(bindRoutes([catalogRoute("6", "command"), catalogRoute("7", "command")], config.routes).bindings);
    assert.equal(backend.getLevel({ chip: "gpiochip0", offset: 7 }), 0);
    await lines.desired.deliverToCommand("command_6", { desired_id: "des_6", value: "1.0", sequence_number: 1 });
    await lines.desired.deliverToCommand("command_7", { desired_id: "des_7", value: "1.0", sequence_number: 1 });
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(
      waiting().filter((row) => row.desired_id !== undefined).map((row) => [row.desired_id, row.report_status ?? "applied"]),
      [["des_6", "rejected"], ["des_7", "applied"]],
    );
    assert.equal(backend.getLevel({ chip: "gpiochip0", offset: 7 }), 1);
    await lines.release();
  });

  it("works a wall button at boot with no catalog, and moves what it reported to the route's topics once the catalog comes", async () => {
    const { config, backend, lines, waiting, clock, events } = await setup([
      { pin_port: "6", line: RELAY },
      { pin_port: "5", line: SWITCH, controls: { output: "6", mode: "toggle" } },
    ]);
    const actions: string[] = [];
    events.on("control", (action) => actions.push(action.value));
    await lines.claimAtBoot();
    backend.setPull(SWITCH, 1);
    await clock.advance(0);
    assert.equal(backend.getLevel(RELAY), 1, "the press switched the relay with no catalog and no network");
    backend.setPull(SWITCH, 0);
    backend.setPull(SWITCH, 1);
    await clock.advance(0);
    assert.equal(backend.getLevel(RELAY), 0, "the second press switched it back");
    assert.deepEqual(actions, ["1.0", "0.0"]);
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.ok(waiting().every((row) => row.topic.startsWith("#unbound/")), "held under placeholders, never sendable");
    const { bindings } = bindRoutes([catalogRoute("6", "command"), catalogRoute("5", "sensor")], config.routes);
    await lines.claim(bindings);
    await new Promise((resolve) => setTimeout(resolve, 0));
    const rows = waiting();
    assert.deepEqual(
      rows.filter((row) => row.topic === topic("6")).map((row) => row.value),
      ["1.0", "0.0"],
      "both relay changes, in order",
    );
    assert.deepEqual(
      rows.filter((row) => row.topic === topic("5")).map((row) => row.value),
      ["0.0", "1.0", "0.0", "1.0"],
      "the start value and every edge of the button",
    );
    assert.equal(rows.length, 6, "nothing left under a placeholder, nothing twice");
    backend.setPull(SWITCH, 0);
    backend.setPull(SWITCH, 1);
    await clock.advance(0);
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(backend.getLevel(RELAY), 1, "still working after the catalog");
    assert.equal(waiting().filter((row) => row.topic === topic("6")).length, 3, "reported on its topic now");
    await lines.release();
  });

  it("drops what a boot reported for a route the catalog then lacks, and reports it nowhere after", async () => {
    const { config, backend, lines, waiting, clock, outbox } = await setup([
      { pin_port: "6", line: RELAY },
      { pin_port: "5", line: SWITCH, controls: { output: "6", mode: "flip" } },
    ]);
    await lines.claimAtBoot();
    backend.setPull(SWITCH, 1);
    await clock.advance(0);
    await new Promise((resolve) => setTimeout(resolve, 0));
    await lines.claim(bindRoutes([catalogRoute("6", "command")], config.routes).bindings);
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(
      waiting().map((row) => [row.topic, row.value]),
      [[topic("6"), "1.0"]],
      "the relay's report moved, the button's readings dropped",
    );
    assert.ok(outbox.stats.dropped >= 2);
    backend.setPull(SWITCH, 0);
    await clock.advance(0);
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(backend.getLevel(RELAY), 0, "the flip still works on the board");
    assert.ok(waiting().every((row) => !row.topic.startsWith("#")), "and no placeholder is ever written again");
    await lines.release();
  });

  it("powers an output that follows a switch on where the switch stands, in the request that claims it", async () => {
    const { backend, lines } = await setup([
      { pin_port: "6", line: RELAY, power_on: "off" },
      { pin_port: "5", line: SWITCH, controls: { output: "6", mode: "follow" } },
    ]);
    backend.setPull(SWITCH, 1);
    await lines.claimAtBoot();
    assert.deepEqual(backend.levelHistory(RELAY), [0, 1], "the pull, then on: never on, off, on");
    await lines.release();
  });

  it("switches the relay on a press while the disk refuses every write, and reports both once it takes them", async () => {
    const { config, backend, lines, waiting, clock, store, outbox } = await setup([
      { pin_port: "6", line: RELAY },
      { pin_port: "5", line: SWITCH, controls: { output: "6", mode: "toggle" } },
    ]);
    await lines.claimAtBoot();
    await lines.claim(bindRoutes([catalogRoute("6", "command"), catalogRoute("5", "sensor")], config.routes).bindings);
    await new Promise((resolve) => setTimeout(resolve, 0));
    const before = new Set(waiting().map((row) => row.message_id));
    limitPages(store, pageCount(store) + 2);
    let n = 0;
    for (const size of [2000, 300, 40, 1]) {
      try {
        for (;;) addToOutbox(store, "filler", 1, { message_id: `f${n++}`, value: "x".repeat(size), value_received_at: "" }, 0);
      } catch {
        // Full at this size; a smaller one next, until nothing fits.
      }
    }
    backend.setPull(SWITCH, 1);
    await clock.advance(0);
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(backend.getLevel(RELAY), 1, "the light came on with a full disk");
    assert.ok(outbox.stats.held >= 2, "the reading and the relay's report wait in memory");
    limitPages(store, 100_000);
    await clock.advance(1000); // the held writes are tried again
    const reports = waiting().filter((row) => !before.has(row.message_id) && row.topic !== "filler");
    assert.deepEqual(reports.map((row) => [row.topic, row.value]).sort(), [[topic("5"), "1.0"], [topic("6"), "1.0"]]);
    await lines.release();
  });

  it("keeps a control input the catalog makes a command route working on the board, reporting nothing, its desired states answered rejected", async () => {
    const { config, backend, lines, waiting, clock } = await setup([
      { pin_port: "6", line: RELAY },
      { pin_port: "5", line: SWITCH, controls: { output: "6", mode: "toggle" } },
    ]);
    await lines.claimAtBoot();
    await lines.claim(bindRoutes([catalogRoute("6", "command"), catalogRoute("5", "command")], config.routes).bindings);
    backend.setPull(SWITCH, 1);
    await clock.advance(0);
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(backend.getLevel(RELAY), 1, "the button still toggles its light");
    assert.deepEqual(waiting().filter((row) => row.topic === topic("5")), [], "no reading on a command route's topic");
    await lines.desired.deliverToCommand("command_5", { desired_id: "des_5", value: "1.0", sequence_number: 1 });
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(
      waiting().filter((row) => row.topic === topic("5")).map((row) => [row.desired_id, row.report_status]),
      [["des_5", "rejected"]],
      "the cloud gets its answer",
    );
    await lines.release();
  });
});
