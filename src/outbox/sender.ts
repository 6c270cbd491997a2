// The outbox's sending side: what waits goes to the transport attached, within the in-flight
// limit and the publish rate; each message stays in flight until its application ack or its ack
// timeout, and a retryable error pauses it before it goes again. Resends keep the message_id and
// the exact payload. Final acks hand the row to the queue to be deleted.
import type { Clock, Timer } from "../clock.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type Ack, isFinal } from "../mqtt/messages.ts";
import type { OutboxRow } from "../state/store.ts";
import { parseStoredPayload } from "../state/stored-payload.ts";
import { PublishRate } from "./publish-rate.ts";
import type { OutboxQueue } from "./queue.ts";
import type { OutboxLimits, OutboxStats, Publisher, Settled } from "./types.ts";

/** How long a message answered with a retryable error waits before it is sent again. */
const RETRY_AFTER_ERROR_MS = 1000;

/** What {@linkcode OutboxSender} works with. */
export interface SenderOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Resend a message whose ack has not come after this long. */
  readonly ackTimeoutMs: number;
  /** The limits in force (the catalog's, once configured). */
  readonly limits: () => OutboxLimits;
  /** Counts shared with the queue. */
  readonly stats: OutboxStats;
  readonly onSettled?: ((settled: Settled) => void) | undefined;
  /** Called when a message is published for the first time (not on resends). */
  readonly onPublished?: ((published: { readonly messageId: string; readonly topic: string; readonly at: number }) => void) | undefined;
}

interface Inflight {
  readonly row: OutboxRow;
  readonly timer: Timer;
}

/** Sends what the queue holds (see the file's opening comment). */
export class OutboxSender {
  readonly #options: SenderOptions;
  #queue: OutboxQueue | undefined;
  readonly #inflight = new Map<string, Inflight>();
  readonly #sent = new Set<string>();
  /** Messages answered with a retryable error, and when they may go again. */
  readonly #notBefore = new Map<string, number>();
  /** Messages queued again while a copy was in flight: that copy's ack leaves the row to go once more. */
  readonly #again = new Set<string>();
  /** Set while a transport paces itself (see `attach`): its in-flight limit, and no publish rate. */
  #pacing: { readonly maxInflight: number } | undefined;
  #publisher: Publisher | undefined;
  #pumping = false;
  readonly #rate: PublishRate;
  #wake: Timer | undefined;

  constructor(options: SenderOptions) {
    this.#options = options;
    this.#rate = new PublishRate(options.limits().maxPublishPerSecond);
  }

  /** Sends from `queue` (given once, after both are built: each tells the other). */
  sendFrom(queue: OutboxQueue): void {
    this.#queue = queue;
  }

  /** The messages in flight now. */
  inFlight(): ReadonlySet<string> {
    return new Set(this.#inflight.keys());
  }

  /** A message written again: while a copy of it is in flight, that copy's ack does not end it. */
  requeued(messageId: string): void {
    if (this.#inflight.has(messageId)) this.#again.add(messageId);
  }

  /**
   * Starts sending through `publisher`: everything not yet acked goes again, in order. `pacing`
   * replaces the catalog's MQTT limits for a transport with its own back-pressure (the HTTPS
   * runtime sends one batch request at a time, so it needs no publish rate).
   */
  attach(publisher: Publisher, pacing?: { readonly maxInflight: number }): void {
    this.#clearInflight();
    this.#publisher = publisher;
    this.#pacing = pacing;
  }

  /** Stops sending; what is in flight is sent again on the next attach. */
  detach(): void {
    this.#publisher = undefined;
    this.#wake?.cancel();
    this.#wake = undefined;
    this.#clearInflight();
  }

  /** Applies an application ack. */
  settle(ack: Ack): void {
    const { logger, stats, clock } = this.#options;
    const queue = this.#queue!;
    const messageId = ack.message_id;
    if (!messageId) {
      logger.warn("ack.unmatched", { status: ack.status, error: ack.error?.type });
      return;
    }
    const inflight = this.#inflight.get(messageId);
    const topic = ack.feed_data_topic ?? inflight?.row.topic;
    if (isFinal(ack.status)) {
      this.#forget(messageId);
      this.#notBefore.delete(messageId);
      let removed = false;
      if (this.#again.delete(messageId)) queue.rewind(); // Its row stays, to be sent again (by the pump below).
      else removed = queue.acked(messageId, topic, inflight?.row.payload);
      if (removed) stats[ack.status]++;
      this.#sent.delete(messageId);
      const fields = { message_id: messageId, status: ack.status, error: ack.error?.type, desired_id: ack.desired_id ?? undefined };
      if (ack.status === "conflict") logger.error("ack.conflict", { ...fields, note: "firmware fault: same message_id, other payload" });
      else if (ack.status === "rejected") logger.error("ack.rejected", fields);
      // One per message: at info it would be the journal's busiest line (and its flash writes).
      else logger.debug("ack.received", fields);
      if (removed || inflight) {
        const payload = inflight ? parseStoredPayload(inflight.row.payload, `message ${messageId}`) : undefined;
        this.#options.onSettled?.({ messageId, topic: topic ?? "", status: ack.status, errorType: ack.error?.type, payload });
      }
    } else {
      logger.warn("ack.error", { message_id: messageId, error: ack.error?.type, retryable: ack.retryable });
      if (ack.retryable) {
        // Sent again after a pause, not at once: a server that fails every try must not get a storm.
        this.#forget(messageId);
        this.#notBefore.set(messageId, clock.now() + RETRY_AFTER_ERROR_MS);
        void clock.sleep(RETRY_AFTER_ERROR_MS).then(() => queue.changed());
      }
    }
    this.pump();
  }

  /** Sends what waits, up to the in-flight limit and the publish rate. */
  pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      const publisher = this.#publisher;
      const queue = this.#queue;
      if (!publisher || !queue) return;
      const limits = this.#options.limits();
      const maxInflight = this.#pacing?.maxInflight ?? limits.maxInflight;
      const room = Math.min(
        maxInflight - this.#inflight.size,
        this.#pacing ? Number.POSITIVE_INFINITY : this.#rate.available(this.#options.clock.now(), limits.maxPublishPerSecond),
      );
      if (room <= 0) {
        if (this.#inflight.size < maxInflight) this.#wakeForToken();
        return;
      }
      let sending: OutboxRow[];
      try {
        const now = this.#options.clock.now();
        sending = queue.take(
          room,
          this.#inflight.size + this.#notBefore.size,
          (row) => !this.#inflight.has(row.messageId) && (this.#notBefore.get(row.messageId) ?? 0) <= now,
        );
      } catch (error) {
        this.#options.logger.warn("outbox.read_failed", { error: describeError(error) });
        this.#wakeForToken();
        return;
      }
      if (!this.#pacing) this.#rate.spend(sending.length);
      for (const row of sending) this.#send(publisher, row);
      if (sending.length === room && queue.moreMayWait && this.#inflight.size < maxInflight) this.#wakeForToken();
    } finally {
      this.#pumping = false;
    }
  }

  #wakeForToken(): void {
    if (this.#wake !== undefined) return;
    const waitMs = this.#rate.msToNext(this.#options.limits().maxPublishPerSecond);
    this.#wake = this.#options.clock.after(waitMs, () => {
      this.#wake = undefined;
      this.pump();
    });
  }

  #send(publisher: Publisher, row: OutboxRow): void {
    const { logger, ackTimeoutMs, clock, stats } = this.#options;
    this.#notBefore.delete(row.messageId);
    const timer = clock.after(ackTimeoutMs, () => {
      if (this.#inflight.get(row.messageId)?.timer !== timer) return;
      logger.warn("ack.timeout", { message_id: row.messageId, after_ms: ackTimeoutMs });
      this.#inflight.delete(row.messageId);
      this.#queue?.changed();
    });
    this.#inflight.set(row.messageId, { row, timer });
    if (this.#sent.has(row.messageId)) stats.resent++;
    else {
      this.#sent.add(row.messageId);
      this.#options.onPublished?.({ messageId: row.messageId, topic: row.topic, at: clock.now() });
    }
    logger.debug("feed.publish", { topic: row.topic, message_id: row.messageId });
    publisher.publish(row.topic, row.payload).catch((error: unknown) => {
      logger.warn("feed.publish_failed", { message_id: row.messageId, error: error instanceof Error ? error.message : String(error) });
    });
  }

  #forget(messageId: string): void {
    this.#inflight.get(messageId)?.timer.cancel();
    this.#inflight.delete(messageId);
  }

  #clearInflight(): void {
    for (const inflight of this.#inflight.values()) inflight.timer.cancel();
    this.#inflight.clear();
    this.#again.clear(); // Everything waiting goes again on the next attach, repeats included.
  }
}
