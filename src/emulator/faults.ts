import type { MiddlewareHandler } from "hono";
import * as v from "valibot";

/** How the emulator answers device publishes. */
export type AckMode = "normal" | "error-retryable" | "withhold";

/** The fault switches, each changeable while the emulator runs. */
export interface Faults {
  /** Credential lifetime in seconds (expires_in and session_hard_expires_in); renew_after is two thirds of it. Undefined: one hour. */
  credentialLifetimeS: number | undefined;
  /** The next `remaining` device API calls (OAuth and iot/v1) are answered with `status`. */
  httpBurst: { status: 429 | 500 | 502 | 503; remaining: number; retryAfterS: number | undefined } | undefined;
  /** Every iot/v1 call is answered 403 with code 4002. */
  subscriptionInactive: boolean;
  ackMode: AckMode;
  /** Answer the bootstrap descriptor with 404, as a server that predates it. */
  noBootstrap: boolean;
  /** Protocols the bootstrap lists whatever the catalog says; undefined lists what is offered. */
  bootstrapProtocols: string[] | undefined;
  /** Scopes the catalog tells devices to ask for, narrower than their routes need (a misconfigured server). */
  credentialScopes: string[] | undefined;
}

/** The switches as the operator API takes them; every field optional. */
export const FaultsPatchSchema = v.strictObject({
  credential_lifetime_s: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(2), v.maxValue(86400)))),
  http_burst: v.optional(v.nullable(v.strictObject({
    status: v.picklist([429, 500, 502, 503]),
    count: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10000)),
    retry_after_s: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(3600))),
  }))),
  subscription_inactive: v.optional(v.boolean()),
  ack_mode: v.optional(v.picklist(["normal", "error-retryable", "withhold"])),
  no_bootstrap: v.optional(v.boolean()),
  bootstrap_protocols: v.optional(v.nullable(v.array(v.picklist(["mqtt", "https"])))),
  credential_scopes: v.optional(v.nullable(v.array(v.string()))),
});

/** The fault switches with no fault on. */
export function noFaults(): Faults {
  return {
    credentialLifetimeS: undefined,
    httpBurst: undefined,
    subscriptionInactive: false,
    ackMode: "normal",
    noBootstrap: false,
    bootstrapProtocols: undefined,
    credentialScopes: undefined,
  };
}

/** Applies an operator patch to the switches. */
export function patchFaults(faults: Faults, patch: v.InferOutput<typeof FaultsPatchSchema>): void {
  if (patch.credential_lifetime_s !== undefined) faults.credentialLifetimeS = patch.credential_lifetime_s ?? undefined;
  if (patch.http_burst !== undefined) {
    faults.httpBurst = patch.http_burst === null
      ? undefined
      : { status: patch.http_burst.status, remaining: patch.http_burst.count, retryAfterS: patch.http_burst.retry_after_s };
  }
  if (patch.subscription_inactive !== undefined) faults.subscriptionInactive = patch.subscription_inactive;
  if (patch.ack_mode !== undefined) faults.ackMode = patch.ack_mode;
  if (patch.no_bootstrap !== undefined) faults.noBootstrap = patch.no_bootstrap;
  if (patch.bootstrap_protocols !== undefined) faults.bootstrapProtocols = patch.bootstrap_protocols ?? undefined;
  if (patch.credential_scopes !== undefined) faults.credentialScopes = patch.credential_scopes ?? undefined;
}

/** The switches as the operator API shows them. */
export function describeFaults(faults: Faults): unknown {
  return {
    credential_lifetime_s: faults.credentialLifetimeS ?? null,
    http_burst: faults.httpBurst
      ? { status: faults.httpBurst.status, count: faults.httpBurst.remaining, retry_after_s: faults.httpBurst.retryAfterS ?? null }
      : null,
    subscription_inactive: faults.subscriptionInactive,
    ack_mode: faults.ackMode,
    no_bootstrap: faults.noBootstrap,
    bootstrap_protocols: faults.bootstrapProtocols ?? null,
    credential_scopes: faults.credentialScopes ?? null,
  };
}

/** Every device API request the emulator saw, for tests that count retries. */
export interface RequestLog {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

/**
 * Middleware for the device-facing routes: records each request, and answers with the burst
 * status or 4002 while those faults are on.
 */
export function faultMiddleware(faults: Faults, log: RequestLog[], now: () => number): MiddlewareHandler {
  return async (c, next) => {
    const path = new URL(c.req.url).pathname;
    const burst = faults.httpBurst;
    if (burst && burst.remaining > 0) {
      burst.remaining--;
      if (burst.remaining === 0) faults.httpBurst = undefined;
      log.push({ at: now(), method: c.req.method, path, status: burst.status });
      if (burst.retryAfterS !== undefined) c.header("Retry-After", String(burst.retryAfterS));
      return path.startsWith("/oauth/")
        ? c.json(
          { error: burst.status === 429 ? "slow_down" : "temporarily_unavailable", error_description: "fault switch: burst" },
          burst.status,
        )
        : c.json({ code: burst.status === 429 ? 4029 : 5000, error: "fault switch: burst" }, burst.status);
    }
    if (faults.subscriptionInactive && path.startsWith("/iot/v1/")) {
      log.push({ at: now(), method: c.req.method, path, status: 403 });
      return c.json({ code: 4002, error: "subscription not active" }, 403);
    }
    await next();
    log.push({ at: now(), method: c.req.method, path, status: c.res.status });
  };
}
