// One output as the routes use it (a line, or a PWM channel driven to a level): claimed at boot
// with the value the power-on policy chooses (set in the same request, so the output never
// shows another), written and read back, remembered for `restore`, reverted by itself when it is
// a pulse output, and kept apart from the other outputs of its interlock group.
import type { Clock, Timer } from "../clock.ts";
import { type LineRouteConfig, type PwmRouteConfig, routeKey } from "../config/schema.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { InterlockGroup } from "./interlock.ts";
import type { DeviceStore, SavedLineState } from "../state/store.ts";
import { serial } from "../serial.ts";
import { openDriver, type OutputDriver, type OutputHardware } from "./output-driver.ts";
import { scaleOf, type ValueScale } from "./value-scale.ts";

/** Why an output changed; `control`: an input on the board drove it (see `controls`). */
export type ChangeCause = "desired" | "pulse" | "interlock" | "local" | "control" | "shutdown" | "failsafe";

/** A route entry an actuator drives: a line or a PWM channel. */
export type OutputConfig = LineRouteConfig | PwmRouteConfig;

/** A change the actuator made by itself (not asked by a desired state): the cloud hears of it. */
export interface LocalChange {
  /** What the output reads back, in the route's values. */
  readonly value: number;
  readonly cause: Exclude<ChangeCause, "desired">;
  readonly at: number;
}

/** What the power-on policy chose, and why; "on": the output's last level above off (a line's 1). */
export interface PowerOnChoice {
  readonly value: number | "on" | "off";
  readonly reason: string;
}

/** The value an output takes when claimed: the policy applied to what the store remembers. */
export function choosePowerOn(config: OutputConfig, saved: SavedLineState | undefined, now: number, scale: ValueScale): PowerOnChoice {
  const policy = config.power_on;
  if (typeof policy === "number") return { value: policy, reason: `power_on ${scale.format(policy)}` };
  switch (policy) {
    case "on":
      return { value: scale.full, reason: "power_on on" };
    case "off":
      return { value: scale.off, reason: "power_on off" };
    case "restore": {
      if (!saved) return { value: scale.off, reason: "power_on restore: no value remembered yet, so off" };
      const ageS = (now - saved.changedAt) / 1000;
      if (ageS > config.restore_max_age_s) {
        return {
          value: scale.off,
          reason: `power_on restore: the last value is ${Math.round(ageS)} s old, older than ${config.restore_max_age_s} s, so off`,
        };
      }
      const remembered = scale.parse(saved.value);
      if (!remembered.ok) {
        return {
          value: scale.off,
          reason: `power_on restore: the value remembered does not fit this route (${remembered.reason}), so off`,
        };
      }
      return { value: remembered.value, reason: `power_on restore: the last value, set ${Math.round(ageS)} s ago` };
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

/** An output bound to a configured route: a line, or a PWM channel driven to a level. */
export class Actuator {
  readonly config: OutputConfig;
  /** The route's key in the store, known before any catalog. */
  readonly key: string;
  /** The values the output takes and how reports write them. */
  readonly scale: ValueScale;
  readonly #driver: OutputDriver;
  readonly #deps: ActuatorDeps;
  readonly #listeners = new Set<(change: LocalChange) => void>();
  /** The last change made before anyone listened (a fail-safe or pulse before the catalog bound the route). */
  #unheard: LocalChange | undefined;
  #written: number;
  /** The last value above off: what "on" means (a line's 1; a dimmer's last level). */
  #onLevel: number;
  #pulse: Timer | undefined;
  /** Writes of this actuator, one at a time. */
  readonly #writes = serial();
  #drifts = 0;
  #switchedAt = Number.NaN;

  private constructor(config: OutputConfig, driver: OutputDriver, deps: ActuatorDeps, written: number, onLevel: number) {
    this.config = config;
    this.key = routeKey(config);
    this.scale = driver.scale;
    this.#driver = driver;
    this.#deps = deps;
    this.#written = written;
    this.#onLevel = onLevel;
  }

  /**
   * Claims the output of `config` with the power-on policy's value in the same request;
   * `powerOn` overrides the policy (an output that follows a maintained switch takes the
   * switch's position).
   */
  static async claim(hardware: OutputHardware, config: OutputConfig, deps: ActuatorDeps, powerOn?: PowerOnChoice): Promise<Actuator> {
    const { store, clock, logger, interlock } = deps;
    const key = routeKey(config);
    const scale = scaleOf(config);
    let saved: SavedLineState | undefined;
    let savedOn: number | undefined;
    try {
      saved = store.lines.value(key);
      savedOn = config.pwm === undefined ? undefined : store.lines.onLevel(key);
    } catch (error) {
      logger.error("line.state_unreadable", {
        route: key,
        error: describeError(error),
        note: "powering on as if no value were remembered",
      });
    }
    const onLevel = [savedOn, saved?.value].map((value) => value === undefined ? undefined : scale.parse(value))
      .find((parsed) => parsed?.ok && parsed.value !== scale.off);
    const onValue = onLevel?.ok ? onLevel.value : scale.full;
    let choice = powerOn ?? choosePowerOn(config, saved, clock.now(), scale);
    let value = choice.value === "on" ? onValue : choice.value === "off" ? scale.off : choice.value;
    if (value !== scale.off && interlock?.anyActive()) {
      choice = { value: scale.off, reason: `${choice.reason}; but another output of interlock group ${interlock.name} is active, so off` };
      value = scale.off;
    }
    const driver = await openDriver(hardware, config, value);
    const actuator = new Actuator(config, driver, deps, value, value !== scale.off ? value : onValue);
    actuator.#remember(value);
    interlock?.add(actuator);
    logger.info("line.power_on", { route: key, line: driver.word, value: scale.format(value), reason: choice.reason });
    return actuator;
  }

  /** The value last written. */
  get written(): number {
    return this.#written;
  }

  /** Whether the output is above off (a line active, a level above its minimum). */
  get active(): boolean {
    return this.#written !== this.scale.off;
  }

  /** When the last write reached the output, on the monotonic clock (fractional ms): before its read-back and its memory. */
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

  /** What the output holds now, in the route's values. */
  read(): Promise<number> {
    return this.#driver.read();
  }

  /**
   * Sets the output and returns what it reads back. Writes of one actuator run one at a time; a
   * write that turns an output on first turns the rest of its interlock group off. "on" is the
   * last level above off (a line's 1), "flip" goes from off to it and from anything else to off.
   */
  apply(value: number | "on" | "off" | "flip", cause: ChangeCause, settle?: (observed: number) => void): Promise<number> {
    // "flip" is decided in turn, from the value the write before it left: two quick presses flip twice.
    const run = () => {
      const { off } = this.scale;
      const target = value === "on"
        ? this.#onLevel
        : value === "off"
        ? off
        : value === "flip"
        ? (this.active ? off : this.#onLevel)
        : value;
      // An input on the board asking for what the output already holds changes nothing: no write, no report.
      if (cause === "control" && target === this.#written) return Promise.resolve(this.#written);
      const write = async () => {
        const observed = await this.#write(target, cause);
        // Still in this write's turn of the queue: nothing else writes this output before it.
        settle?.(observed);
        return observed;
      };
      return target !== off && this.#deps.interlock ? this.#deps.interlock.activate(this, write) : write();
    };
    return this.#writes(run);
  }

  /** Called by the interlock group, which already holds its lock: writes without queueing behind it. */
  forceOff(): Promise<number> {
    return this.#write(this.scale.off, "interlock");
  }

  /** Ends a pending pulse and gives the line back, first setting it inactive when the policy (or a pulse) says so. */
  async shutdown(): Promise<void> {
    const pulsing = this.#pulse !== undefined;
    this.#pulse?.cancel();
    this.#pulse = undefined;
    if ((this.config.shutdown === "safe" || pulsing) && this.active) {
      await this.#write(this.scale.off, "shutdown").catch((error: unknown) => {
        // A safety matter: the output may still be on after the runtime is gone.
        this.#deps.logger.error("line.shutdown_failed", {
          route: this.key,
          error: describeError(error),
          note: "could not set the output inactive before stopping; it may still be active",
        });
      });
    }
    this.#deps.interlock?.remove(this);
    await this.#driver.release().catch((error: unknown) => {
      this.#deps.logger.warn("line.release_failed", { route: this.key, error: describeError(error) });
    });
  }

  /** Remembers a value for `restore`; a store that refuses is logged by the store, not fatal to the line. */
  #remember(value: number): void {
    const { store, clock, logger } = this.#deps;
    try {
      store.lines.saveValue(this.key, value, clock.now(), this.onLevelToKeep(value));
    } catch (error) {
      logger.debug("line.state_not_saved", { route: this.key, error: describeError(error) });
    }
  }

  /** For a level output, the level "on" goes back to, kept with its value (a line's is always 1). */
  onLevelToKeep(value: number): number | undefined {
    if (this.config.pwm === undefined) return undefined;
    return value !== this.scale.off ? value : this.#onLevel;
  }

  async #write(value: number, cause: ChangeCause): Promise<number> {
    const { clock, logger } = this.#deps;
    const { scale } = this;
    this.#pulse?.cancel();
    this.#pulse = undefined;
    const writing = this.#driver.write(value);
    // Every backend writes within the call (an ioctl, a sysfs write, the mock's level): this is
    // when the output switched, whatever else runs before the promise is awaited.
    this.#switchedAt = performance.now();
    await writing;
    this.#written = value;
    if (value !== scale.off) this.#onLevel = value;
    // A desired state's value is remembered in the same transaction as its answer.
    if (cause !== "desired") this.#remember(value);
    const observed = await this.#driver.read();
    if (scale.format(observed) !== scale.format(value)) {
      this.#drifts++;
      logger.error("line.drift", {
        route: this.key,
        written: scale.format(value),
        observed: scale.format(observed),
        note: "the output does not hold what was written",
      });
    }
    if (value !== scale.off && this.config.pulse_ms !== undefined) {
      const pulseMs = this.config.pulse_ms;
      this.#pulse = clock.after(pulseMs, () => {
        this.#pulse = undefined;
        void this.apply(scale.off, "pulse").catch((error: unknown) =>
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
