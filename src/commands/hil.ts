import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Emulator } from "../emulator/emulator.ts";
import { findFreePort } from "../emulator/free-port.ts";
import { RealerError } from "../errors.ts";
import { createBackend } from "../hal/create.ts";
import { deviceCommand } from "../hil/device-under-test.ts";
import { junitXml } from "../hil/junit.ts";
import { reportHtml } from "../hil/report-html.ts";
import type { Rig } from "../hil/rig.ts";
import { MockRig } from "../hil/rigs/mock-rig.ts";
import { findSimChip, SimRig } from "../hil/rigs/sim-rig.ts";
import { WiredRig } from "../hil/rigs/wired-rig.ts";
import { runScenario, type ScenarioResult } from "../hil/run-scenario.ts";
import { loadScenario, type Scenario } from "../hil/scenario.ts";
import { createLogger } from "../log.ts";

/** Options of `realer-edge hil run`. */
export interface HilOptions {
  readonly args: readonly string[];
  readonly junit?: string | undefined;
  readonly report?: string | undefined;
  readonly binary?: string | undefined;
  readonly rig?: string | undefined;
  readonly simDir?: string | undefined;
  readonly chip?: string | undefined;
  readonly stateDir: string;
  readonly print: (line: string) => void;
}

const RIGS = ["mock", "gpio-sim", "wired"] as const;

function rigFactory(options: HilOptions): (scenario: Scenario) => Promise<Rig> {
  const name = options.rig ?? "mock";
  if (!(RIGS as readonly string[]).includes(name)) {
    throw new RealerError("config", `Cannot use --rig ${name}: choose one of ${RIGS.join(", ")}`);
  }
  if (name === "gpio-sim") {
    const sim = options.simDir ? { dir: options.simDir, label: options.chip ?? "" } : findSimChip();
    if (!sim.label) throw new RealerError("config", "Cannot use --sim-dir without --chip LABEL: the device needs the chip's label or name");
    return () => Promise.resolve(new SimRig(sim.dir, options.chip ?? sim.label));
  }
  if (name === "wired") {
    return async (scenario) => {
      if (!scenario.wiring) {
        throw new RealerError("config", `Cannot run ${scenario.path} on the wired rig: it has no "wiring" (route name → spare line)`);
      }
      return new WiredRig(await createBackend("cdev"), scenario.wiring);
    };
  }
  return async () => new MockRig(await findFreePort());
}

/**
 * `realer-edge hil run SCENARIO…`: runs each scenario against the bundled emulator and a device
 * process on the chosen rig. Returns 0 when every scenario passed, 1 when one failed; a bad
 * scenario file is a config error (exit 2) before anything starts.
 */
export async function hilCommand(options: HilOptions): Promise<number> {
  const [action, ...files] = options.args;
  if (action !== "run" || files.length === 0) {
    throw new RealerError(
      "config",
      "Cannot run hil: usage is realer-edge hil run SCENARIO… [--junit FILE] [--report FILE.html] [--binary PATH] [--rig mock|gpio-sim|wired]",
    );
  }
  const scenarios = files.map((file) => loadScenario(file));
  const rig = rigFactory(options);
  const command = deviceCommand(options.binary);
  mkdirSync(options.stateDir, { recursive: true });
  const workDir = mkdtempSync(join(resolve(options.stateDir), "hil-"));
  const emulator = new Emulator({ stateDir: join(workDir, "emulator"), logger: createLogger({ level: "warn", source: "emulator" }) });
  const started = performance.now();
  const results: ScenarioResult[] = [];
  try {
    await emulator.start();
    for (const scenario of scenarios) {
      options.print(`scenario ${scenario.name} (${scenario.path}, rig ${options.rig ?? "mock"})`);
      const result = await runScenario(scenario, { emulator, rig, command, workDir, progress: options.print });
      results.push(result);
      options.print(`${result.passed ? "PASS" : "FAIL"}  ${scenario.name} in ${(result.durationMs / 1000).toFixed(1)} s`);
      if (!result.passed && result.deviceTail) {
        options.print(`  device output (last lines):\n${result.deviceTail.split("\n").slice(-8).map((line) => `    ${line}`).join("\n")}`);
      }
    }
  } finally {
    await emulator.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
  const write = (file: string, text: string) => {
    mkdirSync(dirname(resolve(file)), { recursive: true });
    writeFileSync(file, text);
  };
  if (options.junit) write(options.junit, junitXml(results));
  if (options.report) write(options.report, reportHtml(results));
  const passed = results.filter((result) => result.passed).length;
  options.print(
    `hil: ${passed} of ${results.length} scenario(s) passed in ${((performance.now() - started) / 1000).toFixed(1)} s${
      options.report ? `; report ${options.report}` : ""
    }${options.junit ? `; JUnit ${options.junit}` : ""}`,
  );
  return passed === results.length ? 0 : 1;
}
