import { backoffDelay } from "../backoff.ts";
import { HttpError, RealerError } from "../errors.ts";

/** Backoff settings: a base and cap for ordinary retries, and a floor for slow ones (4002). */
export interface BackoffSettings {
  readonly baseMs: number;
  readonly capMs: number;
  /** The least wait while the subscription is inactive (code 4002). */
  readonly slowMs: number;
  /** The jitter source; tests pin it to see the ceiling of each wait. */
  readonly random?: () => number;
}

/** The defaults for a field device: 1 s doubling to 1 min; 4002 waits at least 5 min. */
export const DEFAULT_BACKOFF: BackoffSettings = { baseMs: 1000, capMs: 60_000, slowMs: 300_000 };

/** What to do after a failed call. */
export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number; readonly slow: boolean }
  | { readonly retry: false; readonly reason: string };

/** Codes whose request must change before it is sent again (section 7). */
const NEVER_UNCHANGED = new Set([4000, 4013, 4022]);

/**
 * Section 7 as one decision: 4000/4013/4022 are never retried unchanged; 4003 and 4004 stop the
 * call; 4002 retries slowly; 429/4029 wait at least `Retry-After`; network errors and 5xx back
 * off exponentially with full jitter.
 */
export function decideRetry(error: unknown, attempt: number, settings: BackoffSettings, random: () => number = settings.random ?? Math.random): RetryDecision {
  const backoff = backoffDelay(attempt, settings.baseMs, settings.capMs, random);
  if (error instanceof HttpError) {
    if (NEVER_UNCHANGED.has(error.code)) return { retry: false, reason: `code ${error.code} is never retried unchanged` };
    if (error.code === 4002) return { retry: true, delayMs: Math.max(settings.slowMs, backoff), slow: true };
    if (error.code === 4003 || error.code === 4004 || error.status === 404) return { retry: false, reason: `code ${error.code}: the call is refused` };
    const retryAfterMs = (error.retryAfter ?? 0) * 1000;
    return { retry: true, delayMs: Math.max(retryAfterMs, backoff), slow: false };
  }
  if (error instanceof RealerError && (error.kind === "config" || error.kind === "protocol")) {
    return { retry: false, reason: error.message };
  }
  return { retry: true, delayMs: backoff, slow: false };
}
