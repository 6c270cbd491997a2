// One output line as the routes use it: claimed at boot with the value the power-on policy
// chooses (set in the same request, so the line never shows another level), written and read
// back, remembered for `restore`, reverted by itself when it is a pulse output, and kept apart
// from the other outputs of its interlock group.
import type { Clock, Timer } from "../clock.ts";
import { type RouteConfig, routeKey } from "../config/schema.ts";
import { describeError, RealerError } from "../errors.ts";
import { type GpioBackend, type LineRequest, type LineValue, lineWord } from "../hal/types.ts";
import type { Logger } from "../log.ts";
import type { InterlockGroup } from "./interlock.ts";
import type { DeviceStore, SavedLineState } from "../state/store.ts";
import { serial } from "../serial.ts";
import { formatLineValue } from "./values.ts";

/** Why an output changed; `control`: an input on the board drove it (see `controls`). */
export type ChangeCause = "desired" | "pulse" | "interlock" | "local" | "control" | "shutdown" | "failsafe";

/** A change the actuator made by itself (not asked by a desired state): the cloud hears of it. */
export interface LocalChange {
  readonly value: LineValue;
  readonly cause: Exclude<ChangeCause, "desired">;
  readonly at: number;
}

/** What the power-on policy chose, and why. */
export interface PowerOnChoice {
  readonly value: LineValue;
  readonly reason: string;
}

/** The value an output takes when claimed: the policy applied to what the store remembers. */
export function choosePowerOn(config: RouteConfig, saved: SavedLineState | undefined, now: number): PowerOnChoice {
  switch (config.power_on) {
    case "on":
      return { value: 1, reason: "power_on on" };
    case "off":
      return { value: 0, reason: "power_on off" };
    case "restore": {
      if (!saved) return { value: 0, reason: "power_on restore: no value remembered yet, so off" };
      const ageS = (now - saved.changedAt) / 1000;
      if (ageS > config.restore_max_age_s) {
        return {
          value: 0,
          reason: `power_on restore: the last value is ${Math.round(ageS)} s old, older than ${config.restore_max_age_s} s, so off`,
        };
      }
      return { value: saved.value, reason: `power_on restore: the last value, set ${Math.round(ageS)} s ago` };
    }
  }
}

/** What {@linkcode Actuator} works with. */
export interface ActuatorDeps {
  readonly store: DeviceStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly interlock?: InterlockGroup | undefined;
}

/** An output line bound to a configured route. */
export class Actuator {
  readonly config: RouteConfig;
  /** The route's key in the store, known before any catalog. */
  readonly key: string;
  readonly #line: LineRequest;
  readonly #deps: ActuatorDeps;
  readonly #listeners = new Set<(change: LocalChange) => void>();
  /** The last change made before anyone listened (a fail-safe or pulse before the catalog bound the route). */
  #unheard: LocalChange | undefined;
  #written: LineValue;
  #pulse: Timer | undefined;
  /** Writes of this actuator, one at a time. */
  readonly #writes = serial();
  #drifts = 0;
  #switchedAt = Number.NaN;

  private constructor(config: RouteConfig, line: LineRequest, deps: ActuatorDeps, written: LineValue) {
    this.config = config;
    this.key = routeKey(config);
    this.#line = line;
    this.#deps = deps;
    this.#written = written;
  }

  /**
   * Claims the line of `config` as an output, with the power-on policy's value in the same
   * request; `powerOn` overrides the policy (an output that follows a maintained switch takes the
   * switch's position).
   */
  static async claim(backend: GpioBackend, config: RouteConfig, deps: ActuatorDeps, powerOn?: PowerOnChoice): Promise<Actuator> {
    const { store, clock, logger, interlock } = deps;
    const key = routeKey(config);
    const ref = config.line;
    if (ref === undefined) throw new RealerError("config", `Cannot claim ${key} as an output: it reads a file, not a line`);
    let saved: SavedLineState | undefined;
    try {
      saved = store.lines.value(key);
    } catch (error) {
      logger.error("line.state_unreadable", {
        route: key,
        error: describeError(error),
        note: "powering on as if no value were remembered",
      });
    }
    let choice = powerOn ?? choosePowerOn(config, saved, clock.now());
    if (choice.value === 1 && interlock?.anyActive()) {
      choice = { value: 0, reason: `${choice.reason}; but another output of interlock group ${interlock.name} is active, so off` };
    }
    const line = await backend.requestLine(ref, {
      direction: "output",
      activeLow: config.active_low,
      bias: config.bias,
      drive: config.drive,
      outputValue: choice.value,
    }, "realer-edge");
    const actuator = new Actuator(config, line, deps, choice.value);
    actuator.#remember(choice.value);
    interlock?.add(actuator);
    logger.info("line.power_on", { route: key, line: lineWord(ref), value: formatLineValue(choice.value), reason: choice.reason });
    return actuator;
  }

  /** The value last written. */
  get written(): LineValue {
    return this.#written;
  }

  /** When the last write reached the line, on the monotonic clock (fractional ms): before its read-back and its memory. */
  get switchedAt(): number {
    return this.#switchedAt;
  }

  /** How many writes the line did not hold. */
  get drifts(): number {
    return this.#drifts;
  }

  /** Calls `listener` for each change the actuator makes by itself (pulse end, interlock, fail-safe, local), starting with the last one nobody heard. */
  onLocalChange(listener: (change: LocalChange) => void): () => void {
    this.#listeners.add(listener);
    const unheard = this.#unheard;
    this.#unheard = undefined;
    if (unheard) listener(unheard);
    return () => this.#listeners.delete(listener);
  }

  /** The line's logical value now. */
  read(): Promise<LineValue> {
    return this.#line.getValue();
  }

  /**
   * Sets the line and returns what it reads back. Writes of one actuator run one at a time; a
   * write that turns an output on first turns the rest of its interlock group off.
   */
  apply(value: LineValue | "flip", cause: ChangeCause, settle?: (observed: LineValue) => void): Promise<LineValue> {
    // "flip" is decided in turn, from the value the write before it left: two quick presses flip twice.
    const run = () => {
      const target: LineValue = value === "flip" ? (this.#written === 1 ? 0 : 1) : value;
      // An input on the board asking for what the output already holds changes nothing: no write, no report.
      if (cause === "control" && target === this.#written) return Promise.resolve(this.#written);
      const write = async () => {
        const observed = await this.#write(target, cause);
        // Still in this write's turn of the queue: nothing else writes this output before it.
        settle?.(observed);
        return observed;
      };
      return target === 1 && this.#deps.interlock ? this.#deps.interlock.activate(this, write) : write();
    };
    return this.#writes(run);
  }

  /** Called by the interlock group, which already holds its lock: writes without queueing behind it. */
  forceOff(): Promise<LineValue> {
    return this.#write(0, "interlock");
  }

  /** Ends a pending pulse and gives the line back, first setting it inactive when the policy (or a pulse) says so. */
  async shutdown(): Promise<void> {
    const pulsing = this.#pulse !== undefined;
    this.#pulse?.cancel();
    this.#pulse = undefined;
    if ((this.config.shutdown === "safe" || pulsing) && this.#written === 1) {
      await this.#write(0, "shutdown").catch((error: unknown) => {
        // A safety matter: the output may still be on after the runtime is gone.
        this.#deps.logger.error("line.shutdown_failed", {
          route: this.key,
          error: describeError(error),
          note: "could not set the output inactive before stopping; it may still be active",
        });
      });
    }
    this.#deps.interlock?.remove(this);
    await this.#line.release().catch((error: unknown) => {
      this.#deps.logger.warn("line.release_failed", { route: this.key, error: describeError(error) });
    });
  }

  /** Remembers a value for `restore`; a store that refuses is logged by the store, not fatal to the line. */
  #remember(value: LineValue): void {
    const { store, clock, logger } = this.#deps;
    try {
      store.lines.saveValue(this.key, value, clock.now());
    } catch (error) {
      logger.debug("line.state_not_saved", { route: this.key, error: describeError(error) });
    }
  }

  async #write(value: LineValue, cause: ChangeCause): Promise<LineValue> {
    const { clock, logger } = this.#deps;
    this.#pulse?.cancel();
    this.#pulse = undefined;
    const writing = this.#line.setValue(value);
    // Every backend writes the line within the call (an ioctl, a sysfs write, the mock's level):
    // this is when the relay switched, whatever else runs before the promise is awaited.
    this.#switchedAt = performance.now();
    await writing;
    this.#written = value;
    // A desired state's value is remembered in the same transaction as its answer.
    if (cause !== "desired") this.#remember(value);
    const observed = await this.#line.getValue();
    if (observed !== value) {
      this.#drifts++;
      logger.error("line.drift", {
        route: this.key,
        written: formatLineValue(value),
        observed: formatLineValue(observed),
        note: "the line does not hold what was written",
      });
    }
    if (value === 1 && this.config.pulse_ms !== undefined) {
      const pulseMs = this.config.pulse_ms;
      this.#pulse = clock.after(pulseMs, () => {
        this.#pulse = undefined;
        void this.apply(0, "pulse").catch((error: unknown) =>
          logger.error("line.pulse_failed", { route: this.key, error: describeError(error) })
        );
      });
    }
    if (cause !== "desired") {
      const change: LocalChange = { value: observed, cause, at: clock.now() };
      if (this.#listeners.size === 0) this.#unheard = change;
      for (const listener of this.#listeners) listener(change);
    }
    return observed;
  }
}
