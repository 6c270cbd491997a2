// `realer-edge gpio info|get|set|watch`: look at and drive lines on this board through the same
// backends the runtime uses, for wiring a board up and for diagnosing one in the field.
import { RealerError } from "../errors.ts";
import { createBackend } from "../hal/create.ts";
import { BACKEND_NAMES, type BackendName, type Bias, type GpioBackend, type LineRef, type LineValue } from "../hal/types.ts";
import { onShutdownSignal } from "../platform/index.ts";

/** Options of `realer-edge gpio`. */
export interface GpioCommandOptions {
  readonly args: readonly string[];
  readonly backend: string | undefined;
  readonly bias: string | undefined;
  readonly activeLow: boolean;
  readonly debounceMs: string | undefined;
  /** set: hold the value this long, then release (default: until SIGINT/SIGTERM). */
  readonly holdMs: string | undefined;
  /** watch: stop after this many edges. */
  readonly count: string | undefined;
  readonly print: (line: string) => void;
}

const BIASES: readonly Bias[] = ["as-is", "disabled", "pull-up", "pull-down"];

function parseRef(chip: string | undefined, offset: string | undefined, action: string): LineRef {
  if (chip === undefined) throw new RealerError("config", `Cannot ${action}: name a line as CHIP OFFSET or as a line name`);
  if (offset === undefined) return { name: chip };
  const number = Number(offset);
  if (!Number.isInteger(number) || number < 0) throw new RealerError("config", `Cannot ${action}: offset "${offset}" is not a line number`);
  return { chip, offset: number };
}

function wholeNumber(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  const number = Number(text);
  if (!Number.isInteger(number) || number < 0) throw new RealerError("config", `Cannot use ${option} ${text}: it must be a whole number`);
  return number;
}

const untilSignal = () => new Promise<void>((resolve) => onShutdownSignal(() => resolve()));

/** Runs `gpio <verb> …`; returns the exit code. */
export async function gpioCommand(options: GpioCommandOptions): Promise<number> {
  const [verb, ...rest] = options.args;
  const name = options.backend ?? "cdev";
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new RealerError("config", `Cannot use --backend ${name}: choose one of ${BACKEND_NAMES.join(", ")}`);
  }
  if (options.bias !== undefined && !(BIASES as readonly string[]).includes(options.bias)) {
    throw new RealerError("config", `Cannot use --bias ${options.bias}: choose one of ${BIASES.join(", ")}`);
  }
  const bias = (options.bias ?? "as-is") as Bias;
  const activeLow = options.activeLow;
  const backend = await createBackend(name as BackendName);
  try {
    switch (verb) {
      case "info":
        return await info(backend, options.print) ? 0 : 1;
      case "get": {
        const line = await backend.requestLine(
          parseRef(rest[0], rest[1], "get"),
          { direction: "input", bias, activeLow },
          "realer-edge-gpio",
        );
        options.print(String(await line.getValue()));
        await line.release();
        return 0;
      }
      case "set": {
        const [chip, offset, raw] = rest.length === 2 ? [rest[0], undefined, rest[1]] : rest;
        if (raw !== "0" && raw !== "1") throw new RealerError("config", `Cannot set: the value must be 0 or 1, got ${raw ?? "nothing"}`);
        const ref = parseRef(chip, offset, "set");
        const line = await backend.requestLine(
          ref,
          { direction: "output", bias, activeLow, outputValue: Number(raw) as LineValue },
          "realer-edge-gpio",
        );
        const holdMs = wholeNumber(options.holdMs, "--hold-ms");
        options.print(`holding ${raw} ${holdMs === undefined ? "until Ctrl-C" : `for ${holdMs} ms`}`);
        await (holdMs === undefined ? untilSignal() : new Promise((resolve) => setTimeout(resolve, holdMs)));
        await line.release();
        return 0;
      }
      case "watch": {
        const ref = parseRef(rest[0], rest[1], "watch");
        const debounceMs = wholeNumber(options.debounceMs, "--debounce-ms") ?? 0;
        const count = wholeNumber(options.count, "--count");
        const line = await backend.requestLine(ref, { direction: "input", bias, activeLow, edge: "both", debounceMs }, "realer-edge-gpio");
        options.print(`watching, value ${await line.getValue()}`);
        let seen = 0;
        await new Promise<void>((resolve) => {
          onShutdownSignal(() => resolve());
          line.onEdge((event) => {
            options.print(`${new Date(event.observedAt).toISOString()} ${event.kind} ${event.value}`);
            if (count !== undefined && ++seen >= count) resolve();
          });
        });
        await line.release();
        return 0;
      }
      default:
        throw new RealerError("config", `Cannot run gpio${verb === undefined ? "" : ` ${verb}`}: use info, get, set or watch`);
    }
  } finally {
    await backend.close();
  }
}

/** Prints every chip and line; false when there is no chip at all. */
async function info(backend: GpioBackend, print: (line: string) => void): Promise<boolean> {
  const chips = await backend.listChips();
  if (chips.length === 0) print(`no GPIO chips found by the ${backend.name} backend`);
  for (const chip of chips) {
    print(`${chip.name} [${chip.label}] ${chip.path} (${chip.lines} lines)`);
    for (let offset = 0; offset < chip.lines; offset++) {
      const line = await backend.getLineInfo({ chip: chip.name, offset });
      const flags = [line.direction, line.activeLow ? "active-low" : "", line.used ? `used by "${line.consumer}"` : ""].filter((flag) =>
        flag !== ""
      ).join(", ");
      print(`  line ${String(offset).padStart(3)}: ${(line.name ? `"${line.name}"` : "unnamed").padEnd(20)} ${flags}`);
    }
  }
  return chips.length > 0;
}
