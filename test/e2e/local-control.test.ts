// A wall button that switches its light on the board: against the real emulator and mosquitto,
// on mock GPIO. The relay follows the button with the broker stopped, and every press and every
// relay change reaches the cloud once, as local physical changes, when it is back.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../src/emulator/emulator.ts";
import type { Config } from "../../src/config/schema.ts";
import { RELAY_LINE, startDevice, startEmulator, SWITCH_LINE, waitFor } from "../helpers/harness.ts";

type Payload = { message_id: string; value: string; desired_id?: string; value_received_at: string };

const withControls = (mode: "toggle" | "follow" | "flip" | "momentary") => (routes: Config["routes"]) =>
  routes.map((route) =>
    route.pin_port === "5"
      ? { ...route, controls: { output: "6", mode } }
      : route.pin_port === "6"
      ? { ...route, direction: "output" as const }
      : route
  );

describe("local control (emulator + mosquitto + mock GPIO)", () => {
  let emulator: Emulator;
  let stopEmulator: () => Promise<void>;

  before(async () => {
    ({ emulator, stop: stopEmulator } = await startEmulator());
  });
  after(async () => {
    await stopEmulator?.();
  });

  const feedOf = (deviceId: number, sourceId: string) =>
    emulator.state.feedOf(deviceId).filter((entry) => entry.sourceId === sourceId).map((entry) => entry.payload as Payload);
  /**
   * The reports the cloud took as new, in the order it took them. A replay (the same message_id
   * again: a redelivered desired state is answered with its stored report, which the reconcile
   * after connect can cause) changes nothing there, however late it comes.
   */
  const acceptedOf = (deviceId: number, sourceId: string) =>
    emulator.state.feedOf(deviceId).filter((entry) => entry.sourceId === sourceId && entry.status === "accepted").map((entry) =>
      entry.payload as Payload
    );

  it("toggles the relay on each press with the broker stopped, then reports each press and each change once", async () => {
    const dev = await startDevice(emulator, { routes: withControls("toggle") });
    try {
      await waitFor("online", () => dev.seen.online.length > 0);
      const [relay, button] = ["6", "5"].map((pin) => dev.device.routes.find((route) => route.pin_port === pin)!.source_id);
      await waitFor("the button's first reading at the cloud", () => feedOf(dev.device.device_id, button!).length > 0);
      await emulator.controlBroker("stop");
      await waitFor("offline", () => dev.seen.offline.length > 0);
      for (const expected of [1, 0, 1]) {
        dev.mock.setPull(SWITCH_LINE, 1);
        await waitFor(`the relay at ${expected}`, () => dev.mock.getLevel(RELAY_LINE) === expected);
        dev.mock.setPull(SWITCH_LINE, 0);
        await waitFor("the release seen", () => dev.seen.reading.filter((r) => r.value === "0.0").length >= 1);
      }
      assert.equal(dev.mock.getLevel(RELAY_LINE), 1, "three presses: on, off, on, with no cloud");
      assert.deepEqual(dev.seen.control.map((action) => action.value), ["1.0", "0.0", "1.0"]);
      await emulator.controlBroker("start");
      await waitFor("three relay reports at the cloud", () => feedOf(dev.device.device_id, relay!).length >= 3, 20_000);
      await waitFor("six button readings after the first", () => feedOf(dev.device.device_id, button!).length >= 7, 20_000);
      const relayReports = feedOf(dev.device.device_id, relay!);
      assert.deepEqual(relayReports.map((report) => report.value), ["1.0", "0.0", "1.0"], "each change once, in order");
      assert.ok(relayReports.every((report) => report.desired_id === undefined), "local physical changes carry no desired_id");
      const readings = feedOf(dev.device.device_id, button!).slice(1).map((reading) => reading.value);
      assert.deepEqual(readings, ["1.0", "0.0", "1.0", "0.0", "1.0", "0.0"], "every press and release once");
      const ids = [...relayReports, ...feedOf(dev.device.device_id, button!)].map((p) => p.message_id);
      assert.equal(new Set(ids).size, ids.length, "each its own message_id");
    } finally {
      await dev.stop();
    }
  });

  it("orders a press racing a desired state: the last report the cloud takes is what the relay reads", async () => {
    const dev = await startDevice(emulator, { routes: withControls("toggle") });
    try {
      await waitFor("online", () => dev.seen.online.length > 0);
      const relay = dev.device.routes.find((route) => route.pin_port === "6")!.source_id;
      for (let round = 0; round < 5; round++) {
        const desired = await emulator.setDesired(dev.device.device_id, relay, round % 2 === 0 ? "1.0" : "0.0");
        dev.mock.setPull(SWITCH_LINE, 1);
        dev.mock.setPull(SWITCH_LINE, 0);
        await waitFor("the answer", () => emulator.state.acksOf(dev.device.device_id).some((a) => a.desired_id === desired.desiredId));
        await waitFor("the press's report", () => dev.seen.control.length > round);
        const level = String(dev.mock.getLevel(RELAY_LINE));
        await waitFor(
          `the last relay report at the cloud to be ${level}.0`,
          () => acceptedOf(dev.device.device_id, relay).at(-1)?.value === `${level}.0` && dev.seen.local.length === dev.seen.control.length,
        );
      }
      const reports = acceptedOf(dev.device.device_id, relay);
      const times = reports.map((report) => Date.parse(report.value_received_at));
      assert.deepEqual(times, [...times].sort((a, b) => a - b), "observation times in the order the cloud received them");
    } finally {
      await dev.stop();
    }
  });

  it("follows a maintained switch, powering the relay on where the switch stands, and a newer desired state still wins", async () => {
    const dev = await startDevice(emulator, {
      routes: withControls("follow"),
      beforeStart: () => undefined,
    });
    try {
      await waitFor("online", () => dev.seen.online.length > 0);
      dev.mock.setPull(SWITCH_LINE, 1);
      await waitFor("the relay on", () => dev.mock.getLevel(RELAY_LINE) === 1);
      const relay = dev.device.routes.find((route) => route.pin_port === "6")!.source_id;
      const desired = await emulator.setDesired(dev.device.device_id, relay, "0.0");
      await waitFor(
        "the desired state applied",
        () => emulator.state.acksOf(dev.device.device_id).some((a) => a.desired_id === desired.desiredId),
      );
      assert.equal(dev.mock.getLevel(RELAY_LINE), 0, "the cloud's newer intent wins until the switch moves again");
      dev.mock.setPull(SWITCH_LINE, 0);
      dev.mock.setPull(SWITCH_LINE, 1);
      await waitFor("the relay on again", () => dev.mock.getLevel(RELAY_LINE) === 1);
    } finally {
      await dev.stop();
    }
  });
});
