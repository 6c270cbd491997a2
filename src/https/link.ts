import type { ApiClient } from "../cloud/api-client.ts";
import { type Catalog, fetchCatalog } from "../cloud/catalog.ts";
import { type FeedResult, fetchBootstrap, fetchDesiredStates, postFeedData, postFeedDataBatch } from "../cloud/https-api.ts";
import { type TokenSource, withToken } from "../cloud/oauth.ts";
import { type BackoffSettings, decideRetry, isRefusedAsIs, reportRetry, type RetryClass, troubleOf } from "../cloud/retry-policy.ts";
import type { Clock } from "../clock.ts";
import { describeError, HttpError } from "../errors.ts";
import { type Logger, truncate } from "../log.ts";
import type { Ack, FeedPayload, FinalAckStatus } from "../mqtt/messages.ts";
import type { CatalogRoute } from "../cloud/catalog.ts";
import type { Outbox } from "../outbox/outbox.ts";
import { parseStoredPayload } from "../state/stored-payload.ts";
import type { Publisher } from "../outbox/types.ts";

/** Options for {@linkcode HttpsLink}. */
export interface HttpsLinkOptions {
  readonly api: ApiClient;
  readonly tokens: TokenSource;
  readonly deviceId: string | number;
  /** The catalog routes bound to lines: what a feed topic's source id is. */
  readonly routes: readonly CatalogRoute[];
  /** Where each polled desired state goes (the device's desired routes). */
  readonly desired: DesiredIntake;
  readonly outbox: Outbox;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly backoff: BackoffSettings;
  /** Poll desired states this often, never faster than the server's cadence. */
  readonly pollMs: number;
  /** Look at the MQTT catalog (and bootstrap) this often for MQTT becoming available. */
  readonly catalogCheckMs: number;
  /** Told what keeps the link from working beyond a passing fault (see `RetryClass`). */
  readonly onTrouble?: (trouble: string | undefined, retryClass?: RetryClass) => void;
  /** After each poll: whether the link works. */
  readonly onLink?: (working: boolean) => void;
}

/** Where desired states go: the device's command routes, by command id (the route's source_id). */
export interface DesiredIntake {
  /**
   * Hands a desired state (already decoded; the same 5.3 rules as an MQTT message) to the route
   * that has this command id. Resolves once its answer is recorded; undefined when no route has it.
   */
  deliverToCommand(commandId: string, desired: unknown): Promise<void> | undefined;
}

/**
 * Hands each item of an HTTPS desired-states list to its command, one at a time, in the shape of
 * the MQTT message (the same 5.3 rules and ledger apply); unknown commands are logged.
 */
export async function handleDesiredStates(
  states: readonly Record<string, unknown>[],
  intake: DesiredIntake,
  logger: Logger,
): Promise<void> {
  for (const state of states) {
    const { command_id: commandId, ...desired } = state;
    const handled = typeof commandId === "string" ? intake.deliverToCommand(commandId, desired) : undefined;
    if (!handled) {
      logger.warn("https.unknown_command", { command_id: String(commandId), desired_id: String(state.desired_id) });
      continue;
    }
    // A deferred answer (the store refuses writes) is retried by the handler; the next poll
    // lists the request again until its report arrives.
    await handled.catch((error: unknown) => {
      logger.debug("https.desired_deferred", { desired_id: String(state.desired_id), error: describeError(error) });
    });
  }
}

/** Items per feed-data batch: what waits goes in requests of this many, one request at a time. */
const HTTPS_BATCH = 100;

/** An HTTPS feed result's status as the ack status it stands for (section 8). */
const STATUS: Readonly<Record<string, FinalAckStatus>> = {
  created: "accepted",
  replayed: "replayed",
  conflict: "conflict",
  rejected: "rejected",
};

/**
 * The HTTPS runtime of section 8, for a device without MQTT: desired states by polling, feed
 * data by POST, from the same outbox and ledger as over MQTT. It ends, returning the new
 * catalog, when the server starts offering MQTT.
 */
export class HttpsLink {
  readonly #options: HttpsLinkOptions;
  readonly #byTopic: ReadonlyMap<string, CatalogRoute>;

  constructor(options: HttpsLinkOptions) {
    this.#options = options;
    this.#byTopic = new Map(options.routes.map((route) => [route.mqtt.feed_data_topic, route]));
  }

  /** Polls until MQTT is offered (returns its catalog) or `signal` aborts (returns undefined). */
  async run(signal: AbortSignal): Promise<Catalog | undefined> {
    const { outbox, clock, logger, pollMs, catalogCheckMs } = this.#options;
    logger.info("https.started", { poll_ms: pollMs, note: "MQTT is not offered; polling desired states over HTTPS" });
    outbox.attach(this.#publisher(), { maxInflight: HTTPS_BATCH });
    let nextCatalogCheck = clock.now() + catalogCheckMs;
    let attempt = 0;
    try {
      while (!signal.aborted) {
        let delay = pollMs;
        try {
          await this.#poll();
          this.#options.onLink?.(true);
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
          this.#options.onTrouble?.(troubleOf(error, decision), decision.class);
          this.#options.onLink?.(false);
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
    const { api, tokens, deviceId, desired, logger } = this.#options;
    const states = await withToken(tokens, (token) => fetchDesiredStates(api, token, deviceId));
    await handleDesiredStates(states, desired, logger);
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
    // What the outbox sends in one turn (up to its in-flight limit) goes as one batch POST, in
    // the outbox's order, one batch at a time, so a route's messages arrive in order.
    let waiting: { readonly topic: string; readonly payload: string; readonly done: () => void }[] = [];
    let chain: Promise<void> = Promise.resolve();
    return {
      publish: (topic, payload) =>
        new Promise<void>((resolve) => {
          waiting.push({ topic, payload, done: resolve });
          if (waiting.length > 1) return;
          queueMicrotask(() => {
            const batch = waiting;
            waiting = [];
            chain = chain.then(() => this.#sendBatch(batch.map(({ topic, payload }) => ({ topic, payload })))).finally(() => {
              for (const item of batch) item.done();
            });
          });
        }),
    };
  }

  /** Whether the server takes `feed-data/batches`; an older one answers 404, and items go one by one. */
  #batches = true;

  async #sendBatch(messages: readonly { readonly topic: string; readonly payload: string }[]): Promise<void> {
    const { api, tokens, deviceId, outbox, logger } = this.#options;
    const items: { readonly topic: string; readonly messageId: string; readonly item: Record<string, unknown> }[] = [];
    for (const { topic, payload } of messages) {
      const route = this.#byTopic.get(topic);
      const sourceId = route?.source_id;
      let feed: FeedPayload;
      try {
        feed = parseStoredPayload(payload, `a message on ${topic}`);
      } catch (error) {
        logger.error("https.unreadable", { topic, error: describeError(error), note: "left in the outbox" });
        continue;
      }
      if (!route || sourceId === undefined) {
        logger.error("https.unroutable", {
          topic,
          message_id: feed.message_id,
          note: "the route has no source_id to name over HTTPS; kept for MQTT",
        });
        continue;
      }
      items.push({
        topic,
        messageId: feed.message_id,
        item: { ...feed, [route.source_type === "command" ? "command_id" : "sensor_id"]: sourceId },
      });
    }
    if (items.length === 0) return;
    if (this.#batches && items.length > 1) {
      try {
        const results = await withToken(tokens, (token) => postFeedDataBatch(api, token, deviceId, items.map(({ item }) => item)));
        items.forEach(({ topic, messageId }, index) => outbox.settle(ackOfResult(topic, messageId, results[index])));
        return;
      } catch (error) {
        if (error instanceof HttpError && error.status === 404) {
          this.#batches = false;
          logger.info("https.no_batches", { note: "the server has no feed-data/batches; sending items one by one" });
        } else if (isRefusedAsIs(error)) {
          // One item may be at fault: the batch goes again item by item, so only that one is refused.
          logger.warn("https.batch_refused", { items: items.length, error: describeError(error), note: "sending its items one by one" });
        } else {
          for (const { topic, messageId } of items) outbox.settle(ackOfFailure(topic, messageId, error));
          return;
        }
      }
    }
    for (const { topic, messageId, item } of items) {
      try {
        outbox.settle(ackOfResult(topic, messageId, await withToken(tokens, (token) => postFeedData(api, token, deviceId, item))));
      } catch (error) {
        outbox.settle(ackOfFailure(topic, messageId, error));
      }
    }
  }
}

/**
 * The ack an HTTPS feed result stands for; a missing result is a retryable error, and a status
 * this firmware does not know an error that is not retried at once (the ack timeout resends it).
 */
function ackOfResult(topic: string, messageId: string, result: FeedResult | undefined): Ack {
  const known = result ? Object.hasOwn(STATUS, result.status) ? STATUS[result.status] : undefined : undefined;
  return {
    message_id: result?.message_id ?? messageId,
    status: known ?? "error",
    retryable: result === undefined,
    error: result?.error ??
      (result ? (known ? null : { type: "unknown_status", message: truncate(result.status, 40) }) : { type: "missing_result" }),
    feed_data_topic: topic,
  };
}

/** The ack a failed POST stands for: refused for good when the server refuses it as it is, else retryable. */
function ackOfFailure(topic: string, messageId: string, error: unknown): Ack {
  const refused = isRefusedAsIs(error);
  return {
    message_id: messageId,
    status: refused ? "rejected" : "error",
    retryable: !refused,
    error: { type: refused ? `http_${error.code}` : "unreachable", message: describeError(error) },
    feed_data_topic: topic,
  };
}
