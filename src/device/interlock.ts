// An interlock group: outputs of which at most one is active at a time (a motor's up and down
// relays, say). Turning one on first turns the others off, then waits the dead time.
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { serial } from "../serial.ts";
import type { Actuator } from "./actuator.ts";

/** The outputs of one interlock group. */
export class InterlockGroup {
  readonly name: string;
  readonly #members = new Set<Actuator>();
  readonly #clock: Clock;
  readonly #logger: Logger;
  #deadTimeMs = 0;
  /** Activations in this group, one at a time. */
  readonly #activations = serial();

  constructor(name: string, clock: Clock, logger: Logger) {
    this.name = name;
    this.#clock = clock;
    this.#logger = logger;
  }

  /** Adds a member; the group's dead time is the longest any member asks for. */
  add(actuator: Actuator): void {
    this.#members.add(actuator);
    this.#deadTimeMs = Math.max(this.#deadTimeMs, actuator.config.interlock_dead_time_ms);
  }

  /** Removes a member (at shutdown). */
  remove(actuator: Actuator): void {
    this.#members.delete(actuator);
  }

  /** Whether any member's line was last set active. */
  anyActive(): boolean {
    for (const member of this.#members) if (member.active) return true;
    return false;
  }

  /**
   * Runs `turnOn` for `actuator` once every other member is off and the dead time has passed.
   * Activations in one group run one at a time, so two requests can never both win.
   */
  activate<T>(actuator: Actuator, turnOn: () => Promise<T>): Promise<T> {
    const run = async () => {
      let switched = false;
      for (const member of this.#members) {
        if (member === actuator || !member.active) continue;
        await member.forceOff();
        switched = true;
        this.#logger.info("interlock.released", { group: this.name, off: member.key, for: actuator.key, dead_time_ms: this.#deadTimeMs });
      }
      if (switched && this.#deadTimeMs > 0) await this.#clock.sleep(this.#deadTimeMs);
      return await turnOn();
    };
    return this.#activations(run);
  }
}
