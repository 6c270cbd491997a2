// Messages observed while the wall clock cannot be believed: stored with their moment on the
// boot's monotonic clock and held back, then stamped with the true time once it is known, so
// that nothing leaves with a time that was wrong.
import type { Clock } from "../clock.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { FeedPayload } from "../mqtt/messages.ts";
import type { OutboxStats } from "./types.ts";
import type { OutboxTable } from "../state/outbox-table.ts";

/** What the outbox asks of the device's time keeper (`TimeKeeper` in src/device/ answers it). */
export interface WallTime {
  /** Whether the wall clock can be believed now. */
  readonly trusted: boolean;
  /** A wall time corrected to the time believed, or undefined while the time is unknown. */
  correct(wall: number): number | undefined;
  /** The moment on this boot's monotonic clock of a wall time read now. */
  monoOf(wall: number): number;
  /** The wall time of a monotonic moment, once the time is known. */
  wallOfMono(mono: number): number | undefined;
}

/** Whether the wall clock can be believed, and this boot's id for the monotonic moments. */
export interface ClockTrust {
  readonly keeper: WallTime;
  readonly bootId: string;
}

/** A payload to store, with its monotonic moment when it must wait for the time. */
export interface Stamped {
  readonly payload: FeedPayload;
  readonly clock?: { readonly mono: number; readonly bootId: string };
}

/** What {@linkcode ClockHold} works with; it counts the waiting messages in `stats.waitingForClock`. */
export interface ClockHoldOptions {
  readonly time: ClockTrust | undefined;
  readonly table: Pick<OutboxTable, "clockHeldCount" | "restampClockHeld">;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly stats: OutboxStats;
}

/** Stamps new messages, holds those whose time is unknown, and releases them once it is known. */
export class ClockHold {
  readonly #options: ClockHoldOptions;

  /** Counts the messages an earlier run held: they wait for the clock as before. */
  constructor(options: ClockHoldOptions) {
    this.#options = options;
    if (!options.time) return;
    try {
      options.stats.waitingForClock = options.table.clockHeldCount();
    } catch {
      options.stats.waitingForClock = 0;
    }
  }

  /** Whether messages wait for the time (the sender skips them). */
  get holding(): boolean {
    return this.#options.stats.waitingForClock > 0;
  }

  /**
   * The payload with its time corrected when the cloud's clock is in use, or, while the time is
   * unknown, as it is with its monotonic moment, to be held until the time is known.
   */
  stamp(payload: FeedPayload): Stamped {
    const time = this.#options.time;
    const observed = Date.parse(payload.value_received_at);
    if (!time || !Number.isFinite(observed)) return { payload };
    const corrected = time.keeper.correct(observed);
    if (corrected === undefined) {
      this.#options.stats.waitingForClock++;
      return { payload, clock: { mono: time.keeper.monoOf(observed), bootId: time.bootId } };
    }
    return Math.abs(corrected - observed) < 1000
      ? { payload }
      : { payload: { ...payload, value_received_at: new Date(corrected).toISOString() } };
  }

  /**
   * Stamps the held messages once the time is known, so that they can go; true when it did
   * (what waits to be sent changed). A failing store is logged and tried at the next send.
   */
  release(): boolean {
    const { time, stats, table, clock, logger } = this.#options;
    if (!time || stats.waitingForClock === 0 || !time.keeper.trusted) return false;
    try {
      const { restamped, otherBoot } = table.restampClockHeld(time.bootId, (mono) => time.keeper.wallOfMono(mono) ?? clock.now());
      stats.waitingForClock = 0;
      logger.info("clock.restamped", {
        messages: restamped,
        ...(otherBoot > 0 ? { from_an_earlier_boot: otherBoot, note: "kept the stamp they were written with" } : {}),
      });
      return true;
    } catch (error) {
      logger.warn("clock.restamp_failed", { error: describeError(error), note: "tried again at the next send" });
      return false;
    }
  }
}
