import { parseArgs } from "node:util";
import { describeError, RealerError } from "./errors.ts";
import { LOG_LEVELS, type LogLevel } from "./log.ts";
import { ShutdownLatch } from "./platform/signals.ts";
import { COMMIT, VERSION } from "./version.ts";

const HELP = `realer-edge ${VERSION}: firmware runtime for Realer control devices

Usage:
  realer-edge run --config FILE      run the device runtime
  realer-edge check --config FILE    check config, lines and catalog; exit 0 when safe to start
  realer-edge emulator [--port N]    run the bundled Realer emulator (HTTPS API + mosquitto)
  realer-edge demo [--once]          emulator + one device on mock GPIO + a scripted scenario
  realer-edge hil run SCENARIO…      hardware-in-the-loop scenarios (see examples/hil/)
  realer-edge gpio info              list chips and lines (--backend cdev, the default, or sysfs)
  realer-edge gpio get CHIP OFFSET   read a line as an input (or name a line: gpio get NAME)
  realer-edge gpio set CHIP OFFSET 0|1 [--hold-ms N]   drive a line until Ctrl-C or for N ms
  realer-edge gpio watch CHIP OFFSET [--count N]       print edges as they come
  realer-edge update status|check DIR|apply DIR|poll|watch|commit|rollback|adopt PATH|take-package [PATH]|start [PATH]
                                     signed field updates (root: the updater's side)
  realer-edge --help | --version

Options:
  --config FILE        device config (JSON); see examples/device.json
  --log-level LEVEL    debug, info, warn or error
  --state-dir DIR      emulator/demo state (default .state/)
  --port N             emulator HTTPS port on 127.0.0.1 (default: any free port)
  --once               demo: stop after the scenario
  --offline            check: skip the catalog, check the config and lines only
  --backend NAME       gpio: cdev (default), libgpiod, sysfs
  --bias BIAS          gpio: as-is, disabled, pull-up, pull-down
  --active-low         gpio: the line is active when low
  --debounce-ms N      gpio watch: debounce period
  --rig NAME           hil: mock (default), gpio-sim or wired (a real board with jumper wires)
  --binary PATH        hil: the device under test is this compiled binary (arm64 under qemu-user)
  --junit FILE         hil: write JUnit XML
  --report FILE        hil: write an HTML timeline of each scenario
  --sim-dir DIR        hil, gpio-sim: the chip's sysfs directory (found when only one exists)
  --chip LABEL         hil, gpio-sim: the chip the device's lines are on
  --update-dir DIR     update: the updater's state and slots (default /var/lib/realer-edge-update)
  --keys PATH          update: the release public keys, a .pub or a folder of them (default /usr/share/realer-edge/keys)
  --window-s N         update watch: how long a release on trial has to prove itself (default 900)
  --settle-s N         update watch: how long it must run healthy before it commits (default 120)

Exit codes: 0 stopped cleanly, 1 runtime failure (hil: a scenario failed), 2 bad usage or config.
`;

function logLevel(value: string | undefined): LogLevel | undefined {
  if (value === undefined) return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new RealerError("config", `Cannot use --log-level ${value}: choose one of ${LOG_LEVELS.join(", ")}`);
  }
  return value as LogLevel;
}

/** Parses the command line and runs the command; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        config: { type: "string" },
        "log-level": { type: "string" },
        "state-dir": { type: "string" },
        port: { type: "string" },
        once: { type: "boolean" },
        offline: { type: "boolean" },
        backend: { type: "string" },
        bias: { type: "string" },
        "active-low": { type: "boolean" },
        "debounce-ms": { type: "string" },
        "hold-ms": { type: "string" },
        count: { type: "string" },
        rig: { type: "string" },
        binary: { type: "string" },
        junit: { type: "string" },
        report: { type: "string" },
        "sim-dir": { type: "string" },
        chip: { type: "string" },
        "update-dir": { type: "string" },
        keys: { type: "string" },
        "window-s": { type: "string" },
        "settle-s": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (values.version) {
      const { runtimeVersion } = await import("./platform/index.ts");
      console.log(`realer-edge ${VERSION} (commit ${COMMIT}, ${runtimeVersion()})`);
      return 0;
    }
    const level = logLevel(values["log-level"]);
    const stateDir = values["state-dir"] ?? ".state";
    switch (positionals[0]) {
      case "run":
        if (values.config === undefined) throw new RealerError("config", "Cannot run: --config FILE is required");
        {
          // Caught before the runtime's modules load: a stop in the first moments is a clean stop.
          const shutdown = new ShutdownLatch();
          // Each command is loaded when chosen: the field process never holds the emulator or the demo.
          await (await import("./commands/run.ts")).runCommand({ configPath: values.config, logLevel: level, env: process.env, shutdown });
        }
        return 0;
      case "check":
        if (values.config === undefined) throw new RealerError("config", "Cannot check: --config FILE is required");
        return await (await import("./commands/check.ts")).checkCommand({
          configPath: values.config,
          offline: values.offline ?? false,
          env: process.env,
          print: (line) => console.log(line),
        });
      case "emulator":
        await (await import("./commands/emulator.ts")).emulatorCommand({
          stateDir: `${stateDir}/emulator`,
          port: Number(values.port ?? 0),
          logLevel: level,
        });
        return 0;
      case "demo":
        await (await import("./commands/demo.ts")).demoCommand({
          stateDir: `${stateDir}/demo`,
          logLevel: level,
          once: values.once ?? false,
        });
        return 0;
      case "hil":
        return await (await import("./commands/hil.ts")).hilCommand({
          args: positionals.slice(1),
          junit: values.junit,
          report: values.report,
          binary: values.binary,
          rig: values.rig,
          simDir: values["sim-dir"],
          chip: values.chip,
          stateDir,
          print: (line) => console.log(line),
        });
      case "update":
        return await (await import("./commands/update.ts")).updateCommand({
          args: positionals.slice(1),
          updateDir: values["update-dir"],
          keys: values.keys,
          windowS: values["window-s"],
          settleS: values["settle-s"],
          configPath: values.config,
          print: (line) => console.log(line),
        });
      case "gpio":
        return await (await import("./commands/gpio.ts")).gpioCommand({
          args: positionals.slice(1),
          backend: values.backend,
          bias: values.bias,
          activeLow: values["active-low"] ?? false,
          debounceMs: values["debounce-ms"],
          holdMs: values["hold-ms"],
          count: values.count,
          print: (line) => console.log(line),
        });
      default:
        console.error(positionals[0] === undefined ? HELP : `realer-edge: unknown command "${positionals[0]}" (see --help)`);
        return 2;
    }
  } catch (error) {
    console.error(`realer-edge: ${describeError(error)}`);
    const usage = error instanceof RealerError
      ? error.kind === "config"
      : error instanceof TypeError && (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    return usage ? 2 : 1;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
  // Open handles (a half-closed socket, a timer) must not keep a finished command alive.
  process.exit();
}
