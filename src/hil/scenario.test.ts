import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { toJsonSchema } from "@valibot/to-json-schema";
import { RealerError } from "../errors.ts";
import { loadScenario, parseScenario, ScenarioSchema } from "./scenario.ts";

const examples = new URL("../../examples/hil/", import.meta.url);
const relay = { name: "relay", source_type: "command", line: { chip: "gpiochip0", offset: 6 } };
const button = { name: "button", source_type: "sensor", line: { chip: "gpiochip0", offset: 5 } };
const scenario = (steps: unknown[], routes: unknown[] = [relay, button]) => ({ name: "t", routes, steps });

/** The one-line error a scenario gets, or undefined when it is valid. */
function errorOf(input: unknown): string | undefined {
  try {
    parseScenario(input, "s.json");
    return undefined;
  } catch (error) {
    assert.ok(error instanceof RealerError && error.kind === "config", `a config error, not ${String(error)}`);
    assert.doesNotMatch(error.message, /\n/, "one line");
    return error.message;
  }
}

describe("HIL scenario files", () => {
  const dir = mkdtempSync(join(tmpdir(), "realer-scenario-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("accepts every file in examples/hil/ (so `hil run examples/hil/*.json` runs them all), each with routes bound by name and a direction", () => {
    const files = readdirSync(examples);
    assert.deepEqual(files.filter((file) => !file.endsWith(".json")), [], "only scenarios in the folder");
    assert.ok(files.length >= 6, `${files.length} examples`);
    for (const file of files) {
      const loaded = loadScenario(new URL(file, examples).pathname);
      assert.ok(loaded.steps.length > 0);
      for (const route of loaded.routes) {
        assert.equal(route.config.pin_port, route.name);
        assert.equal(route.config.direction, route.source_type === "command" ? "output" : "input");
      }
    }
  });

  it("points at a JSON Schema that matches the code (regenerate with npm run schema)", () => {
    const committed = JSON.parse(readFileSync(new URL("../scenario.schema.json", examples), "utf8"));
    const current = { ...toJsonSchema(ScenarioSchema, { errorMode: "ignore" }), title: "realer-edge hil scenario" };
    assert.deepEqual(committed, JSON.parse(JSON.stringify(current)));
  });

  it("names the file, the step and its kind for a bad step", () => {
    assert.equal(
      errorOf(scenario([{ do: "wait", ms: 10 }, { do: "expect_line", route: "relay", level: 2 }])),
      "Cannot use scenario s.json: steps[1].level (expect_line): must be 0 or 1",
    );
    assert.match(errorOf(scenario([{ do: "jump" }]))!, /steps\[0\].*"do" must be one of set_desired, drive/);
    assert.match(errorOf(scenario([{ do: "wait", ms: 10, extra: 1 }]))!, /steps\[0\].*extra/);
  });

  it("takes a PWM route with its range, read with expect_level, and refuses line steps on it and a level step on a line", () => {
    const lamp = { name: "lamp", source_type: "command", pwm: { chip: "pwmchip0", channel: 0 }, range: { max: 10 } };
    assert.equal(errorOf(scenario([{ do: "expect_level", route: "lamp", value: 5 }], [lamp, button])), undefined);
    assert.match(
      errorOf(scenario([{ do: "expect_line", route: "lamp", level: 1 }], [lamp, button]))!,
      /steps\[0\] \(expect_line\): route "lamp" drives a PWM channel; expect_line needs a line \(use expect_level\)$/,
    );
    assert.match(
      errorOf(scenario([{ do: "expect_level", route: "relay", value: 1 }]))!,
      /steps\[0\] \(expect_level\): route "relay" drives a line; expect_level reads a PWM channel/,
    );
    assert.match(
      errorOf(scenario([{ do: "wait", ms: 1 }], [{ ...lamp, source_type: "sensor" }]))!,
      /routes\[0\]\.pwm: a PWM channel is an output|routes\[0\]\.direction/,
    );
    assert.match(
      errorOf(scenario([{ do: "wait", ms: 1 }], [{ name: "x", source_type: "command" }]))!,
      /routes\[0\]: needs exactly one of line, file or pwm$/,
    );
  });

  it("refuses a step on a route the scenario does not have, or of the wrong kind", () => {
    assert.match(
      errorOf(scenario([{ do: "drive", route: "relais", level: 1 }]))!,
      /steps\[0\] \(drive\): route "relais" is not one of this scenario's routes \(relay, button\)/,
    );
    assert.match(
      errorOf(scenario([{ do: "drive", route: "relay", level: 1 }]))!,
      /steps\[0\] \(drive\): route "relay" is a command route; drive needs a sensor route/,
    );
    assert.match(errorOf(scenario([{ do: "set_desired", route: "button", value: "1" }]))!, /needs a command route/);
    assert.match(errorOf(scenario([{ do: "restart", steady: ["button"] }]))!, /steady: "button" is not a command route/);
  });

  it("checks each route's line settings with the device config's own rules", () => {
    assert.match(
      errorOf(scenario([{ do: "wait", ms: 1 }], [{ ...relay, pulse_ms: 100, power_on: "restore" }]))!,
      /routes\[0\].*a pulse output must power on "off"/,
    );
    assert.match(errorOf(scenario([{ do: "wait", ms: 1 }], [{ ...relay, debounce_ms: -1 }]))!, /routes\[0\]\.debounce_ms/);
    assert.match(
      errorOf(scenario([{ do: "wait", ms: 1 }], [relay, { ...button, name: "relay" }]))!,
      /routes\[1\]\.name: "relay" is used twice/,
    );
    assert.match(errorOf(scenario([{ do: "wait", ms: 1 }], [{ ...relay, source_id: "x" }]))!, /routes\[0\].*source_id/);
    assert.match(
      errorOf({ ...scenario([{ do: "wait", ms: 1 }]), wiring: { lamp: { chip: "gpiochip1", offset: 3 } } })!,
      /wiring\.lamp: not one of this scenario's routes/,
    );
  });

  it("says when a file is missing or not JSON, in one line", () => {
    assert.throws(() => loadScenario(join(dir, "missing.json")), /Cannot read scenario .*missing\.json: ENOENT/);
    writeFileSync(join(dir, "broken.json"), '{ "name": ');
    assert.throws(() => loadScenario(join(dir, "broken.json")), /Cannot use scenario .*broken\.json: not JSON/);
  });
});
