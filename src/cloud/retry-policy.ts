import { backoffDelay } from "../backoff.ts";
import { describeError, HttpError, RealerError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** Backoff settings: a base and cap for ordinary retries, and a floor for slow ones (4002). */
export interface BackoffSettings {
  readonly baseMs: number;
  readonly capMs: number;
  /** The least wait while the subscription is inactive (4002) or a call is refused; the cap for a refused client. */
  readonly slowMs: number;
  /** The jitter source; tests pin it to see the ceiling of each wait. */
  readonly random?: () => number;
}

/** The defaults for a field device: 1 s doubling to 1 min; 4002 and refusals wait at least 5 min. */
export const DEFAULT_BACKOFF: BackoffSettings = { baseMs: 1000, capMs: 60_000, slowMs: 300_000 };

/**
 * Why a call is retried the way it is:
 * - `transient`: the network, a 5xx, a 429, or an answer we could not read (a captive portal's
 *   page, a truncated body): back off and try again;
 * - `slow`: the subscription is inactive (4002): keep safe local behaviour, try again slowly;
 * - `refused`: the server will not take this call as it is (4000, 4003, 4004, 4013, 4022): not
 *   again at once, only at the slow cadence, in case the server's side changes;
 * - `auth`: the client itself is refused (a wrong or revoked secret): slowly, in minutes, so an
 *   operator who fixes the secret needs no restart.
 */
export type RetryClass = "transient" | "slow" | "refused" | "auth";

/** What to do after a failed call: always try again, after `delayMs`. */
export interface RetryDecision {
  readonly delayMs: number;
  readonly class: RetryClass;
  /** One line: why this wait. */
  readonly reason: string;
}

/** Codes whose request must change before it is sent again (section 7). */
const NEVER_UNCHANGED = new Set([4000, 4013, 4022]);

/** Whether the server refused this request as it is (4000, 4013, 4022): the same bytes would be refused again. */
export function isRefusedAsIs(error: unknown): error is HttpError {
  return error instanceof HttpError && NEVER_UNCHANGED.has(error.code);
}

/** Whether `error` says the OAuth client itself was refused (wrong secret, unknown or revoked client). */
export function isClientRefused(error: unknown): boolean {
  return error instanceof HttpError && error.url.endsWith("/oauth/token") &&
    (error.status === 400 || error.status === 401 || error.code === 4001);
}

/**
 * Section 7 as one decision, for every link: nothing the cloud answers stops a link or the
 * process. 4000/4013/4022 and 4003/4004 are never repeated at once (slow cadence); 4002 retries
 * slowly; 429/4029 wait at least `Retry-After`; a refused client backs off to minutes; network
 * errors, 5xx and unreadable answers back off exponentially with full jitter.
 */
export function decideRetry(
  error: unknown,
  attempt: number,
  settings: BackoffSettings,
  random: () => number = settings.random ?? Math.random,
): RetryDecision {
  const backoff = backoffDelay(attempt, settings.baseMs, settings.capMs, random);
  if (isClientRefused(error)) {
    const floor = Math.min(30_000, settings.slowMs);
    return {
      delayMs: Math.max(floor, backoffDelay(attempt, floor, settings.slowMs, random)),
      class: "auth",
      reason: "the OAuth client was refused: check client_id and the client secret",
    };
  }
  if (error instanceof HttpError) {
    const slow = Math.max(settings.slowMs, backoff);
    if (NEVER_UNCHANGED.has(error.code)) {
      return { delayMs: slow, class: "refused", reason: `code ${error.code} is never retried unchanged at once` };
    }
    if (error.code === 4002) return { delayMs: slow, class: "slow", reason: "the subscription is inactive (4002)" };
    if (error.code === 4003 || error.code === 4004 || error.status === 404) {
      return { delayMs: slow, class: "refused", reason: `code ${error.code}: the call is refused` };
    }
    const retryAfterMs = (error.retryAfter ?? 0) * 1000;
    return { delayMs: Math.max(retryAfterMs, backoff), class: "transient", reason: `HTTP ${error.status}` };
  }
  if (error instanceof RealerError && error.kind === "config") {
    return { delayMs: Math.max(settings.slowMs, backoff), class: "refused", reason: error.message };
  }
  return { delayMs: backoff, class: "transient", reason: error instanceof RealerError ? error.kind : "error" };
}

/**
 * What keeps the device from its cloud beyond a passing fault, in one line for the console and
 * systemd's STATUS; undefined for a transient failure, which the next try may well cure.
 */
export function troubleOf(error: unknown, decision: RetryDecision): string | undefined {
  return decision.class === "transient" ? undefined : `${describeError(error)} (${decision.reason})`;
}

/** Logs a failed call and the wait before the next try, at the level its class deserves. */
export function reportRetry(logger: Logger, event: string, error: unknown, decision: RetryDecision): void {
  const fields = { error: describeError(error), in_ms: decision.delayMs, why: decision.reason };
  switch (decision.class) {
    case "transient":
      logger.warn(event, fields);
      return;
    case "slow":
      logger.error("subscription.inactive", { ...fields, note: "keeping local behaviour; retrying slowly" });
      return;
    case "auth":
      logger.error("auth.refused", {
        ...fields,
        note: "retrying slowly; the secret file is read again each time, so fixing it needs no restart",
      });
      return;
    case "refused":
      logger.error(event, { ...fields, note: "retrying at the slow cadence" });
  }
}
