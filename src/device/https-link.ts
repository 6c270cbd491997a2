import type { ApiClient } from "../cloud/api-client.ts";
import { type Catalog, fetchCatalog } from "../cloud/catalog.ts";
import { fetchBootstrap, fetchDesiredStates, postFeedData } from "../cloud/https-api.ts";
import type { TokenSource } from "../cloud/oauth.ts";
import { type BackoffSettings, decideRetry, reportRetry } from "../cloud/retry-policy.ts";
import type { Clock } from "../clock.ts";
import { describeError, HttpError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { withToken } from "../mqtt/link.ts";
import type { Binding } from "./bindings.ts";
import type { DesiredHandler } from "./desired-handler.ts";
import type { Outbox, Publisher } from "./outbox.ts";

/** Options for {@linkcode HttpsLink}. */
export interface HttpsLinkOptions {
  readonly api: ApiClient;
  readonly tokens: TokenSource;
  readonly deviceId: string | number;
  readonly bindings: readonly Binding[];
  /** Desired-state handlers by command id (the route's source_id). */
  readonly handlers: ReadonlyMap<string, DesiredHandler>;
  readonly outbox: Outbox;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly backoff: BackoffSettings;
  /** Poll desired states this often, never faster than the server's cadence. */
  readonly pollMs: number;
  /** Look at the MQTT catalog (and bootstrap) this often for MQTT becoming available. */
  readonly catalogCheckMs: number;
  /** Told what keeps the link from working beyond a passing fault (see `RetryClass`). */
  readonly onTrouble?: (trouble: string | undefined) => void;
}

/**
 * Hands each item of an HTTPS desired-states list to its command's handler, one at a time, in the
 * shape of the MQTT message (the same 5.3 rules and ledger apply); unknown commands are logged.
 */
export async function handleDesiredStates(states: readonly Record<string, unknown>[], handlers: ReadonlyMap<string, DesiredHandler>, logger: Logger): Promise<void> {
  for (const state of states) {
    const handler = typeof state.command_id === "string" ? handlers.get(state.command_id) : undefined;
    if (!handler) {
      logger.warn("https.unknown_command", { command_id: String(state.command_id), desired_id: String(state.desired_id) });
      continue;
    }
    const { command_id: _, ...desired } = state;
    // A deferred answer (the store refuses writes) is retried by the handler; the next poll
    // lists the request again until its report arrives.
    await handler.handle(new TextEncoder().encode(JSON.stringify(desired))).catch((error: unknown) => {
      logger.debug("https.desired_deferred", { desired_id: String(state.desired_id), error: describeError(error) });
    });
  }
}

const STATUS: Record<string, string> = { created: "accepted", replayed: "replayed", conflict: "conflict", rejected: "rejected" };

/**
 * The HTTPS runtime of section 8, for a device without MQTT: desired states by polling, feed
 * data by POST, from the same outbox and ledger as over MQTT. It ends, returning the new
 * catalog, when the server starts offering MQTT.
 */
export class HttpsLink {
  readonly #options: HttpsLinkOptions;
  readonly #byTopic: ReadonlyMap<string, Binding>;

  constructor(options: HttpsLinkOptions) {
    this.#options = options;
    this.#byTopic = new Map(options.bindings.map((binding) => [binding.route.mqtt.feed_data_topic, binding]));
  }

  /** Polls until MQTT is offered (returns its catalog) or `signal` aborts (returns undefined). */
  async run(signal: AbortSignal): Promise<Catalog | undefined> {
    const { outbox, clock, logger, pollMs, catalogCheckMs } = this.#options;
    logger.info("https.started", { poll_ms: pollMs, note: "MQTT is not offered; polling desired states over HTTPS" });
    outbox.attach(this.#publisher());
    let nextCatalogCheck = clock.now() + catalogCheckMs;
    let attempt = 0;
    try {
      while (!signal.aborted) {
        let delay = pollMs;
        try {
          await this.#poll();
          if (attempt > 0) this.#options.onTrouble?.(undefined);
          if (clock.now() >= nextCatalogCheck) {
            nextCatalogCheck = clock.now() + catalogCheckMs;
            const catalog = await this.#mqttCatalog();
            if (catalog) return catalog;
          }
          attempt = 0;
        } catch (error) {
          const decision = decideRetry(error, attempt++, this.#options.backoff);
          reportRetry(logger, "https.poll_failed", error, decision);
          this.#options.onTrouble?.(decision.class === "transient" ? undefined : `${describeError(error)} (${decision.reason})`);
          delay = Math.max(pollMs, decision.delayMs);
        }
        await clock.sleep(delay, signal).catch(() => {});
      }
      return undefined;
    } finally {
      outbox.detach();
    }
  }

  async #poll(): Promise<void> {
    const { api, tokens, deviceId, handlers, logger } = this.#options;
    const states = await withToken(tokens, (token) => fetchDesiredStates(api, token, deviceId));
    await handleDesiredStates(states, handlers, logger);
  }

  /** The catalog, when the server now offers MQTT (and the bootstrap, if served, lists it). */
  async #mqttCatalog(): Promise<Catalog | undefined> {
    const { api, tokens, deviceId, logger } = this.#options;
    const catalog = await withToken(tokens, (token) => fetchCatalog(api, token, deviceId));
    if (!catalog.mqtt.credential_endpoint) return undefined;
    try {
      const bootstrap = await withToken(tokens, (token) => fetchBootstrap(api, token, deviceId));
      if (!bootstrap.available_protocols.includes("mqtt")) return undefined;
    } catch (error) {
      if (!(error instanceof HttpError && error.status === 404)) throw error;
    }
    logger.info("https.mqtt_offered", { broker: catalog.mqtt.broker_url, note: "moving to MQTT" });
    return catalog;
  }

  #publisher(): Publisher {
    const { api, tokens, deviceId, outbox, logger } = this.#options;
    // One POST at a time, in the outbox's order, so a route's messages arrive in order.
    let chain: Promise<void> = Promise.resolve();
    const send = async (topic: string, payload: string): Promise<void> => {
        const binding = this.#byTopic.get(topic);
        const sourceId = binding?.route.source_id;
        const feed = JSON.parse(payload) as Record<string, unknown>;
        if (!binding || sourceId === undefined) {
          logger.error("https.unroutable", { topic, message_id: String(feed.message_id), note: "the route has no source_id to name over HTTPS; kept for MQTT" });
          return;
        }
        const item = { ...feed, [binding.route.source_type === "command" ? "command_id" : "sensor_id"]: sourceId };
        try {
          const result = await withToken(tokens, (token) => postFeedData(api, token, deviceId, item));
          const status = STATUS[result.status] ?? result.status;
          outbox.settle({ message_id: result.message_id ?? String(feed.message_id), status, retryable: status === "error", error: result.error ?? null, feed_data_topic: topic });
        } catch (error) {
          const code = error instanceof HttpError ? error.code : 0;
          const final = code === 4000 || code === 4013 || code === 4022;
          outbox.settle({
            message_id: String(feed.message_id),
            status: final ? "rejected" : "error",
            retryable: !final,
            error: { type: final ? `http_${code}` : "unreachable", message: describeError(error) },
            feed_data_topic: topic,
          });
        }
    };
    return {
      publish: (topic, payload) => {
        chain = chain.then(() => send(topic, payload));
        return chain;
      },
    };
  }
}
