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

/** The scopes the device asks for: MQTT, and the HTTPS runtime it falls back to (section 2). */
export const DEVICE_SCOPES = [
  "iot:catalog:read",
  "iot:mqtt:connect",
  "iot:mqtt:ack:read",
  "iot:mqtt:feed-data:write",
  "iot:mqtt:desired:read",
  "iot:feed-data:write",
  "iot:desired-state:read",
] as const;

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
  #token: Token | undefined;
  #pending: Promise<Token> | undefined;

  constructor(options: TokenSourceOptions) {
    this.#options = options;
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
    const { api, clientId, scopes, clock, logger } = this.#options;
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
