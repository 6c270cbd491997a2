import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Ack, FeedPayload } from "../mqtt/messages.ts";
import type { DeviceStore, OutboxRow, Priority } from "./store.ts";

/** Where the outbox publishes: the live MQTT session. */
export interface Publisher {
  publish(topic: string, payload: string): Promise<void>;
}

/** What happened to one message, for listeners (tests, metrics, the demo). */
export interface Settled {
  readonly messageId: string;
  readonly topic: string;
  readonly status: string;
  readonly errorType: string | undefined;
  readonly payload: FeedPayload | undefined;
}

/** Options for {@linkcode Outbox}. */
export interface OutboxOptions {
  readonly store: DeviceStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Resend a message whose ack has not come after this long. */
  readonly ackTimeoutMs: number;
  readonly maxInflight: number;
  readonly onSettled?: (settled: Settled) => void;
}

interface Inflight {
  readonly row: OutboxRow;
  readonly timer: ReturnType<typeof setTimeout>;
}

const FINAL = new Set(["accepted", "replayed", "rejected", "conflict"]);

/**
 * Store-and-forward for feed data: a message is in SQLite before its first send and leaves only
 * when its ack is final. Resends keep the same `message_id` and the same payload.
 */
export class Outbox {
  readonly #options: OutboxOptions;
  readonly #inflight = new Map<string, Inflight>();
  #publisher: Publisher | undefined;
  #pumping = false;

  constructor(options: OutboxOptions) {
    this.#options = options;
  }

  /** Messages waiting for an ack. */
  get depth(): number {
    return this.#options.store.outboxDepth();
  }

  /** Stores a new message durably, then sends it when connected. */
  enqueue(topic: string, priority: Priority, payload: FeedPayload): void {
    this.#options.store.addToOutbox(topic, priority, payload, this.#options.clock.now());
    this.pump();
  }

  /** Starts sending through `publisher`: everything not yet acked goes again, in order. */
  attach(publisher: Publisher): void {
    this.#clearInflight();
    this.#publisher = publisher;
    this.pump();
  }

  /** Stops sending; what is in flight is sent again on the next attach. */
  detach(): void {
    this.#publisher = undefined;
    this.#clearInflight();
  }

  /** Applies an application ack. */
  settle(ack: Ack): void {
    const { logger, store } = this.#options;
    const messageId = ack.message_id;
    if (!messageId) {
      logger.warn("ack.unmatched", { status: ack.status, error: ack.error?.type });
      return;
    }
    const inflight = this.#inflight.get(messageId);
    const topic = ack.feed_data_topic ?? inflight?.row.topic;
    const payload = inflight ? (JSON.parse(inflight.row.payload) as FeedPayload) : undefined;
    if (FINAL.has(ack.status)) {
      this.#forget(messageId);
      const removed = store.removeFromOutbox(messageId, topic);
      const fields = { message_id: messageId, status: ack.status, error: ack.error?.type, desired_id: ack.desired_id ?? undefined };
      if (ack.status === "conflict") logger.error("ack.conflict", { ...fields, note: "firmware fault: same message_id, other payload" });
      else if (ack.status === "rejected") logger.error("ack.rejected", fields);
      else logger.info("ack.received", fields);
      if (removed || inflight) this.#options.onSettled?.({ messageId, topic: topic ?? "", status: ack.status, errorType: ack.error?.type, payload });
    } else if (ack.status === "error") {
      logger.warn("ack.error", { message_id: messageId, error: ack.error?.type, retryable: ack.retryable });
      if (ack.retryable) {
        this.#forget(messageId);
        setTimeout(() => this.pump(), 1000);
      }
    } else {
      logger.warn("ack.unknown_status", { message_id: messageId, status: ack.status });
    }
    this.pump();
  }

  /** Sends what waits, up to the in-flight limit. */
  pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      const publisher = this.#publisher;
      if (!publisher) return;
      const { store, maxInflight } = this.#options;
      const room = maxInflight - this.#inflight.size;
      if (room <= 0) return;
      const rows = store.pendingOutbox(maxInflight + this.#inflight.size).filter((row) => !this.#inflight.has(row.messageId));
      for (const row of rows.slice(0, room)) this.#send(publisher, row);
    } finally {
      this.#pumping = false;
    }
  }

  #send(publisher: Publisher, row: OutboxRow): void {
    const { logger, ackTimeoutMs } = this.#options;
    const timer = setTimeout(() => {
      if (this.#inflight.get(row.messageId)?.timer !== timer) return;
      logger.warn("ack.timeout", { message_id: row.messageId, after_ms: ackTimeoutMs });
      this.#inflight.delete(row.messageId);
      this.pump();
    }, ackTimeoutMs);
    this.#inflight.set(row.messageId, { row, timer });
    logger.debug("feed.publish", { topic: row.topic, message_id: row.messageId });
    publisher.publish(row.topic, row.payload).catch((error: unknown) => {
      logger.warn("feed.publish_failed", { message_id: row.messageId, error: error instanceof Error ? error.message : String(error) });
    });
  }

  #forget(messageId: string): void {
    const inflight = this.#inflight.get(messageId);
    if (inflight) clearTimeout(inflight.timer);
    this.#inflight.delete(messageId);
  }

  #clearInflight(): void {
    for (const inflight of this.#inflight.values()) clearTimeout(inflight.timer);
    this.#inflight.clear();
  }
}
