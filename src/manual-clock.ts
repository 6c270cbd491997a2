import type { Clock, Timer } from "./clock.ts";

interface Scheduled {
  at: number;
  readonly every: number | undefined;
  readonly fire: () => void;
  readonly order: number;
}

/**
 * A clock that moves only when told, for tests: sleeps, timers and intervals wait until
 * `advance()` has moved the time past their deadline, so backoff, expiry, renewal, pulses,
 * sampling and ack timeouts run without real waiting.
 */
export class ManualClock implements Clock {
  #now: number;
  readonly #scheduled = new Set<Scheduled>();
  #order = 0;

  constructor(start = Date.UTC(2026, 10, 30, 12)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const timer = this.after(ms, () => resolve());
      signal?.addEventListener("abort", () => {
        timer.cancel();
        reject(signal.reason);
      }, { once: true });
    });
  }

  after(ms: number, fn: () => void): Timer {
    return this.#schedule(ms, undefined, fn);
  }

  every(ms: number, fn: () => void): Timer {
    return this.#schedule(ms, Math.max(1, ms), fn);
  }

  #schedule(ms: number, every: number | undefined, fire: () => void): Timer {
    const entry: Scheduled = { at: this.#now + Math.max(0, ms), every, fire, order: this.#order++ };
    this.#scheduled.add(entry);
    return { cancel: () => this.#scheduled.delete(entry) };
  }

  /** How many sleeps and timers are waiting. */
  get sleeping(): number {
    return this.#scheduled.size;
  }

  /**
   * Moves time on by `ms`, firing every sleep, timer and interval that falls due, in time order
   * (an interval as many times as it falls due), and letting each one's continuations run
   * before the next: what a timer schedules on the way fires too, if it falls within `ms`.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      let next: Scheduled | undefined;
      for (const entry of this.#scheduled) {
        if (entry.at <= end && (!next || entry.at < next.at || (entry.at === next.at && entry.order < next.order))) next = entry;
      }
      if (!next) break;
      this.#now = Math.max(this.#now, next.at);
      if (next.every === undefined) this.#scheduled.delete(next);
      else next.at += next.every;
      next.fire();
      await settle();
    }
    this.#now = end;
    await settle();
  }
}

/** Lets promise continuations and the runtime's own zero-delay work run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
}
