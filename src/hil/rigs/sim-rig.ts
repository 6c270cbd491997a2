// The gpio-sim rig: the device runs the cdev backend on a gpio-sim chip of a Linux kernel; the
// rig samples each output's `value` attribute in a tight loop and pulls inputs through `pull`.
// Sampling sees a glitch that lasts longer than one round of samples (about a millisecond).
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RealerError } from "../../errors.ts";
import { type Level, type LevelObserver, type Rig, type RigLine, sleep } from "../rig.ts";

/** Finds the one live gpio-sim chip: its sysfs directory and its chip label. */
export function findSimChip(): { dir: string; label: string } {
  const platform = "/sys/devices/platform";
  let found: { dir: string; label: string }[] = [];
  try {
    found = readdirSync(platform).filter((entry) => entry.startsWith("gpio-sim.")).flatMap((device) =>
      readdirSync(join(platform, device)).filter((entry) => /^gpiochip\d+$/.test(entry)).map((chip) => {
        const dir = join(platform, device, chip);
        let label = chip;
        try {
          label = readFileSync(`/sys/bus/gpio/devices/${chip}/label`, "utf8").trim() || chip;
        } catch {
          // Older kernels: the chip name serves.
        }
        return { dir, label };
      })
    );
  } catch {
    // No platform devices: no gpio-sim.
  }
  if (found.length !== 1) {
    throw new RealerError(
      "config",
      `Cannot use the gpio-sim rig: found ${found.length} gpio-sim chips under ${platform}; name one with --sim-dir DIR and --chip LABEL`,
    );
  }
  return found[0]!;
}

/** The gpio-sim rig on the chip whose sysfs directory is `dir` (…/gpio-sim.0/gpiochipN), labelled `chip`. */
export class SimRig implements Rig {
  readonly name = "gpio-sim";
  readonly exact = false;
  readonly gpio = { backend: "cdev" as const };
  readonly #dir: string;
  readonly #chip: string;
  #lines: readonly RigLine[] = [];
  #observe: LevelObserver = () => {};
  #sampling = false;
  #loop: Promise<void> | undefined;
  readonly #last = new Map<string, Level>();

  constructor(dir: string, chip: string) {
    this.#dir = dir;
    this.#chip = chip;
  }

  deviceLine(line: RigLine["line"]): RigLine["line"] {
    if (!("offset" in line)) {
      throw new RealerError("config", `Cannot use line "${line.name}" on the gpio-sim rig: give lines as {chip, offset}`);
    }
    return { chip: this.#chip, offset: line.offset };
  }

  start(lines: readonly RigLine[], observe: LevelObserver): Promise<void> {
    this.#lines = lines;
    this.#observe = observe;
    this.#sampling = true;
    this.#loop = this.#sample();
    return Promise.resolve();
  }

  deviceStarted(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * gpio-sim lets a released line fall to its pull; a board's controller (a Raspberry Pi's) keeps
   * the level of a released output. So before the device stops, each output's pull is set to its
   * level: what the rig then sees across the restart is what the runtime does, not the simulator.
   */
  beforeStop(): void {
    for (const line of this.#lines) {
      const level = this.#last.get(line.route);
      if (line.direction === "output" && level !== undefined) this.#pull(line.route, level);
    }
  }

  deviceStopped(): void {}

  drive(route: string, level: Level): Promise<void> {
    this.#pull(route, level);
    this.#observe(route, level, Date.now());
    return Promise.resolve();
  }

  failLine(route: string): Promise<void> {
    return Promise.reject(new RealerError("config", `Cannot fail line ${route} on the gpio-sim rig: line faults need the mock rig`));
  }

  async close(): Promise<void> {
    this.#sampling = false;
    await this.#loop;
  }

  async #sample(): Promise<void> {
    const outputs = this.#lines.filter((line) => line.direction === "output").map((line) => ({
      route: line.route,
      path: join(this.#dir, `sim_gpio${this.#offset(line.route)}`, "value"),
    }));
    let round = 0;
    while (this.#sampling) {
      for (const output of outputs) {
        const level: Level = readFileSync(output.path, "utf8").trim() === "1" ? 1 : 0;
        if (this.#last.get(output.route) !== level) {
          this.#last.set(output.route, level);
          this.#observe(output.route, level, Date.now());
        }
      }
      if (++round % 20 === 0) await sleep(0);
    }
  }

  /** Pulls the simulated pin of a route's line to `level`. */
  #pull(route: string, level: Level): void {
    writeFileSync(join(this.#dir, `sim_gpio${this.#offset(route)}`, "pull"), level === 1 ? "pull-up" : "pull-down");
  }

  #offset(route: string): number {
    const line = this.#lines.find((candidate) => candidate.route === route)?.line;
    if (!line || !("offset" in line)) throw new RealerError("config", `Cannot reach route ${route} on the gpio-sim rig`);
    return line.offset;
  }
}
