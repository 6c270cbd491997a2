import type { Clock, Timer } from "../clock.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type Ack, type FeedPayload, isFinal } from "../mqtt/messages.ts";
import { DEFAULT_OUTBOX_LIMITS, emptyOutboxStats, type OutboxLimits, type OutboxStats, type Publisher, type Settled } from "./types.ts";
import { overBounds, trimToBounds } from "./bounds.ts";
import { ClockHold, type ClockTrust } from "./clock-hold.ts";
import { ReadAhead } from "./read-ahead.ts";
import { Settling } from "./settling.ts";
import { PublishRate } from "./publish-rate.ts";
import type { DeviceStore, OutboxRow, Priority } from "../state/store.ts";
import { parseStoredPayload } from "../state/stored-payload.ts";
import { utf8Length } from "../utf8.ts";

/** A new message the store could not take yet: kept in memory, in order, and written on recovery. */
interface Held {
  readonly clock?: { readonly mono: number; readonly bootId: string } | undefined;
  readonly topic: string;
  readonly priority: Priority;
  readonly payload: FeedPayload;
  readonly at: number;
}

/** How many readings wait in memory while the disk refuses them; past this the oldest go. */
const HELD_MAX = 1000;
/** How long a message answered with a retryable error waits before it is sent again. */
const RETRY_AFTER_ERROR_MS = 1000;
/** How often held readings are tried again while the disk refuses them. */
const HELD_RETRY_MS = 1000;
/**
 * How many waiting rows one read of the store brings ahead of sending: a backlog drains with a
 * read per this many messages instead of one per ack.
 */
const READ_AHEAD = 256;

/** What became of a desired state's answer. */
export type AnswerRecord = "recorded" | "too-large";

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
  /**
   * Whether the wall clock can be believed, and the time when it cannot. Without it the wall
   * clock is taken as it is. With it, a message observed while the time is unknown is stored
   * with its monotonic moment and sent only once the time is known and it is stamped.
   */
  readonly time?: ClockTrust | undefined;
}

interface Inflight {
  readonly row: OutboxRow;
  readonly timer: Timer;
}

/**
 * Store-and-forward for feed data: a message is in SQLite before its first send and leaves only
 * when its ack is final. Resends keep the same `message_id` and the same payload.
 */
export class Outbox {
  readonly #options: OutboxOptions;
  readonly #inflight = new Map<string, Inflight>();
  readonly #latestValue = new Set<string>();
  readonly stats: OutboxStats = emptyOutboxStats();
  readonly #held: Held[] = [];
  #heldRetry: Timer | undefined;
  #heldWrite = false;
  /** Acked messages whose row is not deleted yet (the delete is batched and not synced). */
  readonly #settling: Settling;
  /** Rows in the table and their payload bytes (UTF-8), counted rather than scanned. */
  #sizes: { messages: number; bytes: number } | undefined;
  #lastDepth = 0;
  /** Set while a transport paces itself (see `attach`): its in-flight limit, and no publish rate. */
  #pacing: { readonly maxInflight: number } | undefined;
  #limits: OutboxLimits;
  #publisher: Publisher | undefined;
  #pumping = false;
  readonly #rate: PublishRate;
  #wake: Timer | undefined;
  readonly #sent = new Set<string>();
  /** Messages answered with a retryable error, and when they may go again. */
  readonly #notBefore = new Map<string, number>();
  readonly #readAhead = new ReadAhead();
  readonly #clockHold: ClockHold;
  /** Messages queued again while a copy was in flight: that copy's ack leaves the row to go once more. */
  readonly #again = new Set<string>();

  constructor(options: OutboxOptions) {
    this.#options = options;
    this.#clockHold = new ClockHold({
      time: options.time,
      table: options.store.outbox,
      clock: options.clock,
      logger: options.logger,
      stats: this.stats,
    });
    this.#limits = { ...DEFAULT_OUTBOX_LIMITS, ...options.limits };
    this.#rate = new PublishRate(this.#limits.maxPublishPerSecond);
    this.#settling = new Settling({
      table: options.store.outbox,
      clock: options.clock,
      logger: options.logger,
      onDeleted: (bytes) => {
        if (this.#sizes) {
          this.#sizes.messages--;
          this.#sizes.bytes -= bytes;
        }
      },
    });
  }

  /** Messages waiting for an ack. */
  get depth(): number {
    try {
      this.#lastDepth = this.#tableSizes().messages - this.#settling.size + this.#held.length;
    } catch {
      // A failing disk: the last depth read is the best there is.
    }
    return this.#lastDepth;
  }

  /** The table's rows and bytes: read once, then kept by every write through this outbox. */
  #tableSizes(): { messages: number; bytes: number } {
    this.#sizes ??= this.#options.store.outbox.size();
    return this.#sizes;
  }

  /** Stops the timers: the runtime is stopping. Held readings that never reached the disk are logged. */
  close(): void {
    this.detach();
    this.#heldRetry?.cancel();
    this.#heldRetry = undefined;
    this.#settling.flush();
    if (this.#held.length > 0) {
      this.#options.logger.error("outbox.lost_on_stop", { messages: this.#held.length, note: "the store refused them until the end" });
    }
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
    const { logger, clock } = this.#options;
    const size = this.#size(payload);
    if (size > this.#limits.maxPayloadBytes) {
      this.stats.dropped++;
      logger.error("outbox.dropped", {
        message_id: payload.message_id,
        reason: `payload is ${size} bytes, over max_payload_bytes ${this.#limits.maxPayloadBytes}`,
      });
      return;
    }
    this.#held.push({ topic, priority, ...this.#clockHold.stamp(payload), at: clock.now() });
    // Readings of one turn (a burst of edges, a poll's events) share one commit, one fsync.
    if (!this.#heldWrite) {
      this.#heldWrite = true;
      queueMicrotask(() => {
        this.#heldWrite = false;
        this.#writeHeld();
        this.pump();
      });
    }
  }

  /** Whether a report of this payload fits the catalog's payload limit. */
  fits(payload: FeedPayload): boolean {
    return this.#size(payload) <= this.#limits.maxPayloadBytes;
  }

  /**
   * Whether an answer like `report` could be recorded at all; when not, it is counted as
   * unanswerable (`stats.unanswerable`). The desired-state handler asks before acting, with the
   * largest report it might send.
   */
  canAnswer(report: FeedPayload): boolean {
    if (this.fits(report)) return true;
    this.stats.unanswerable++;
    return false;
  }

  /**
   * Records a desired state's answer and queues its report, in one transaction (see
   * `DeviceStore.recordAnswer`): the only way a report enters the outbox table besides
   * `enqueue`, so the payload limit holds for both. A report over the limit is never written
   * (the server would refuse it forever): "too-large", logged and counted by the caller. A store
   * that cannot write throws its StorageError: nothing was recorded.
   */
  recordAnswer(
    route: string,
    topic: string,
    report: FeedPayload,
    advanceSequence: boolean,
    lineState?: { readonly route: string; readonly value: 0 | 1 },
  ): AnswerRecord {
    if (!this.canAnswer(report)) return "too-large";
    this.#options.store.ledger.record(route, topic, report, advanceSequence, this.#options.clock.now(), lineState);
    this.#reread();
    if (this.#sizes) {
      this.#sizes.messages++;
      this.#sizes.bytes += utf8Length(JSON.stringify(report));
    }
    this.pump();
    return "recorded";
  }

  #size(payload: FeedPayload): number {
    return utf8Length(JSON.stringify(payload));
  }

  /** Writes held messages in order; on a refusal keeps them (bounded) and tries again later. */
  #writeHeld(): void {
    const { store, logger } = this.#options;
    if (this.#held.length > 0) {
      const batch = this.#held.slice();
      // A message queued again (a redelivered desired state's answer, repeated) goes again: while
      // its row waits to be deleted, the delete is called off; while a copy is in flight, the
      // copy's ack does not end it.
      for (const row of batch) {
        this.#settling.callOff(row.payload.message_id);
        if (this.#inflight.has(row.payload.message_id)) this.#again.add(row.payload.message_id);
      }
      try {
        const sizes = this.#tableSizes();
        const added = store.outbox.addMany(batch);
        this.#reread();
        if (added === batch.length) {
          sizes.messages += added;
          sizes.bytes += batch.reduce((sum, row) => sum + utf8Length(JSON.stringify(row.payload)), 0);
        } else {
          this.#sizes = undefined; // Some were there already (a redelivered report): count afresh.
        }
      } catch (error) {
        if (this.#held.length > HELD_MAX) {
          const dropped = this.#held.splice(0, this.#held.length - HELD_MAX);
          this.stats.dropped += dropped.length;
          logger.warn("outbox.dropped", {
            messages: dropped.length,
            reason: `the store refuses writes and ${HELD_MAX} readings already wait in memory`,
            error: describeError(error),
          });
        }
        this.stats.held = this.#held.length;
        this.#heldRetry ??= this.#options.clock.after(HELD_RETRY_MS, () => {
          this.#heldRetry = undefined;
          this.#writeHeld();
          this.pump();
        });
        return;
      }
      this.#held.splice(0, batch.length);
      this.#enforceBounds();
    }
    this.stats.held = 0;
  }

  #enforceBounds(): void {
    try {
      this.#trimToBounds();
    } catch (error) {
      // The store is failing: the bound is enforced again on the next write that succeeds.
      this.#options.logger.debug("outbox.bound_skipped", { error: describeError(error) });
    }
  }

  #trimToBounds(): void {
    if (!overBounds(this.#tableSizes(), this.#limits, this.#settling.size)) return;
    // The rare path: count from the table as it is, and again after each removal.
    this.#reread();
    this.#settling.flush();
    // Counted afresh by the trim; if it fails midway, by the next read of the sizes.
    this.#sizes = undefined;
    this.#sizes = trimToBounds({
      table: this.#options.store.outbox,
      logger: this.#options.logger,
      limits: this.#limits,
      stats: this.stats,
      latestValue: this.#latestValue,
      busy: new Set(this.#inflight.keys()),
      settling: this.#settling.size,
    });
  }

  /**
   * Starts sending through `publisher`: everything not yet acked goes again, in order. `pacing`
   * replaces the catalog's MQTT limits for a transport with its own back-pressure (the HTTPS
   * runtime sends one batch request at a time, so it needs no publish rate).
   */
  attach(publisher: Publisher, pacing?: { readonly maxInflight: number }): void {
    this.#clearInflight();
    this.#reread();
    this.#publisher = publisher;
    this.#pacing = pacing;
    this.#writeHeld();
    this.pump();
  }

  /** Stops sending; what is in flight is sent again on the next attach. */
  detach(): void {
    this.#publisher = undefined;
    this.#reread();
    this.#wake?.cancel();
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
    const payload = inflight ? parseStoredPayload(inflight.row.payload, `message ${messageId}`) : undefined;
    if (isFinal(ack.status)) {
      this.#forget(messageId);
      this.#notBefore.delete(messageId);
      let removed = false;
      if (this.#again.delete(messageId)) {
        this.#reread(); // Its row stays, to be sent again.
      } else if (!this.#settling.has(messageId)) {
        try {
          // Known to wait when in flight; otherwise (an ack after a restart) looked up, unsynced.
          const bytes = inflight ? utf8Length(inflight.row.payload) : store.outbox.messageSize(messageId, topic);
          if (bytes !== undefined) {
            this.#settling.add(messageId, topic, bytes);
            // Not in flight (an ack after a restart): a row read ahead may be this one.
            if (!inflight) this.#reread();
            removed = true;
          }
        } catch (error) {
          // The ack is final but cannot be noted: the message is sent again later and the server
          // answers `replayed`, which settles it then.
          logger.warn("ack.not_recorded", { message_id: messageId, error: describeError(error) });
        }
      }
      if (removed) this.stats[ack.status]++;
      this.#sent.delete(messageId);
      const fields = { message_id: messageId, status: ack.status, error: ack.error?.type, desired_id: ack.desired_id ?? undefined };
      if (ack.status === "conflict") logger.error("ack.conflict", { ...fields, note: "firmware fault: same message_id, other payload" });
      else if (ack.status === "rejected") logger.error("ack.rejected", fields);
      else logger.info("ack.received", fields);
      if (removed || inflight) {
        this.#options.onSettled?.({ messageId, topic: topic ?? "", status: ack.status, errorType: ack.error?.type, payload });
      }
    } else {
      logger.warn("ack.error", { message_id: messageId, error: ack.error?.type, retryable: ack.retryable });
      if (ack.retryable) {
        // Sent again after a pause, not at once: a server that fails every try must not get a storm.
        this.#forget(messageId);
        this.#notBefore.set(messageId, this.#options.clock.now() + RETRY_AFTER_ERROR_MS);
        void this.#options.clock.sleep(RETRY_AFTER_ERROR_MS).then(() => {
          this.#reread();
          this.pump();
        });
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
      if (!publisher) return;
      const maxInflight = this.#pacing?.maxInflight ?? this.#limits.maxInflight;
      const room = Math.min(
        maxInflight - this.#inflight.size,
        this.#pacing ? Number.POSITIVE_INFINITY : this.#rate.available(this.#options.clock.now(), this.#limits.maxPublishPerSecond),
      );
      if (room <= 0) {
        if (this.#inflight.size < maxInflight) this.#wakeForToken();
        return;
      }
      if (this.#clockHold.release()) this.#reread();
      let sending: OutboxRow[];
      try {
        sending = this.#take(room, this.#clockHold.holding);
      } catch (error) {
        this.#reread();
        this.#options.logger.warn("outbox.read_failed", { error: describeError(error) });
        this.#wakeForToken();
        return;
      }
      if (!this.#pacing) this.#rate.spend(sending.length);
      for (const row of sending) this.#send(publisher, row);
      if (sending.length === room && this.#readAhead.moreMayWait && this.#inflight.size < maxInflight) this.#wakeForToken();
    } finally {
      this.#pumping = false;
    }
  }

  #wakeForToken(): void {
    if (this.#wake !== undefined) return;
    const waitMs = this.#rate.msToNext(this.#limits.maxPublishPerSecond);
    this.#wake = this.#options.clock.after(waitMs, () => {
      this.#wake = undefined;
      this.pump();
    });
  }

  #send(publisher: Publisher, row: OutboxRow): void {
    const { logger, ackTimeoutMs } = this.#options;
    this.#notBefore.delete(row.messageId);
    const timer = this.#options.clock.after(ackTimeoutMs, () => {
      if (this.#inflight.get(row.messageId)?.timer !== timer) return;
      logger.warn("ack.timeout", { message_id: row.messageId, after_ms: ackTimeoutMs });
      this.#inflight.delete(row.messageId);
      this.#reread();
      this.pump();
    });
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

  /** Forgets the rows read ahead: the next pump reads what waits afresh. */
  #reread(): void {
    this.#readAhead.forget();
  }

  /**
   * Up to `room` rows to send now, in order: command reports first, then oldest first, none in
   * flight, settling or waiting out a retry pause. Read from the store a page at a time.
   */
  #take(room: number, skipClockHeld: boolean): OutboxRow[] {
    const now = this.#options.clock.now();
    const limit = READ_AHEAD + this.#inflight.size + this.#settling.size + this.#notBefore.size;
    return this.#readAhead.take(
      room,
      limit,
      (limit) => this.#options.store.outbox.pending(limit, skipClockHeld),
      (row) => !this.#inflight.has(row.messageId) && !this.#settling.has(row.messageId) && (this.#notBefore.get(row.messageId) ?? 0) <= now,
    );
  }

  #forget(messageId: string): void {
    const inflight = this.#inflight.get(messageId);
    inflight?.timer.cancel();
    this.#inflight.delete(messageId);
  }

  #clearInflight(): void {
    for (const inflight of this.#inflight.values()) inflight.timer.cancel();
    this.#inflight.clear();
    this.#again.clear(); // Everything waiting goes again on the next attach, repeats included.
  }
}
