import { backoffDelay } from "../backoff.ts";
import type { ApiClient } from "../cloud/api-client.ts";
import type { Catalog } from "../cloud/catalog.ts";
import { type MqttCredential, requestCredential } from "../cloud/credentials.ts";
import { type TokenSource, withToken } from "../cloud/oauth.ts";
import type { Clock } from "../clock.ts";
import { type BackoffSettings, decideRetry, reportRetry, type RetryClass, troubleOf } from "../cloud/retry-policy.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { decodeJson } from "./messages.ts";
import { MqttSession, reasonName, type SessionEnd, type SessionOptions } from "./session.ts";

/** Options for {@linkcode MqttLink}. */
export interface LinkOptions {
  readonly api: ApiClient;
  readonly tokens: TokenSource;
  readonly catalog: Catalog;
  readonly ca: string | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Topics to subscribe after every connect: the ack topic and each desired topic. */
  readonly topics: readonly string[];
  readonly onOnline: (session: LinkSession) => void;
  readonly onOffline: () => void;
  /**
   * A message, decoded from JSON (a payload that is not JSON is logged and acknowledged here: no
   * answer could name what it asked). Resolving sends the PUBACK; rejecting leaves it unsent.
   */
  readonly onMessage: (topic: string, message: unknown) => void | Promise<void>;
  readonly backoff: BackoffSettings;
  /** What keeps the link down beyond a passing fault (undefined once gone), with the retry's class. */
  readonly onTrouble?: (trouble: string | undefined, retryClass?: RetryClass) => void;
  /** Told of each message left without a PUBACK (its answer could not be recorded). */
  readonly onUnacknowledged?: (topic: string, error: unknown) => void;
  /** Opens a session: `MqttSession.connect`, a real broker over TLS, unless a test gives a fake. */
  readonly connect?: (options: SessionOptions) => Promise<LinkSession>;
}

/** What the link and the runtime use of a session (`MqttSession`, or a test's fake). */
export type LinkSession = Pick<MqttSession, "publish" | "subscribe" | "end" | "closed">;

/** What the link is doing, for status pages and tests. */
export interface LinkStatus {
  readonly connected: boolean;
  readonly connectedSince: number | undefined;
  readonly reconnects: number;
  readonly renewals: number;
  readonly credentialRenewAt: number | undefined;
  readonly credentialExpiresAt?: number | undefined;
  /** What keeps the link from connecting beyond a passing fault (a refused client, 4002), if anything. */
  readonly trouble?: string | undefined;
}

const STABLE_MS = 60_000;

/**
 * Keeps the device connected: credential, CONNECT with exactly that tuple, SUBSCRIBE with every
 * SUBACK checked, renewal at `renew_after` (with jitter, so a fleet does not renew in step),
 * and reconnects with capped exponential backoff and full jitter. A new credential is asked for
 * on every reconnect: the password is held only while it is in use.
 */
export class MqttLink {
  readonly #options: LinkOptions;
  #status: LinkStatus = { connected: false, connectedSince: undefined, reconnects: 0, renewals: 0, credentialRenewAt: undefined };

  constructor(options: LinkOptions) {
    this.#options = options;
  }

  /** The link's state now. */
  get status(): LinkStatus {
    return this.#status;
  }

  /** Runs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, logger } = this.#options;
    let attempt = 0;
    let credential: MqttCredential | undefined;
    let connects = 0;
    while (!signal.aborted) {
      const { baseMs, capMs, random } = this.#options.backoff;
      let delay = backoffDelay(attempt, baseMs, capMs, random);
      try {
        credential ??= await this.#credential();
        const session = await this.#connect(credential, signal);
        if (connects++ > 0) this.#status = { ...this.#status, reconnects: this.#status.reconnects + 1 };
        const connectedAt = clock.now();
        this.#status = {
          ...this.#status,
          connected: true,
          connectedSince: connectedAt,
          credentialRenewAt: credential.renewAt,
          credentialExpiresAt: credential.expiresAt,
          trouble: undefined,
        };
        this.#options.onTrouble?.(undefined);
        this.#options.onOnline(session);
        const outcome = await this.#waitForEndOrRenewal(session, credential, signal);
        this.#status = { ...this.#status, connected: false, connectedSince: undefined };
        this.#options.onOffline();
        if (clock.now() - connectedAt >= STABLE_MS) attempt = 0;
        if (outcome === "abort") {
          await session.end(true).catch(() => {});
          break;
        }
        if (outcome === "renew") {
          credential = await this.#renew(credential, session);
          attempt = 0;
          continue;
        }
        logger.warn("mqtt.disconnected", { reason: outcome.reason });
        credential = undefined;
      } catch (error) {
        if (signal.aborted) break;
        credential = undefined;
        const decision = decideRetry(error, attempt, this.#options.backoff);
        reportRetry(logger, "mqtt.connect_failed", error, decision);
        this.#status = { ...this.#status, trouble: troubleOf(error, decision) };
        this.#options.onTrouble?.(this.#status.trouble, decision.class);
        delay = decision.delayMs;
      }
      attempt++;
      logger.info("mqtt.retry", { in_ms: delay, attempt });
      await clock.sleep(delay, signal).catch(() => {});
    }
  }

  async #credential(): Promise<MqttCredential> {
    const { api, tokens, catalog, clock, logger } = this.#options;
    const credential = await withToken(tokens, (token) => requestCredential(api, token, catalog, clock.now()));
    logger.info("mqtt.credential", {
      username: credential.username,
      renew_in_s: Math.round((credential.renewAt - credential.issuedAt) / 1000),
      expires_in_s: Math.round((credential.expiresAt - credential.issuedAt) / 1000),
    });
    return credential;
  }

  async #connect(credential: MqttCredential, signal: AbortSignal): Promise<LinkSession> {
    const { catalog, ca, logger, topics } = this.#options;
    const limits = catalog.mqtt.limits;
    const connect = this.#options.connect ?? ((options: SessionOptions) => MqttSession.connect(options));
    const session = await connect({
      brokerUrl: catalog.mqtt.broker_url,
      credential,
      ca,
      keepaliveSeconds: limits.keepalive_seconds ?? 60,
      sessionExpirySeconds: limits.session_expiry_seconds ?? 3600,
      clock: this.#options.clock,
      onMessage: (topic, payload) => {
        const decoded = decodeJson(payload);
        if (decoded.ok) return this.#options.onMessage(topic, decoded.value);
        logger.error("mqtt.not_json", { topic, bytes: payload.byteLength, error: decoded.error });
      },
      ...(this.#options.onUnacknowledged ? { onUnacknowledged: this.#options.onUnacknowledged } : {}),
      signal,
    });
    logger.info("mqtt.connected", { broker: catalog.mqtt.broker_url, client_id: credential.clientId });
    let results: Awaited<ReturnType<MqttSession["subscribe"]>>;
    try {
      results = await session.subscribe(topics, signal);
    } catch (error) {
      await session.end(true).catch(() => {});
      throw error;
    }
    for (const result of results) {
      if (result.granted) logger.debug("mqtt.subscribed", { topic: result.topic });
      else {logger.error("mqtt.subscribe_denied", {
          topic: result.topic,
          reason: reasonName(result.reasonCode),
          note: "configuration error: the credential does not grant this topic",
        });}
    }
    return session;
  }

  async #waitForEndOrRenewal(
    session: LinkSession,
    credential: MqttCredential,
    signal: AbortSignal,
  ): Promise<SessionEnd | "renew" | "abort"> {
    const { clock } = this.#options;
    const lifetime = Math.max(0, credential.renewAt - credential.issuedAt);
    const jitter = (this.#options.backoff.random ?? Math.random)() * Math.min(30_000, lifetime * 0.1);
    const wait = new AbortController();
    const onAbort = () => wait.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const renewal = clock.sleep(Math.max(0, credential.renewAt - clock.now()) + jitter, wait.signal).then(
        () => "renew" as const,
        () => "abort" as const,
      );
      return await Promise.race([session.closed, renewal]);
    } finally {
      wait.abort();
      signal.removeEventListener("abort", onAbort);
    }
  }

  async #renew(old: MqttCredential, session: LinkSession): Promise<MqttCredential | undefined> {
    const { logger } = this.#options;
    logger.info("mqtt.renewing", { username: old.username });
    try {
      const next = await this.#credential();
      this.#status = { ...this.#status, renewals: this.#status.renewals + 1 };
      await session.end(false).catch(() => {});
      return next;
    } catch (error) {
      // Without a next credential, reconnect from scratch through the backoff loop.
      logger.warn("mqtt.renew_failed", { error: describeError(error) });
      await session.end(false).catch(() => {});
      return undefined;
    }
  }
}
