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

/** How much the outbox keeps, and how fast it may send (the catalog's limits). */
export interface OutboxLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly maxInflight: number;
  readonly maxPublishPerSecond: number;
  readonly maxPayloadBytes: number;
}

/** Room for a day of readings every few seconds on a small board; the catalog sets the rest. */
export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = {
  maxMessages: 10_000,
  maxBytes: 4 * 1024 * 1024,
  maxInflight: 20,
  maxPublishPerSecond: 20,
  maxPayloadBytes: 4096,
};

/** What the outbox did, counted since start. */
export interface OutboxStats {
  accepted: number;
  replayed: number;
  rejected: number;
  conflict: number;
  /** Messages thrown away: over the bound, or too large to send. */
  dropped: number;
  /** Older readings of a latest-value route replaced by a newer one while full. */
  coalesced: number;
  resent: number;
}

/** Options for {@linkcode Outbox}. */
export interface OutboxOptions {
  readonly store: DeviceStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Resend a message whose ack has not come after this long. */
  readonly ackTimeoutMs: number;
  readonly limits?: Partial<OutboxLimits>;
  readonly onSettled?: (settled: Settled) => void;
  /** Called when a message is published for the first time (not on resends). */
  readonly onPublished?: (published: { readonly messageId: string; readonly topic: string; readonly at: number }) => void;
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
  readonly #latestValue = new Set<string>();
  readonly stats: OutboxStats = { accepted: 0, replayed: 0, rejected: 0, conflict: 0, dropped: 0, coalesced: 0, resent: 0 };
  #limits: OutboxLimits;
  #publisher: Publisher | undefined;
  #pumping = false;
  #tokens = 0;
  #refilledAt = 0;
  #wake: ReturnType<typeof setTimeout> | undefined;
  readonly #sent = new Set<string>();

  constructor(options: OutboxOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_OUTBOX_LIMITS, ...options.limits };
    this.#tokens = this.#limits.maxPublishPerSecond;
  }

  /** Messages waiting for an ack. */
  get depth(): number {
    return this.#options.store.outboxDepth();
  }

  /** Takes the catalog's limits (in-flight, publishes per second, payload size) over the defaults. */
  configure(limits: Partial<OutboxLimits>): void {
    this.#limits = { ...this.#limits, ...limits };
  }

  /** Marks a topic whose readings may be coalesced to the newest when the outbox is full. */
  keepLatestOnly(topic: string): void {
    this.#latestValue.add(topic);
  }

  /**
   * Stores a new message durably, then sends it when connected. A payload over the catalog's
   * limit is never sent (the server would answer 4013 to it forever): it is dropped and logged.
   */
  enqueue(topic: string, priority: Priority, payload: FeedPayload): void {
    const { store, logger, clock } = this.#options;
    const size = new TextEncoder().encode(JSON.stringify(payload)).byteLength;
    if (size > this.#limits.maxPayloadBytes) {
      this.stats.dropped++;
      logger.error("outbox.dropped", { message_id: payload.message_id, reason: `payload is ${size} bytes, over max_payload_bytes ${this.#limits.maxPayloadBytes}` });
      return;
    }
    store.addToOutbox(topic, priority, payload, clock.now());
    this.#enforceBounds();
    this.pump();
  }

  #enforceBounds(): void {
    const { store, logger } = this.#options;
    const over = () => {
      const size = store.outboxSize();
      return size.messages > this.#limits.maxMessages || size.bytes > this.#limits.maxBytes;
    };
    if (!over()) return;
    const busy = new Set(this.#inflight.keys());
    for (const topic of this.#latestValue) {
      const removed = store.coalesce(topic, busy);
      if (removed > 0) {
        this.stats.coalesced += removed;
        logger.warn("outbox.coalesced", { topic, removed, note: "the outbox is full; this route keeps its latest value" });
      }
    }
    while (over()) {
      const oldest = store.oldestTelemetry(busy);
      if (!oldest) {
        logger.warn("outbox.over_bound", { note: "only command reports wait; they are never dropped" });
        return;
      }
      store.removeFromOutbox(oldest.messageId, oldest.topic);
      this.stats.dropped++;
      logger.warn("outbox.dropped", { message_id: oldest.messageId, topic: oldest.topic, reason: "the outbox is full; the oldest reading goes" });
    }
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
    clearTimeout(this.#wake);
    this.#wake = undefined;
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
      if (removed) this.stats[ack.status as "accepted" | "replayed" | "rejected" | "conflict"]++;
      this.#sent.delete(messageId);
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

  /** Sends what waits, up to the in-flight limit and the publish rate. */
  pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      const publisher = this.#publisher;
      if (!publisher) return;
      const { maxInflight } = this.#limits;
      const room = Math.min(maxInflight - this.#inflight.size, this.#takeTokens());
      if (room <= 0) {
        if (this.#inflight.size < maxInflight) this.#wakeForToken();
        return;
      }
      const rows = this.#options.store.pendingOutbox(maxInflight + this.#inflight.size).filter((row) => !this.#inflight.has(row.messageId));
      const sending = rows.slice(0, room);
      this.#tokens -= sending.length;
      for (const row of sending) this.#send(publisher, row);
      if (rows.length > sending.length && this.#inflight.size < maxInflight) this.#wakeForToken();
    } finally {
      this.#pumping = false;
    }
  }

  /** A token bucket of one second's worth of publishes. */
  #takeTokens(): number {
    const now = this.#options.clock.now();
    const rate = this.#limits.maxPublishPerSecond;
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#refilledAt) / 1000) * rate);
    this.#refilledAt = now;
    return Math.floor(this.#tokens);
  }

  #wakeForToken(): void {
    if (this.#wake !== undefined) return;
    const waitMs = Math.max(1, Math.ceil(((1 - (this.#tokens % 1)) / this.#limits.maxPublishPerSecond) * 1000));
    this.#wake = setTimeout(() => {
      this.#wake = undefined;
      this.pump();
    }, waitMs);
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
    if (this.#sent.has(row.messageId)) this.stats.resent++;
    else {
      this.#sent.add(row.messageId);
      this.#options.onPublished?.({ messageId: row.messageId, topic: row.topic, at: this.#options.clock.now() });
    }
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
