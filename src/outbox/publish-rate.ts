// The catalog's `max_publish_per_second`, kept as a token bucket of one second's worth of
// publishes: a burst of up to a second's worth goes at once, then the rate holds.

/** A token bucket that starts full; the rate is given at each call, so the catalog can change it. */
export class PublishRate {
  #tokens: number;
  #refilledAt = 0;

  /** Starts with `perSecond` tokens: one second's worth may go at once. */
  constructor(perSecond: number) {
    this.#tokens = perSecond;
  }

  /** How many whole publishes may go at `now` (milliseconds) at `perSecond`. */
  available(now: number, perSecond: number): number {
    this.#tokens = Math.min(perSecond, this.#tokens + ((now - this.#refilledAt) / 1000) * perSecond);
    this.#refilledAt = now;
    return Math.floor(this.#tokens);
  }

  /** Takes `count` publishes from the bucket. */
  spend(count: number): void {
    this.#tokens -= count;
  }

  /** Milliseconds until the next whole publish at `perSecond`, at least 1. */
  msToNext(perSecond: number): number {
    return Math.max(1, Math.ceil(((1 - (this.#tokens % 1)) / perSecond) * 1000));
  }
}
