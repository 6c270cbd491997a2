// `realer-edge hil run` end to end: the bundled emulator and mosquitto, the device as its own
// process on the mock rig, the example scenarios, and scenarios that must fail.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { hilCommand } from "../../src/commands/hil.ts";
import { deviceCommand } from "../../src/hil/device-under-test.ts";
import { inheritedEnv, spawnProcess } from "../../src/platform/index.ts";
import { tempDir } from "../helpers/harness.ts";

const EXAMPLES = new URL("../../examples/hil/", import.meta.url).pathname;
const examples = readdirSync(EXAMPLES).map((file) => join(EXAMPLES, file));
const relay = { name: "relay", source_type: "command", kind: "relay", line: { chip: "gpiochip0", offset: 6 } };

describe("realer-edge hil (emulator + mosquitto + the device as a process on mock GPIO)", () => {
  let dir: { path: string; remove: () => void };
  before(() => {
    dir = tempDir("hil");
  });
  after(() => dir?.remove());

  const run = async (files: string[], extra: { junit?: string; report?: string } = {}) => {
    const lines: string[] = [];
    const code = await hilCommand({
      args: ["run", ...files],
      stateDir: join(dir.path, "state"),
      print: (line) => lines.push(line),
      ...extra,
    });
    return { code, output: lines.join("\n") };
  };
  const write = (name: string, scenario: unknown) => {
    const path = join(dir.path, name);
    writeFileSync(path, JSON.stringify(scenario));
    return path;
  };

  it("passes every example scenario, and writes JUnit XML and an HTML timeline", { timeout: 240_000 }, async () => {
    const junit = join(dir.path, "out/hil.xml");
    const report = join(dir.path, "out/hil.html");
    const { code, output } = await run(examples, { junit, report });
    console.log(output.split("\n").filter((line) => /^(PASS|FAIL|hil:)/.test(line)).join("\n"));
    assert.equal(code, 0, output);
    assert.equal(output.match(/^PASS /gm)?.length, examples.length);
    const xml = readFileSync(junit, "utf8");
    assert.equal(xml.match(/<testsuite /g)?.length, examples.length);
    assert.doesNotMatch(xml, /<failure/);
    assert.match(xml, /<testcase classname="restore after a crash without a glitch" name="04 restart \(SIGKILL\)"/);
    const html = readFileSync(report, "utf8");
    assert.match(html, new RegExp(`${examples.length} of ${examples.length} scenario\\(s\\) passed`));
    assert.equal(html.match(/<svg /g)?.length, examples.length, "a timeline per scenario");
    assert.doesNotMatch(html, /<script|https?:\/\//, "self-contained, no script");
  });

  it("fails a scenario whose expectation is false, naming the step, what was expected and what was seen, and skips the rest", {
    timeout: 60_000,
  }, async () => {
    const file = write("false.json", {
      name: "expects the wrong level",
      routes: [relay],
      steps: [
        { do: "set_desired", route: "relay", value: "1.0", label: "on" },
        { do: "expect_line", route: "relay", level: 1 },
        { do: "expect_line", route: "relay", level: 0, within_ms: 500 },
        { do: "expect_report", route: "relay", desired: "on", report_status: "rejected", within_ms: 500 },
      ],
    });
    const junit = join(dir.path, "false.xml");
    const { code, output } = await run([file], { junit });
    assert.equal(code, 1);
    assert.match(output, /FAIL\s+3 expect_line relay at 0 within 500 ms \(\d+ ms\)\n\s+expected relay at 0 within 500 ms; it stayed at 1/);
    assert.match(output, /^FAIL {2}expects the wrong level/m);
    const xml = readFileSync(junit, "utf8");
    assert.match(xml, /<failure message="expected relay at 0 within 500 ms; it stayed at 1/);
    assert.match(xml, /name="04 expect_report[^"]*"[^>]*><skipped\/>/);

    const report = write("report.json", {
      name: "expects a rejection",
      routes: [relay],
      steps: [
        { do: "set_desired", route: "relay", value: "1.0", label: "on" },
        { do: "expect_report", route: "relay", desired: "on", report_status: "rejected", within_ms: 1500 },
      ],
    });
    const second = await run([report]);
    assert.equal(second.code, 1);
    assert.match(
      second.output,
      /expected 1 report\(s\) on relay \(report_status rejected, answering on\) within 1500 ms; saw 0; other reports on relay: 1\.0 applied for on, ack accepted at \+\d+ ms/,
    );
  });

  it("fails the restart step of a relay that glitches at restart (power_on off where restore was meant)", { timeout: 60_000 }, async () => {
    const scenario = JSON.parse(readFileSync(join(EXAMPLES, "restore-after-crash.json"), "utf8")) as { routes: { power_on: string }[] };
    scenario.routes[0]!.power_on = "off";
    const { code, output } = await run([write("glitch.json", scenario)]);
    assert.equal(code, 1);
    assert.match(output, /FAIL\s+4 restart \(SIGKILL\).*\n\s+expected relay to hold 1 through the restart; it showed 0 at \+\d+ ms/);
  });

  it("exits 2 with one line naming the file and the step for a bad scenario, before starting anything", { timeout: 60_000 }, async () => {
    const file = write("bad.json", { name: "bad", routes: [relay], steps: [{ do: "set_desired", route: "lamp", value: "1" }] });
    const [command, ...lead] = deviceCommand(undefined);
    const env = inheritedEnv();
    const child = spawnProcess(command!, [...lead, "hil", "run", file], { ...env, NO_COLOR: "1" });
    assert.equal(await child.exited, 2);
    const { stdout, stderr } = child.output();
    assert.equal(stdout, "");
    assert.equal(
      stderr.trim(),
      `realer-edge: Cannot use scenario ${file}: steps[0] (set_desired): route "lamp" is not one of this scenario's routes (relay)`,
    );
  });
});
