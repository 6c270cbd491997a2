/** A timer set on a {@linkcode Clock}: `cancel()` before it fires and it never does. */
export interface Timer {
  cancel(): void;
}

/**
 * A source of time and timers. Everything in the device that waits (backoff, renewals, expiry,
 * pulses, sampling, debounce, ack timeouts, batching) waits on this, so tests move time instead
 * of sleeping (see `ManualClock`).
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` once, `ms` from now. */
  after(ms: number, fn: () => void): Timer;
  /** Calls `fn` every `ms`, the first time `ms` from now, until cancelled. */
  every(ms: number, fn: () => void): Timer;
}

/** The wall clock and the runtime's own timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
  after: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(timer) };
  },
  every: (ms, fn) => {
    const timer = setInterval(fn, ms);
    return { cancel: () => clearInterval(timer) };
  },
};
