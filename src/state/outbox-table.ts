// The outbox table: feed messages waiting for their application ack, in the order they go
// (command reports first, then oldest first), and the clock hold of those observed while the wall
// clock could not be believed. Sizes are UTF-8 bytes, as the catalog's limits are.
import type { FeedPayload } from "../mqtt/messages.ts";
import type { StateFile } from "./state-file.ts";
import { parseStoredPayload } from "./stored-payload.ts";

/** Command reports go before sensor telemetry. */
export type Priority = 0 | 1;

/** One message waiting for its application ack. */
export interface OutboxRow {
  readonly seq: number;
  readonly topic: string;
  readonly messageId: string;
  readonly priority: Priority;
  /** The exact text published, so a resend carries the same bytes. */
  readonly payload: string;
  readonly createdAt: number;
}

/** A new message to write, with its monotonic moment when it must wait for the clock. */
export interface NewOutboxRow {
  readonly topic: string;
  readonly priority: Priority;
  readonly payload: FeedPayload;
  readonly at: number;
  readonly clock?: { readonly mono: number; readonly bootId: string } | undefined;
}

/** A message whose ack was final, to delete. */
export interface SettledRow {
  readonly messageId: string;
  readonly topic: string | undefined;
}

/** Who keeps the acked messages not deleted yet (see `OutboxTable.carryDeletes`). */
export interface SettledSource {
  readonly size: number;
  rows(): readonly SettledRow[];
  deleted(rows: readonly SettledRow[]): void;
}

const COLUMNS = "seq, topic, message_id, priority, payload, created_at";
const NOT_HELD = "NOT EXISTS (SELECT 1 FROM clock_held h WHERE h.message_id = outbox.message_id AND h.topic = outbox.topic)";
/** The first `limit` reports (their partial index) and the first `limit` readings (the table's order), in send order. */
const pendingQuery = (extra: string) =>
  `SELECT * FROM (SELECT ${COLUMNS} FROM outbox WHERE priority = 0${extra} ORDER BY seq LIMIT ?)
   UNION ALL SELECT * FROM (SELECT ${COLUMNS} FROM outbox WHERE priority = 1${extra} ORDER BY seq LIMIT ?)
   ORDER BY priority, seq LIMIT ?`;
const PENDING = pendingQuery("");
const PENDING_NOT_HELD = pendingQuery(` AND ${NOT_HELD}`);

function toRow(row: Record<string, unknown>): OutboxRow {
  return {
    seq: Number(row.seq),
    topic: String(row.topic),
    messageId: String(row.message_id),
    priority: Number(row.priority) === 0 ? 0 : 1,
    payload: String(row.payload),
    createdAt: Number(row.created_at),
  };
}

/** The messages held for the clock that still wait in the outbox (a dropped one leaves its hold behind, ignored). */
const CLOCK_HELD_ROWS = "FROM clock_held h JOIN outbox o ON o.message_id = h.message_id AND o.topic = h.topic";

/** The `outbox` and `clock_held` tables. */
export class OutboxTable {
  readonly #file: StateFile;

  constructor(file: StateFile) {
    this.#file = file;
  }

  /**
   * Adds several messages in one commit (one fsync); returns how many were new (the same topic
   * and message id again is a no-op). A message with `clock` was observed while the wall clock
   * could not be believed: it is held (see `restampClockHeld`) with its moment on the boot's
   * monotonic clock, in the same commit.
   */
  addMany(rows: readonly NewOutboxRow[]): number {
    const { db } = this.#file;
    return this.#file.write(() =>
      rows.reduce((added, row) => {
        const inserted = this.insert(row.topic, row.priority, row.payload, row.at);
        if (inserted && row.clock) {
          db.prepare("INSERT OR IGNORE INTO clock_held (message_id, topic, mono_ms, boot_id) VALUES (?, ?, ?, ?)").run(
            row.payload.message_id,
            row.topic,
            row.clock.mono,
            row.clock.bootId,
          );
        }
        return added + (inserted ? 1 : 0);
      }, 0)
    );
  }

  /** Inserts one message inside the caller's transaction (`text`: the payload as JSON, when the caller has it); false when it was there already. */
  insert(topic: string, priority: Priority, payload: FeedPayload, now: number, text = JSON.stringify(payload)): boolean {
    return this.#file.db
      .prepare("INSERT OR IGNORE INTO outbox (topic, message_id, priority, payload, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(topic, payload.message_id, priority, text, now) > 0;
  }

  /** How many messages wait for the clock. */
  clockHeldCount(): number {
    return Number(this.#file.db.prepare(`SELECT COUNT(*) AS n ${CLOCK_HELD_ROWS}`).get()?.n ?? 0);
  }

  /**
   * Gives every message held for the clock its wall time, in one commit: `wallOf` turns a moment
   * of this boot's monotonic clock into the time now known; a message held in another boot keeps
   * the stamp it was written with (its moment means nothing now). Returns how many of each.
   */
  restampClockHeld(bootId: string, wallOf: (mono: number) => number): { restamped: number; otherBoot: number } {
    const { db } = this.#file;
    return this.#file.write(() => {
      const rows = db.prepare(`SELECT h.message_id, h.topic, h.mono_ms, h.boot_id, o.payload ${CLOCK_HELD_ROWS}`).all();
      let restamped = 0;
      let otherBoot = 0;
      for (const row of rows) {
        if (String(row.boot_id) !== bootId) {
          otherBoot++;
          continue;
        }
        const payload = parseStoredPayload(String(row.payload), `message ${String(row.message_id)}`);
        const stamped = { ...payload, value_received_at: new Date(wallOf(Number(row.mono_ms))).toISOString() };
        db.prepare("UPDATE outbox SET payload = ? WHERE message_id = ? AND topic = ?").run(
          JSON.stringify(stamped),
          String(row.message_id),
          String(row.topic),
        );
        restamped++;
      }
      db.exec("DELETE FROM clock_held");
      return { restamped, otherBoot };
    });
  }

  /** The stored payload's size in bytes of a waiting message, or undefined when none waits under that id. */
  messageSize(messageId: string, topic?: string): number | undefined {
    const { db } = this.#file;
    const row = topic === undefined
      ? db.prepare("SELECT LENGTH(CAST(payload AS BLOB)) AS n FROM outbox WHERE message_id = ? LIMIT 1").get(messageId)
      : db.prepare("SELECT LENGTH(CAST(payload AS BLOB)) AS n FROM outbox WHERE message_id = ? AND topic = ?").get(messageId, topic);
    return row === undefined ? undefined : Number(row.n);
  }

  /**
   * Removes messages whose ack was final, in one commit that does not wait for the disk: a power
   * cut may bring some back, and the server answers their resend `replayed`.
   */
  removeSettled(settled: readonly SettledRow[]): number {
    return this.#file.write(
      () => settled.reduce((removed, { messageId, topic }) => removed + this.#delete(messageId, topic), 0),
      { lazy: true },
    );
  }

  /**
   * Has every synced commit carry the deletes of acked messages (see `StateFile.carry`), so an
   * event's commit also deletes what the last acks settled, instead of a commit of their own.
   * `settled.rows()` lists them as the commit begins; `settled.deleted` hears which went once it
   * is committed.
   */
  carryDeletes(settled: SettledSource): void {
    this.#file.carry({
      get waiting() {
        return settled.size > 0;
      },
      ride: () => {
        const rows = settled.rows();
        for (const { messageId, topic } of rows) this.#delete(messageId, topic);
        return () => settled.deleted(rows);
      },
    });
  }

  /** Removes a message (one the bounds drop). Returns whether it was there. */
  remove(messageId: string, topic?: string): boolean {
    return this.#file.write(() => this.#delete(messageId, topic)) > 0;
  }

  #delete(messageId: string, topic: string | undefined): number {
    const { db } = this.#file;
    return topic === undefined
      ? db.prepare("DELETE FROM outbox WHERE message_id = ?").run(messageId)
      : db.prepare("DELETE FROM outbox WHERE message_id = ? AND topic = ?").run(messageId, topic);
  }

  /**
   * Waiting messages: command reports first, then oldest first; without those held for the clock
   * when asked. The reports come through their own index, the readings in the table's order.
   */
  pending(limit: number, skipClockHeld = false): OutboxRow[] {
    return this.#file.db
      .prepare(skipClockHeld ? PENDING_NOT_HELD : PENDING)
      .all(limit, limit, limit)
      .map(toRow);
  }

  #rows(clause: string, limit: number): OutboxRow[] {
    return this.#file.db.prepare(`SELECT ${COLUMNS} FROM outbox ${clause}`).all(limit).map(toRow);
  }

  /** How many messages wait, and their payload bytes. */
  size(): { messages: number; bytes: number } {
    const row = this.#file.db.prepare("SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(CAST(payload AS BLOB))), 0) AS b FROM outbox").get();
    return { messages: Number(row?.n ?? 0), bytes: Number(row?.b ?? 0) };
  }

  /** Deletes every waiting message of `topic` but the newest, except `keep`; returns how many went. */
  coalesce(topic: string, keep: ReadonlySet<string>): number {
    const { db } = this.#file;
    const rows = db.prepare("SELECT message_id FROM outbox WHERE topic = ? ORDER BY seq DESC").all(topic).map((row) =>
      String(row.message_id)
    );
    return this.#file.write(() => {
      let removed = 0;
      for (const messageId of rows.slice(1)) {
        if (keep.has(messageId)) continue;
        removed += db.prepare("DELETE FROM outbox WHERE topic = ? AND message_id = ?").run(topic, messageId);
      }
      return removed;
    });
  }

  /** The oldest waiting sensor message not in `keep`, to drop when the outbox is full. */
  oldestTelemetry(keep: ReadonlySet<string>): OutboxRow | undefined {
    // At most keep.size rows are skipped, so one more is enough to find a candidate.
    return this.#rows("WHERE priority = 1 ORDER BY seq LIMIT ?", keep.size + 1).find((row) => !keep.has(row.messageId));
  }

  /**
   * Moves every message waiting under `from` (a placeholder of a route the catalog had not named
   * yet) to `to`, clock holds included, in one commit; their order and message ids stay.
   * Returns how many moved.
   */
  rebind(from: string, to: string): number {
    const { db } = this.#file;
    return this.#file.write(() => {
      db.prepare("UPDATE clock_held SET topic = ? WHERE topic = ?").run(to, from);
      return db.prepare("UPDATE outbox SET topic = ? WHERE topic = ?").run(to, from);
    });
  }

  /** Deletes every message waiting under `topic` (a placeholder no catalog route will ever name); returns how many. */
  dropTopic(topic: string): number {
    const { db } = this.#file;
    return this.#file.write(() => {
      db.prepare("DELETE FROM clock_held WHERE topic = ?").run(topic);
      return db.prepare("DELETE FROM outbox WHERE topic = ?").run(topic);
    });
  }

  /** The topics messages wait under that start with `prefix` (placeholders), each once. */
  topicsStartingWith(prefix: string): string[] {
    return this.#file.db.prepare("SELECT DISTINCT topic FROM outbox WHERE substr(topic, 1, ?) = ?").all(prefix.length, prefix).map((
      row,
    ) => String(row.topic));
  }

  /** When the oldest waiting message was written, if any waits. */
  oldestAt(): number | undefined {
    const row = this.#file.db.prepare("SELECT MIN(created_at) AS t FROM outbox").get();
    return row?.t === null || row?.t === undefined ? undefined : Number(row.t);
  }
}
