// Store-and-forward for feed data: a message is in SQLite before its first send and leaves only
// when its ack is final; resends keep the same message_id and payload. Two halves joined by one
// signal: the queue (queue.ts) holds what waits and says when that changed, the sender
// (sender.ts) sends it within the limits and takes the acks.
import type { LineStateWrite } from "../state/line-memory.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Ack, FeedPayload } from "../mqtt/messages.ts";
import type { DeviceStore, Priority } from "../state/store.ts";
import type { ClockTrust } from "./clock-hold.ts";
import { type AnswerRecord, OutboxQueue } from "./queue.ts";
import { OutboxSender } from "./sender.ts";
import { DEFAULT_OUTBOX_LIMITS, emptyOutboxStats, type OutboxLimits, type OutboxStats, type Publisher, type Settled } from "./types.ts";

export type { AnswerRecord } from "./queue.ts";

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

/** The outbox: a durable queue and its sender (see the file's opening comment). */
export class Outbox {
  /** What the outbox did since start: acks by status, drops, coalesced readings, resends. */
  readonly stats: OutboxStats = emptyOutboxStats();
  #limits: OutboxLimits;
  readonly #queue: OutboxQueue;
  readonly #sender: OutboxSender;

  constructor(options: OutboxOptions) {
    this.#limits = { ...DEFAULT_OUTBOX_LIMITS, ...options.limits };
    const limits = () => this.#limits;
    this.#sender = new OutboxSender({
      clock: options.clock,
      logger: options.logger,
      ackTimeoutMs: options.ackTimeoutMs,
      limits,
      stats: this.stats,
      onSettled: options.onSettled,
      onPublished: options.onPublished,
    });
    this.#queue = new OutboxQueue({
      store: options.store,
      clock: options.clock,
      logger: options.logger,
      limits,
      stats: this.stats,
      time: options.time,
      onChanged: () => this.#sender.pump(),
      inFlight: () => this.#sender.inFlight(),
      onRequeued: (messageId) => this.#sender.requeued(messageId),
    });
    this.#sender.sendFrom(this.#queue);
  }

  /** Messages waiting for an ack. */
  get depth(): number {
    return this.#queue.depth;
  }

  /** Takes the catalog's limits (in-flight, publishes per second, payload size) over the defaults. */
  configure(limits: Partial<OutboxLimits>): void {
    this.#limits = { ...this.#limits, ...limits };
  }

  /** Marks a topic whose readings may be coalesced to the newest when the outbox is full. */
  keepLatestOnly(topic: string): void {
    this.#queue.keepLatestOnly(topic);
  }

  /**
   * Stores a new message durably, then sends it when connected. A payload over the catalog's
   * limit is never sent (the server would answer 4013 to it forever): it is dropped and logged.
   */
  enqueue(topic: string, priority: Priority, payload: FeedPayload): void {
    this.#queue.enqueue(topic, priority, payload);
  }

  /** Whether a report of this payload fits the catalog's payload limit. */
  fits(payload: FeedPayload): boolean {
    return this.#queue.fits(payload);
  }

  /**
   * Whether an answer like `report` could be recorded at all; when not, it is counted as
   * unanswerable (`stats.unanswerable`). The desired-state handler asks before acting, with the
   * largest report it might send.
   */
  canAnswer(report: FeedPayload): boolean {
    return this.#queue.canAnswer(report);
  }

  /**
   * Records a desired state's answer and queues its report, in one transaction (see
   * `LedgerTable.record`). A report over the limit is never written: "too-large", logged and
   * counted by the caller. A store that cannot write throws its StorageError: nothing was recorded.
   */
  recordAnswer(
    route: string,
    topic: string,
    report: FeedPayload,
    advanceSequence: boolean,
    lineState?: LineStateWrite,
  ): AnswerRecord {
    return this.#queue.recordAnswer(route, topic, report, advanceSequence, lineState);
  }

  /**
   * Starts sending through `publisher`: everything not yet acked goes again, in order. `pacing`
   * replaces the catalog's MQTT limits for a transport with its own back-pressure (the HTTPS
   * runtime sends one batch request at a time, so it needs no publish rate).
   */
  attach(publisher: Publisher, pacing?: { readonly maxInflight: number }): void {
    this.#sender.attach(publisher, pacing);
    this.#queue.rewind();
    this.#queue.writeHeld();
    this.#sender.pump();
  }

  /** Stops sending; what is in flight is sent again on the next attach. */
  detach(): void {
    this.#sender.detach();
    this.#queue.rewind();
  }

  /** Applies an application ack. */
  settle(ack: Ack): void {
    this.#sender.settle(ack);
  }

  /** Sends what waits, up to the in-flight limit and the publish rate. */
  pump(): void {
    this.#sender.pump();
  }

  /** Moves what waits under a placeholder topic to the route's topic (see `OutboxQueue.rebind`). */
  rebind(from: string, to: string): boolean {
    return this.#queue.rebind(from, to);
  }

  /** Drops what waits under a placeholder topic that no catalog route names. */
  dropUnbound(topic: string): void {
    this.#queue.dropUnbound(topic);
  }

  /** The placeholder topics with prefix `prefix` that messages wait under. */
  placeholders(prefix: string): string[] {
    return this.#queue.placeholders(prefix);
  }

  /** Stops the timers: the runtime is stopping. Held readings that never reached the disk are logged. */
  close(): void {
    this.detach();
    this.#queue.close();
  }
}
