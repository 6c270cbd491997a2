// The outbox's durable side: what waits to be sent, in the state file. New readings are held in
// memory for the turn and written in one commit (kept while the disk refuses them), answers are
// recorded with their report, the bounds are kept, messages observed while the time is unknown
// wait for it, and acked rows are deleted in batches. Whenever what waits changes, the queue
// forgets the rows it read ahead and tells its one listener (the sender), which sends again.
import type { LineStateWrite } from "../state/line-memory.ts";
import type { Clock, Timer } from "../clock.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { FeedPayload } from "../mqtt/messages.ts";
import type { NewOutboxRow } from "../state/outbox-table.ts";
import type { DeviceStore, OutboxRow, Priority } from "../state/store.ts";
import { utf8Length } from "../utf8.ts";
import { overBounds, type TableSizes, trimToBounds } from "./bounds.ts";
import { ClockHold, type ClockTrust } from "./clock-hold.ts";
import { ReadAhead } from "./read-ahead.ts";
import { Settling } from "./settling.ts";
import { type OutboxLimits, type OutboxStats, PLACEHOLDER_PREFIX } from "./types.ts";

/** How many readings wait in memory while the disk refuses them; past this the oldest go. */
const HELD_MAX = 1000;
/** How often held readings are tried again while the disk refuses them. */
const HELD_RETRY_MS = 1000;
/**
 * How many waiting rows one read of the store brings ahead of sending: a backlog drains with a
 * read per this many messages instead of one per ack.
 */
const READ_AHEAD = 256;

/** What became of a desired state's answer. */
export type AnswerRecord = "recorded" | "too-large";

/** What {@linkcode OutboxQueue} works with. */
export interface QueueOptions {
  readonly store: DeviceStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The limits in force (the catalog's, once configured). */
  readonly limits: () => OutboxLimits;
  /** Counts shared with the sender. */
  readonly stats: OutboxStats;
  readonly time?: ClockTrust | undefined;
  /** The one signal: what waits changed (new rows, rows to go again). The sender pumps. */
  readonly onChanged: () => void;
  /** Messages the sender has in flight: never trimmed away under it. */
  readonly inFlight: () => ReadonlySet<string>;
  /** A message written again while a copy may be in flight (a redelivered answer, repeated). */
  readonly onRequeued: (messageId: string) => void;
}

/** The durable queue of feed messages (see the file's opening comment). */
export class OutboxQueue {
  readonly #options: QueueOptions;
  /** New messages for this turn's commit (or kept while the disk refuses them), with their payload's UTF-8 bytes. */
  readonly #held: (NewOutboxRow & { readonly bytes: number })[] = [];
  #heldRetry: Timer | undefined;
  #heldWrite = false;
  readonly #latestValue = new Set<string>();
  /** Acked messages whose row is not deleted yet (the delete is batched and not synced). */
  readonly #settling: Settling;
  /** Rows in the table and their payload bytes (UTF-8), counted rather than scanned; undefined: read afresh. */
  #sizes: TableSizes | undefined;
  #lastDepth = 0;
  readonly #readAhead = new ReadAhead();
  readonly #clockHold: ClockHold;

  constructor(options: QueueOptions) {
    this.#options = options;
    this.#clockHold = new ClockHold({
      time: options.time,
      table: options.store.outbox,
      clock: options.clock,
      logger: options.logger,
      stats: options.stats,
    });
    this.#settling = new Settling({
      table: options.store.outbox,
      clock: options.clock,
      logger: options.logger,
      onDeleted: (bytes) => this.#count(-1, -bytes),
    });
  }

  /** Messages waiting for an ack: in the table (less those acked) and held in memory. */
  get depth(): number {
    try {
      this.#lastDepth = this.#tableSizes().messages - this.#settling.size + this.#held.length;
    } catch {
      // A failing disk: the last depth read is the best there is.
    }
    return this.#lastDepth;
  }

  /** Marks a topic whose readings may be coalesced to the newest when the outbox is full. */
  keepLatestOnly(topic: string): void {
    this.#latestValue.add(topic);
  }

  /** Whether a payload fits the catalog's payload limit, in UTF-8 bytes. */
  fits(payload: FeedPayload): boolean {
    return utf8Length(JSON.stringify(payload)) <= this.#options.limits().maxPayloadBytes;
  }

  /**
   * Holds a new message for this turn's commit (one fsync for a burst of edges), then writes it.
   * A payload over the payload limit is never stored (the server would answer 4013 to it forever).
   */
  enqueue(topic: string, priority: Priority, payload: FeedPayload): void {
    const { logger, clock, stats } = this.#options;
    const size = utf8Length(JSON.stringify(payload));
    const max = this.#options.limits().maxPayloadBytes;
    if (size > max) {
      stats.dropped++;
      logger.error("outbox.dropped", { message_id: payload.message_id, reason: `payload is ${size} bytes, over max_payload_bytes ${max}` });
      return;
    }
    const stamped = this.#clockHold.stamp(payload);
    const bytes = stamped.payload === payload ? size : utf8Length(JSON.stringify(stamped.payload));
    this.#held.push({ topic, priority, ...stamped, at: clock.now(), bytes });
    if (this.#heldWrite) return;
    this.#heldWrite = true;
    queueMicrotask(() => {
      this.#heldWrite = false;
      this.writeHeld();
      this.#options.onChanged();
    });
  }

  /**
   * Records a desired state's answer with its report (see `LedgerTable.record`): the only other
   * way a row enters the table, so the payload limit holds for both. "too-large" when the report
   * could never be sent; a store that cannot write throws its error and nothing was recorded.
   */
  recordAnswer(
    route: string,
    topic: string,
    report: FeedPayload,
    advanceSequence: boolean,
    lineState?: LineStateWrite,
  ): AnswerRecord {
    const bytes = utf8Length(JSON.stringify(report));
    if (bytes > this.#options.limits().maxPayloadBytes) {
      this.#options.stats.unanswerable++;
      return "too-large";
    }
    this.#options.store.ledger.record(route, topic, report, advanceSequence, this.#options.clock.now(), lineState);
    this.#count(1, bytes);
    this.changed();
    return "recorded";
  }

  /** Whether an answer like `report` could be recorded at all; when not, counted as unanswerable. */
  canAnswer(report: FeedPayload): boolean {
    if (this.fits(report)) return true;
    this.#options.stats.unanswerable++;
    return false;
  }

  /** Writes the held messages in order; on a refusal keeps them (bounded) and tries again later. */
  writeHeld(): void {
    const { store, logger, stats } = this.#options;
    if (this.#held.length > 0) {
      const batch = this.#held.slice();
      // A message queued again (a redelivered desired state's answer, repeated) goes again: while
      // its row waits to be deleted, the delete is called off; while a copy is in flight, the
      // sender lets the copy's ack leave the row.
      for (const row of batch) {
        this.#settling.callOff(row.payload.message_id);
        this.#options.onRequeued(row.payload.message_id);
      }
      try {
        this.#tableSizes();
        const added = store.outbox.addMany(batch);
        if (added === batch.length) this.#count(added, batch.reduce((sum, row) => sum + row.bytes, 0));
        else this.#sizes = undefined; // Some were there already (a redelivered report): count afresh.
        this.#readAhead.forget();
      } catch (error) {
        if (this.#held.length > HELD_MAX) {
          const dropped = this.#held.splice(0, this.#held.length - HELD_MAX);
          stats.dropped += dropped.length;
          logger.warn("outbox.dropped", {
            messages: dropped.length,
            reason: `the store refuses writes and ${HELD_MAX} readings already wait in memory`,
            error: describeError(error),
          });
        }
        stats.held = this.#held.length;
        this.#heldRetry ??= this.#options.clock.after(HELD_RETRY_MS, () => {
          this.#heldRetry = undefined;
          this.writeHeld();
          this.#options.onChanged();
        });
        return;
      }
      this.#held.splice(0, batch.length);
      this.#enforceBounds();
    }
    stats.held = 0;
  }

  /**
   * Notes a final ack: the row is deleted with the next batch. `sent` is the payload as it was
   * sent, when the sender had it in flight; otherwise (an ack after a restart) the row is looked
   * up. True when a row waited under that id; a failing store is logged and leaves the row to be
   * sent again (the server then answers `replayed`).
   */
  acked(messageId: string, topic: string | undefined, sent: string | undefined): boolean {
    if (this.#settling.has(messageId)) return false;
    try {
      const bytes = sent === undefined ? this.#options.store.outbox.messageSize(messageId, topic) : utf8Length(sent);
      if (bytes === undefined) return false;
      this.#settling.add(messageId, topic, bytes);
      // Not in flight: a row read ahead may be this one.
      if (sent === undefined) this.#readAhead.forget();
      return true;
    } catch (error) {
      this.#options.logger.warn("ack.not_recorded", { message_id: messageId, error: describeError(error) });
      return false;
    }
  }

  /** The signal: what waits changed (a row to go again, a pause over); rows are read afresh, and the sender told. */
  changed(): void {
    this.#readAhead.forget();
    this.#options.onChanged();
  }

  /**
   * Moves the messages of a placeholder topic (a route claimed at boot, before the catalog named
   * it) to the route's topic: those held in memory and those in the table. A failing store leaves
   * the stored ones where they are: `false`, and the caller tries again later.
   */
  rebind(from: string, to: string): boolean {
    this.#held.forEach((row, index) => {
      if (row.topic === from) this.#held[index] = { ...row, topic: to };
    });
    try {
      const moved = this.#options.store.outbox.rebind(from, to);
      if (moved > 0) {
        this.#options.logger.info("outbox.rebound", { messages: moved, topic: to, note: "observed before the catalog named the route" });
      }
    } catch (error) {
      this.#options.logger.warn("outbox.rebind_failed", { topic: to, error: describeError(error) });
      return false;
    }
    this.changed();
    return true;
  }

  /** Drops what waits under a placeholder topic no catalog route names; logged with the count. */
  dropUnbound(topic: string): void {
    const held = this.#held.length;
    for (let index = this.#held.length - 1; index >= 0; index--) if (this.#held[index]!.topic === topic) this.#held.splice(index, 1);
    try {
      const dropped = this.#options.store.outbox.dropTopic(topic) + held - this.#held.length;
      if (dropped > 0) {
        this.#options.stats.dropped += dropped;
        this.#options.logger.warn("outbox.dropped", {
          messages: dropped,
          topic,
          reason: "no catalog route has this route; they can never be sent",
        });
      }
    } catch (error) {
      this.#options.logger.warn("outbox.drop_failed", { topic, error: describeError(error) });
    }
    this.#sizes = undefined;
    this.#readAhead.forget();
  }

  /** The placeholder topics messages wait under (from this boot or an earlier one). */
  placeholders(prefix: string): string[] {
    const held = this.#held.filter((row) => row.topic.startsWith(prefix)).map((row) => row.topic);
    try {
      return [...new Set([...held, ...this.#options.store.outbox.topicsStartingWith(prefix)])];
    } catch {
      return [...new Set(held)];
    }
  }

  /** Rows are read afresh at the next take (a new sender starts from the table). */
  rewind(): void {
    this.#readAhead.forget();
  }

  /**
   * Up to `room` rows to send now, in order: command reports first, then oldest first, none
   * settling, none held for the clock, none under a placeholder topic, and each accepted by
   * `sendable`. `skipped` is how many rows the sender will pass over (in flight, pausing): the
   * read brings that many more. A failing read throws.
   */
  take(room: number, skipped: number, sendable: (row: OutboxRow) => boolean): OutboxRow[] {
    if (this.#clockHold.release()) this.#readAhead.forget();
    const holding = this.#clockHold.holding;
    try {
      return this.#readAhead.take(
        room,
        READ_AHEAD + skipped + this.#settling.size,
        (limit) => this.#options.store.outbox.pending(limit, holding),
        (row) => !this.#settling.has(row.messageId) && !row.topic.startsWith(PLACEHOLDER_PREFIX) && sendable(row),
      );
    } catch (error) {
      this.#readAhead.forget();
      throw error;
    }
  }

  /** Whether rows may wait beyond those taken. */
  get moreMayWait(): boolean {
    return this.#readAhead.moreMayWait;
  }

  /** Stops the timers and deletes what is acked; held readings that never reached the disk are logged. */
  close(): void {
    this.#heldRetry?.cancel();
    this.#heldRetry = undefined;
    this.#settling.flush();
    if (this.#held.length > 0) {
      this.#options.logger.error("outbox.lost_on_stop", { messages: this.#held.length, note: "the store refused them until the end" });
    }
  }

  /** The table's rows and bytes: read once, then kept by every write through this queue. */
  #tableSizes(): TableSizes {
    this.#sizes ??= this.#options.store.outbox.size();
    return this.#sizes;
  }

  /** Keeps the counted sizes in step with a write (nothing to do while they are to be read afresh). */
  #count(messages: number, bytes: number): void {
    if (!this.#sizes) return;
    this.#sizes.messages += messages;
    this.#sizes.bytes += bytes;
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
    const limits = this.#options.limits();
    if (!overBounds(this.#tableSizes(), limits, this.#settling.size)) return;
    // The rare path: count from the table as it is, and again after each removal.
    this.#readAhead.forget();
    this.#settling.flush();
    // Counted afresh by the trim; if it fails midway, by the next read of the sizes.
    this.#sizes = undefined;
    this.#sizes = trimToBounds({
      table: this.#options.store.outbox,
      logger: this.#options.logger,
      limits,
      stats: this.#options.stats,
      latestValue: this.#latestValue,
      busy: this.#options.inFlight(),
      settling: this.#settling.size,
    });
  }
}
