import * as v from "valibot";
import type { Clock } from "../clock.ts";
import { HttpError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { Secret } from "../secret.ts";
import type { ApiClient } from "./api-client.ts";

const TokenSchema = v.object({
  access_token: v.pipe(v.string(), v.minLength(1), v.maxLength(16_384, "access_token is longer than 16 KiB")),
  renew_after: v.optional(v.pipe(v.number(), v.minValue(0))),
  expires_in: v.optional(v.pipe(v.number(), v.minValue(0))),
  token_type: v.optional(v.string()),
  scope: v.optional(v.string()),
});

/**
 * What the device's first token asks for (section 2: only what the firmware needs): the catalog,
 * MQTT, and reading open desired states over HTTPS, which the device does after every connect.
 */
export const FIRST_SCOPES = [
  "iot:catalog:read",
  "iot:mqtt:connect",
  "iot:mqtt:ack:read",
  "iot:mqtt:feed-data:write",
  "iot:mqtt:desired:read",
  "iot:desired-state:read",
] as const;

/** What the HTTPS runtime (section 8) needs besides: feed-data writes and desired-state polling. */
export const HTTPS_RUNTIME_SCOPES = ["iot:feed-data:write", "iot:desired-state:read"] as const;

/** Every scope the device may use: the first token's and the HTTPS runtime's. */
export const DEVICE_SCOPES = [...FIRST_SCOPES, "iot:feed-data:write"] as const;

/** A bearer token and when to renew it. */
interface Token {
  readonly value: Secret;
  readonly renewAt: number;
  readonly expiresAt: number | undefined;
}

/** Options for {@linkcode TokenSource}. */
export interface TokenSourceOptions {
  readonly api: ApiClient;
  readonly clientId: string;
  /** The secret, or a function that reads it afresh for each token request (a fixed file needs no restart). */
  readonly clientSecret: Secret | (() => Secret);
  readonly scopes: readonly string[];
  readonly clock: Clock;
  readonly logger: Logger;
}

/** OAuth client credentials: a cached bearer token, fetched again at its `renew_after`. */
export class TokenSource {
  readonly #options: TokenSourceOptions;
  #scopes: readonly string[];
  #token: Token | undefined;
  #pending: Promise<Token> | undefined;

  constructor(options: TokenSourceOptions) {
    this.#options = options;
    this.#scopes = options.scopes;
  }

  /** The scopes the next token asks for. */
  get scopes(): readonly string[] {
    return this.#scopes;
  }

  /**
   * Asks for `scopes` too from now on (the HTTPS runtime's, once it is used): a token without
   * them is dropped, so the next call fetches one that has them. Nothing changes when it has.
   */
  require(scopes: readonly string[]): void {
    const missing = scopes.filter((scope) => !this.#scopes.includes(scope));
    if (missing.length === 0) return;
    this.#scopes = [...this.#scopes, ...missing];
    this.#token = undefined;
  }

  /** A valid bearer token, fetching one when there is none or it is due for renewal. */
  async get(): Promise<Secret> {
    const { clock } = this.#options;
    if (this.#token && clock.now() < this.#token.renewAt) return this.#token.value;
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    this.#token = await this.#pending;
    return this.#token.value;
  }

  /** When the cached token is renewed and when it expires, for the console; no token, no times. */
  get lifetime(): { readonly renewAt: number; readonly expiresAt: number | undefined } | undefined {
    return this.#token ? { renewAt: this.#token.renewAt, expiresAt: this.#token.expiresAt } : undefined;
  }

  /** Drops the cached token, after the server said it is no longer good (401 / 4001). */
  invalidate(): void {
    this.#token = undefined;
  }

  async #fetch(): Promise<Token> {
    const { api, clientId, clock, logger } = this.#options;
    const scopes = this.#scopes;
    const clientSecret = typeof this.#options.clientSecret === "function" ? this.#options.clientSecret() : this.#options.clientSecret;
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret.reveal())}`).toString("base64");
    const answer = await api.request({
      method: "POST",
      path: "/oauth/token",
      schema: TokenSchema,
      headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", scope: scopes.join(" ") }).toString(),
    });
    const renewAfter = answer.renew_after ?? (answer.expires_in === undefined ? 300 : answer.expires_in * 0.75);
    logger.info("auth.token", { renew_after_s: Math.round(renewAfter), scope: answer.scope });
    const now = clock.now();
    return {
      value: new Secret(answer.access_token),
      renewAt: now + renewAfter * 1000,
      expiresAt: answer.expires_in === undefined ? undefined : now + answer.expires_in * 1000,
    };
  }
}

/** Runs `call` with a bearer token; on 401 / 4001 it gets a new token and tries once more. */
export async function withToken<T>(tokens: TokenSource, call: (token: Secret) => Promise<T>): Promise<T> {
  try {
    return await call(await tokens.get());
  } catch (error) {
    if (!(error instanceof HttpError) || error.kind !== "auth") throw error;
    tokens.invalidate();
    return await call(await tokens.get());
  }
}
