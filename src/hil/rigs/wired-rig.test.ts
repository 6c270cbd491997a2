import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MockBackend } from "../../hal/mock.ts";
import type { Level } from "../rig.ts";
import { WiredRig } from "./wired-rig.ts";

// One mock chip stands for both boards; the test is the jumper wire, copying a pin's level
// to the pin wired to it, as copper would.
const RELAY = { chip: "gpiochip0", offset: 6 };
const RELAY_SPARE = { chip: "gpiochip0", offset: 20 };
const SWITCH = { chip: "gpiochip0", offset: 5 };
const SWITCH_SPARE = { chip: "gpiochip0", offset: 21 };

describe("the wired rig (a real board with jumper wires)", () => {
  it("sees every level of a device output through its spare line, and drives a device input through another", async () => {
    const board = new MockBackend();
    const seen: [string, Level][] = [];
    const rig = new WiredRig(board, { relay: RELAY_SPARE, switch: SWITCH_SPARE });
    await rig.start(
      [{ route: "relay", line: RELAY, direction: "output" }, { route: "switch", line: SWITCH, direction: "input" }],
      (route, level) => seen.push([route, level]),
    );
    assert.equal(board.lineState(RELAY_SPARE).consumer, "realer-hil");
    assert.equal(board.lineState(RELAY_SPARE).direction, "input");
    assert.equal(board.lineState(SWITCH_SPARE).direction, "output");

    // The device's relay switches 1, 0, 1; the wire carries each level to the spare line.
    const relay = await board.requestLine(RELAY, { direction: "output", outputValue: 0 }, "realer-edge");
    for (const level of [1, 0, 1] as const) {
      await relay.setValue(level);
      board.setPull(RELAY_SPARE, board.getLevel(RELAY));
    }
    assert.deepEqual(seen.filter(([route]) => route === "relay").map(([, level]) => level), [0, 1, 0, 1]);

    // The rig drives the switch's spare line; the wire pulls the device's input.
    await rig.drive("switch", 1);
    board.setPull(SWITCH, board.getLevel(SWITCH_SPARE));
    assert.equal(board.getLevel(SWITCH), 1);
    await rig.close();
    assert.equal(board.lineState(RELAY_SPARE).consumer, "", "the spare lines are released");
  });

  it("names the route whose wire is missing, and cannot fail a line", async () => {
    const rig = new WiredRig(new MockBackend(), {});
    await assert.rejects(rig.start([{ route: "relay", line: RELAY, direction: "output" }], () => {}), /wiring\.relay is missing/);
    await assert.rejects(rig.failLine("relay"), /line faults need the mock rig/);
  });
});
