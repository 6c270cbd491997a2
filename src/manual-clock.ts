import type { Clock } from "./clock.ts";

/**
 * A clock that moves only when told, for tests: `sleep()` waits until `advance()` has moved the
 * time past its deadline, so backoff, expiry and renewal run without real waiting.
 */
export class ManualClock implements Clock {
  #now: number;
  readonly #sleepers = new Set<{ at: number; resolve: () => void }>();

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
      const sleeper = { at: this.#now + ms, resolve };
      this.#sleepers.add(sleeper);
      signal?.addEventListener("abort", () => {
        this.#sleepers.delete(sleeper);
        reject(signal.reason);
      }, { once: true });
    });
  }

  /** How many sleeps are waiting. */
  get sleeping(): number {
    return this.#sleepers.size;
  }

  /** Moves time on by `ms`, waking every sleep that is due, then lets their continuations run. */
  async advance(ms: number): Promise<void> {
    this.#now += ms;
    for (const sleeper of [...this.#sleepers]) {
      if (sleeper.at > this.#now) continue;
      this.#sleepers.delete(sleeper);
      sleeper.resolve();
    }
    for (let i = 0; i < 20; i++) await Promise.resolve();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}
