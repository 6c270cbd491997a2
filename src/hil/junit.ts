// JUnit XML for CI systems: a test suite per scenario, a test case per step.
import type { ScenarioResult } from "./run-scenario.ts";
import { escapeMarkup } from "./escape-markup.ts";

/** The JUnit XML of a HIL run. */
export function junitXml(results: readonly ScenarioResult[]): string {
  const suites = results.map((result) => {
    const cases = result.record.steps.map((step) => {
      const name = escapeMarkup(step.index < 0 ? step.text : `${String(step.index + 1).padStart(2, "0")} ${step.text}`);
      const time = ((step.endedAt - step.startedAt) / 1000).toFixed(3);
      const body = step.status === "failed"
        ? `<failure message="${escapeMarkup(step.message ?? "failed")}">${
          escapeMarkup(`${step.message ?? ""}${result.deviceTail ? `\n\ndevice output:\n${result.deviceTail}` : ""}`)
        }</failure>`
        : step.status === "skipped"
        ? "<skipped/>"
        : "";
      return `    <testcase classname="${escapeMarkup(result.scenario.name)}" name="${name}" time="${time}">${body}</testcase>`;
    });
    const failures = result.record.steps.filter((step) => step.status === "failed").length;
    const skipped = result.record.steps.filter((step) => step.status === "skipped").length;
    return `  <testsuite name="${escapeMarkup(result.scenario.name)}" file="${
      escapeMarkup(result.scenario.path)
    }" tests="${cases.length}" failures="${failures}" skipped="${skipped}" time="${(result.durationMs / 1000).toFixed(3)}" hostname="${
      escapeMarkup(result.rig)
    }">\n${cases.join("\n")}\n  </testsuite>`;
  });
  const tests = results.reduce((sum, result) => sum + result.record.steps.length, 0);
  const failures = results.reduce((sum, result) => sum + result.record.steps.filter((step) => step.status === "failed").length, 0);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="realer-edge hil" tests="${tests}" failures="${failures}">\n${
    suites.join("\n")
  }\n</testsuites>\n`;
}
