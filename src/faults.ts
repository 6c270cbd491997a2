import type { Clock } from "./clock.ts";
import { describeError } from "./errors.ts";
import type { Logger, LogLevel } from "./log.ts";

/** How often one kind of fault may be logged again while it repeats. */
const REPEAT_EVERY_MS = 60_000;

interface Tally {
  count: number;
  loggedAt: number;
  suppressed: number;
}

/**
 * Failures that must not pass silently but may repeat fast (a sensor read every second on a dead
 * line, a faulty event listener): each is counted by where it happened, and logged the first
 * time and then at most once a minute with how many were not logged in between.
 */
export class Faults {
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #tallies = new Map<string, Tally>();

  constructor(logger: Logger, clock: Clock) {
    this.#logger = logger;
    this.#clock = clock;
  }

  /** Notes one failure at `where` (a short dotted name, also the log event). */
  report(
    where: string,
    error: unknown,
    fields: Readonly<Record<string, string | number | undefined>> = {},
    level: LogLevel = "warn",
  ): void {
    const now = this.#clock.now();
    const tally = this.#tallies.get(where) ?? { count: 0, loggedAt: Number.NEGATIVE_INFINITY, suppressed: 0 };
    tally.count++;
    this.#tallies.set(where, tally);
    if (now - tally.loggedAt < REPEAT_EVERY_MS) {
      tally.suppressed++;
      return;
    }
    this.#logger[level](where, { ...fields, error: describeError(error), ...(tally.suppressed > 0 ? { repeated: tally.suppressed } : {}) });
    tally.loggedAt = now;
    tally.suppressed = 0;
  }

  /** How many failures each place has had since start, for /metrics. */
  counts(): { readonly where: string; readonly count: number }[] {
    return [...this.#tallies].map(([where, tally]) => ({ where, count: tally.count }));
  }
}
