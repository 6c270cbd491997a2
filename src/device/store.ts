import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { FeedPayload } from "../mqtt/messages.ts";
import { type Database, openDatabase } from "../runtime/index.ts";

/** Command reports go before sensor telemetry. */
export type Priority = 0 | 1;

/** One message waiting for its application ack. */
export interface OutboxRow {
  readonly seq: number;
  readonly topic: string;
  readonly messageId: string;
  readonly priority: Priority;
  readonly payload: string;
  readonly createdAt: number;
}

/** The report that answered a desired state, kept to answer redeliveries the same way. */
export interface LedgerEntry {
  readonly desiredId: string;
  readonly topic: string;
  readonly payload: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  topic TEXT NOT NULL,
  message_id TEXT NOT NULL,
  priority INTEGER NOT NULL,
  payload TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (topic, message_id)
);
CREATE INDEX IF NOT EXISTS outbox_order ON outbox (priority, seq);
CREATE INDEX IF NOT EXISTS outbox_message ON outbox (message_id);
CREATE TABLE IF NOT EXISTS desired_ledger (
  desired_id TEXT PRIMARY KEY,
  route TEXT NOT NULL,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  answered_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS route_sequence (
  route TEXT PRIMARY KEY,
  highest INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS line_state (
  route TEXT PRIMARY KEY,
  value INTEGER NOT NULL,
  changed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS route_direction (
  route TEXT PRIMARY KEY,
  direction TEXT NOT NULL
);
`;

/** The last value written to an output, for the power-on policy `restore`. */
export interface SavedLineState {
  readonly value: 0 | 1;
  readonly changedAt: number;
}

/**
 * The device's durable state in SQLite: the outbox of unacknowledged feed data and the
 * desired-state ledger. Every write commits before the runtime acts on it, so a crash or
 * power cut loses nothing the device has observed or answered.
 */
export class DeviceStore {
  readonly #db: Database;

  private constructor(db: Database) {
    this.#db = db;
    db.exec(SCHEMA);
  }

  /** Opens the store in `stateDir` (or in memory for ":memory:"). */
  static async open(stateDir: string): Promise<DeviceStore> {
    if (stateDir === ":memory:") return new DeviceStore(await openDatabase(":memory:"));
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    return new DeviceStore(await openDatabase(join(stateDir, "realer-edge.sqlite")));
  }

  /** Adds a message; the same topic and message id again is a no-op. */
  addToOutbox(topic: string, priority: Priority, payload: FeedPayload, now: number): void {
    this.#db
      .prepare("INSERT OR IGNORE INTO outbox (topic, message_id, priority, payload, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(topic, payload.message_id, priority, JSON.stringify(payload), now);
  }

  /** Removes a message once its ack is final. Returns whether it was there. */
  removeFromOutbox(messageId: string, topic?: string): boolean {
    const changed = topic === undefined
      ? this.#db.prepare("DELETE FROM outbox WHERE message_id = ?").run(messageId)
      : this.#db.prepare("DELETE FROM outbox WHERE message_id = ? AND topic = ?").run(messageId, topic);
    return changed > 0;
  }

  /** Waiting messages: command reports first, then oldest first. */
  pendingOutbox(limit: number): OutboxRow[] {
    return this.#rows("ORDER BY priority, seq LIMIT ?", limit);
  }

  #rows(clause: string, limit: number): OutboxRow[] {
    return this.#db
      .prepare(`SELECT seq, topic, message_id, priority, payload, created_at FROM outbox ${clause}`)
      .all(limit)
      .map((row) => ({
        seq: Number(row.seq),
        topic: String(row.topic),
        messageId: String(row.message_id),
        priority: Number(row.priority) === 0 ? 0 : 1,
        payload: String(row.payload),
        createdAt: Number(row.created_at),
      }));
  }

  /** How many messages wait, and their payload bytes. */
  outboxSize(): { messages: number; bytes: number } {
    const row = this.#db.prepare("SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(payload)), 0) AS b FROM outbox").get();
    return { messages: Number(row?.n ?? 0), bytes: Number(row?.b ?? 0) };
  }

  /** Deletes every waiting message of `topic` but the newest, except `keep`; returns how many went. */
  coalesce(topic: string, keep: ReadonlySet<string>): number {
    const rows = this.#db.prepare("SELECT message_id FROM outbox WHERE topic = ? ORDER BY seq DESC").all(topic).map((row) => String(row.message_id));
    let removed = 0;
    for (const messageId of rows.slice(1)) {
      if (keep.has(messageId)) continue;
      removed += this.#db.prepare("DELETE FROM outbox WHERE topic = ? AND message_id = ?").run(topic, messageId);
    }
    return removed;
  }

  /** The oldest waiting sensor message not in `keep`, to drop when the outbox is full. */
  oldestTelemetry(keep: ReadonlySet<string>): OutboxRow | undefined {
    // At most keep.size rows are skipped, so one more is enough to find a candidate.
    return this.#rows("WHERE priority = 1 ORDER BY seq LIMIT ?", keep.size + 1).find((row) => !keep.has(row.messageId));
  }

  /** When the oldest waiting message was written, if any waits. */
  oldestOutboxAt(): number | undefined {
    const row = this.#db.prepare("SELECT MIN(created_at) AS t FROM outbox").get();
    return row?.t === null || row?.t === undefined ? undefined : Number(row.t);
  }

  /** How many messages wait for their ack. */
  outboxDepth(): number {
    return Number(this.#db.prepare("SELECT COUNT(*) AS n FROM outbox").get()?.n ?? 0);
  }

  /** The stored answer to a desired id, if the device already answered it. */
  answered(desiredId: string): LedgerEntry | undefined {
    const row = this.#db.prepare("SELECT desired_id, topic, payload FROM desired_ledger WHERE desired_id = ?").get(desiredId);
    return row ? { desiredId: String(row.desired_id), topic: String(row.topic), payload: String(row.payload) } : undefined;
  }

  /** The highest sequence number applied or answered on a route, or -Infinity. */
  highestSequence(route: string): number {
    const row = this.#db.prepare("SELECT highest FROM route_sequence WHERE route = ?").get(route);
    return row ? Number(row.highest) : Number.NEGATIVE_INFINITY;
  }

  /**
   * Records the answer to a desired state and queues its report, in one transaction: after a
   * crash either both are there or neither is.
   */
  recordAnswer(route: string, topic: string, payload: FeedPayload, advanceSequence: boolean, now: number, lineState?: { readonly route: string; readonly value: 0 | 1 }): void {
    this.#db.transaction(() => {
      // An applied value is remembered for `restore` with its answer: one commit, one fsync.
      if (lineState) this.saveLineState(lineState.route, lineState.value, now);
      this.#db
        .prepare("INSERT OR IGNORE INTO desired_ledger (desired_id, route, topic, payload, answered_at) VALUES (?, ?, ?, ?, ?)")
        .run(payload.desired_id ?? "", route, topic, JSON.stringify(payload), now);
      if (advanceSequence && payload.sequence_number !== undefined) {
        this.#db
          .prepare("INSERT INTO route_sequence (route, highest) VALUES (?, ?) ON CONFLICT (route) DO UPDATE SET highest = MAX(highest, excluded.highest)")
          .run(route, payload.sequence_number);
      }
      this.addToOutbox(topic, 0, payload, now);
    });
  }

  /** Remembers the value an output was last set to (committed before the call returns). */
  saveLineState(route: string, value: 0 | 1, now: number): void {
    this.#db
      .prepare("INSERT INTO line_state (route, value, changed_at) VALUES (?, ?, ?) ON CONFLICT (route) DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at")
      .run(route, value, now);
  }

  /** The value an output was last set to, if it ever was. */
  lineState(route: string): SavedLineState | undefined {
    const row = this.#db.prepare("SELECT value, changed_at FROM line_state WHERE route = ?").get(route);
    return row ? { value: Number(row.value) === 1 ? 1 : 0, changedAt: Number(row.changed_at) } : undefined;
  }

  /** Remembers which way the catalog last said a configured route works, for the next boot. */
  saveDirection(route: string, direction: "input" | "output"): void {
    this.#db
      .prepare("INSERT INTO route_direction (route, direction) VALUES (?, ?) ON CONFLICT (route) DO UPDATE SET direction = excluded.direction")
      .run(route, direction);
  }

  /** Which way the catalog last said a configured route works. */
  direction(route: string): "input" | "output" | undefined {
    const row = this.#db.prepare("SELECT direction FROM route_direction WHERE route = ?").get(route);
    return row ? (String(row.direction) === "output" ? "output" : "input") : undefined;
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}
