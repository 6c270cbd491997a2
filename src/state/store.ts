import { type Logger, silentLogger } from "../log.ts";
import type { FeedPayload } from "../mqtt/messages.ts";
import type { Database } from "../platform/index.ts";
import { openStateFile, type StoreOptions } from "./open.ts";
import { parseStoredPayload } from "./stored-payload.ts";

export { STATE_FILE, type StoreOptions } from "./open.ts";

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
  readonly report: FeedPayload;
}

/** How long and how many answers the ledger keeps, and how often it is pruned while running. */
const LEDGER_MAX_AGE_MS = 30 * 24 * 3600_000;
const LEDGER_MAX_ENTRIES = 10_000;
const PRUNE_EVERY = 1000;

/** Whether the store can write, for the console, /metrics and the desired-state handler. */
export interface StorageHealth {
  /** True while writes fail and no probe has succeeded since. */
  readonly failing: boolean;
  /** The failure of the current episode, one line. */
  readonly error: string | undefined;
  readonly since: number | undefined;
  /** Failed writes since start, and episodes (runs of failures) since start. */
  readonly failures: number;
  readonly episodes: number;
  /** A state file set aside at start (damaged or foreign), if one was. */
  readonly setAside: string | undefined;
}

/** The last value written to an output, for the power-on policy `restore`. */
export interface SavedLineState {
  readonly value: 0 | 1;
  readonly changedAt: number;
}

/** The messages held for the clock that still wait in the outbox (a dropped one leaves its hold behind, ignored). */
const CLOCK_HELD_ROWS = "FROM clock_held h JOIN outbox o ON o.message_id = h.message_id AND o.topic = h.topic";

/**
 * The device's durable state in SQLite: the outbox of unacknowledged feed data and the
 * desired-state ledger. Every write commits before the runtime acts on it, so a crash or
 * power cut loses nothing the device has observed or answered.
 */
export class DeviceStore {
  readonly #db: Database;
  readonly #logger: Logger;
  readonly #now: () => number;
  #answers = 0;
  #health: StorageHealth = { failing: false, error: undefined, since: undefined, failures: 0, episodes: 0, setAside: undefined };

  private constructor(db: Database, options: StoreOptions, setAside: string | undefined) {
    this.#db = db;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#health = { ...this.#health, setAside };
  }

  /**
   * Opens the store in `stateDir` (or in memory for ":memory:"): see {@linkcode openStateFile}
   * for a file that is damaged, another program's, or cannot be opened.
   */
  static async open(stateDir: string, options: StoreOptions = {}): Promise<DeviceStore> {
    return await openStateFile(stateDir, options, (db, setAside) => {
      const store = new DeviceStore(db, options, setAside);
      store.pruneLedger((options.now ?? Date.now)());
      return store;
    });
  }

  /**
   * Bounds the desired-state ledger: answers older than `maxAgeMs` (30 days) go, and beyond the
   * newest `maxEntries` (10,000) the oldest go. A redelivery comes within the broker's session
   * expiry (an hour), so only the route's sequence number ever needs an answer that old. Lazy:
   * losing a prune to a power cut only means pruning again.
   */
  pruneLedger(now: number, maxAgeMs = LEDGER_MAX_AGE_MS, maxEntries = LEDGER_MAX_ENTRIES): number {
    return this.#write(() =>
      this.#db.prepare("DELETE FROM desired_ledger WHERE answered_at < ?").run(now - maxAgeMs) +
      this.#db.prepare(
        "DELETE FROM desired_ledger WHERE desired_id IN (SELECT desired_id FROM desired_ledger ORDER BY answered_at DESC LIMIT -1 OFFSET ?)",
      ).run(maxEntries), { lazy: true });
  }

  /** How many answers the ledger holds. */
  ledgerSize(): number {
    return Number(this.#db.prepare("SELECT COUNT(*) AS n FROM desired_ledger").get()?.n ?? 0);
  }

  /** Whether writes work, and what failed when they do not. */
  get health(): StorageHealth {
    return this.#health;
  }

  /**
   * Tells whether a write would succeed now: after a failure, tries one that needs fresh pages
   * (and leaves nothing behind). Cheap while healthy: no write at all.
   */
  canWrite(): boolean {
    if (!this.#health.failing) return true;
    try {
      this.#write(() => {
        this.#db.prepare("INSERT INTO write_probe (data) VALUES (zeroblob(16384))").run();
        this.#db.prepare("DELETE FROM write_probe").run();
      });
      return true;
    } catch {
      return false;
    }
  }

  /** Runs a write in one transaction, noting failure episodes (logged once each) and recoveries. */
  #write<T>(fn: () => T, options?: { readonly lazy?: boolean }): T {
    let result: T;
    try {
      result = this.#db.transaction(fn, options);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const first = !this.#health.failing;
      this.#health = {
        ...this.#health,
        failing: true,
        error: message,
        since: this.#health.since ?? this.#now(),
        failures: this.#health.failures + 1,
        episodes: this.#health.episodes + (first ? 1 : 0),
      };
      if (first) {
        this.#logger.error("storage.failing", {
          file: this.#db.path || "(in memory)",
          error: message,
          note: "answers and readings wait until a write succeeds again",
        });
      }
      throw error;
    }
    if (this.#health.failing) {
      this.#logger.info("storage.recovered", {
        file: this.#db.path || "(in memory)",
        failed_writes: this.#health.failures,
        after_ms: this.#now() - (this.#health.since ?? this.#now()),
      });
      this.#health = { ...this.#health, failing: false, error: undefined, since: undefined };
    }
    return result;
  }

  /** Adds a message; the same topic and message id again is a no-op. */
  addToOutbox(topic: string, priority: Priority, payload: FeedPayload, now: number): boolean {
    return this.#write(() => this.#insertOutbox(topic, priority, payload, now));
  }

  /**
   * Adds several messages in one commit (one fsync); returns how many were new. A message with
   * `clock` was observed while the wall clock could not be believed: it is held (see
   * `restampClockHeld`) with its moment on the boot's monotonic clock, in the same commit.
   */
  addManyToOutbox(
    rows: readonly {
      readonly topic: string;
      readonly priority: Priority;
      readonly payload: FeedPayload;
      readonly at: number;
      readonly clock?: { readonly mono: number; readonly bootId: string } | undefined;
    }[],
  ): number {
    return this.#write(() =>
      rows.reduce((added, row) => {
        const inserted = this.#insertOutbox(row.topic, row.priority, row.payload, row.at);
        if (inserted && row.clock) {
          this.#db.prepare("INSERT OR IGNORE INTO clock_held (message_id, topic, mono_ms, boot_id) VALUES (?, ?, ?, ?)").run(
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

  /** How many messages wait for the clock. */
  clockHeldCount(): number {
    return Number(this.#db.prepare(`SELECT COUNT(*) AS n ${CLOCK_HELD_ROWS}`).get()?.n ?? 0);
  }

  /**
   * Gives every message held for the clock its wall time, in one commit: `wallOf` turns a moment
   * of this boot's monotonic clock into the time now known; a message held in another boot keeps
   * the stamp it was written with (its moment means nothing now). Returns how many of each.
   */
  restampClockHeld(bootId: string, wallOf: (mono: number) => number): { restamped: number; otherBoot: number } {
    return this.#write(() => {
      const rows = this.#db.prepare(`SELECT h.message_id, h.topic, h.mono_ms, h.boot_id, o.payload ${CLOCK_HELD_ROWS}`).all();
      let restamped = 0;
      let otherBoot = 0;
      for (const row of rows) {
        if (String(row.boot_id) !== bootId) {
          otherBoot++;
          continue;
        }
        const payload = parseStoredPayload(String(row.payload), `message ${String(row.message_id)}`);
        const stamped = { ...payload, value_received_at: new Date(wallOf(Number(row.mono_ms))).toISOString() };
        this.#db.prepare("UPDATE outbox SET payload = ? WHERE message_id = ? AND topic = ?").run(
          JSON.stringify(stamped),
          String(row.message_id),
          String(row.topic),
        );
        restamped++;
      }
      this.#db.exec("DELETE FROM clock_held");
      return { restamped, otherBoot };
    });
  }

  #insertOutbox(topic: string, priority: Priority, payload: FeedPayload, now: number): boolean {
    return this.#db
      .prepare("INSERT OR IGNORE INTO outbox (topic, message_id, priority, payload, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(topic, payload.message_id, priority, JSON.stringify(payload), now) > 0;
  }

  /** The stored payload's length in bytes of a waiting message, or undefined when none waits under that id. */
  messageSize(messageId: string, topic?: string): number | undefined {
    const row = topic === undefined
      ? this.#db.prepare("SELECT LENGTH(CAST(payload AS BLOB)) AS n FROM outbox WHERE message_id = ? LIMIT 1").get(messageId)
      : this.#db.prepare("SELECT LENGTH(CAST(payload AS BLOB)) AS n FROM outbox WHERE message_id = ? AND topic = ?").get(messageId, topic);
    return row === undefined ? undefined : Number(row.n);
  }

  /**
   * Removes messages whose ack was final, in one commit that does not wait for the disk: a power
   * cut may bring some back, and the server answers their resend `replayed` (see `transaction`).
   */
  removeSettled(settled: readonly { readonly messageId: string; readonly topic: string | undefined }[]): number {
    return this.#write(
      () =>
        settled.reduce(
          (removed, { messageId, topic }) =>
            removed + (topic === undefined
              ? this.#db.prepare("DELETE FROM outbox WHERE message_id = ?").run(messageId)
              : this.#db.prepare("DELETE FROM outbox WHERE message_id = ? AND topic = ?").run(messageId, topic)),
          0,
        ),
      { lazy: true },
    );
  }

  /** Removes a message once its ack is final. Returns whether it was there. */
  removeFromOutbox(messageId: string, topic?: string): boolean {
    const changed = this.#write(() =>
      topic === undefined
        ? this.#db.prepare("DELETE FROM outbox WHERE message_id = ?").run(messageId)
        : this.#db.prepare("DELETE FROM outbox WHERE message_id = ? AND topic = ?").run(messageId, topic)
    );
    return changed > 0;
  }

  /** Waiting messages: command reports first, then oldest first; without those held for the clock when asked. */
  pendingOutbox(limit: number, skipClockHeld = false): OutboxRow[] {
    return skipClockHeld
      ? this.#rows(
        "WHERE NOT EXISTS (SELECT 1 FROM clock_held h WHERE h.message_id = outbox.message_id AND h.topic = outbox.topic) ORDER BY priority, seq LIMIT ?",
        limit,
      )
      : this.#rows("ORDER BY priority, seq LIMIT ?", limit);
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
    const row = this.#db.prepare("SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(CAST(payload AS BLOB))), 0) AS b FROM outbox").get();
    return { messages: Number(row?.n ?? 0), bytes: Number(row?.b ?? 0) };
  }

  /** Deletes every waiting message of `topic` but the newest, except `keep`; returns how many went. */
  coalesce(topic: string, keep: ReadonlySet<string>): number {
    const rows = this.#db.prepare("SELECT message_id FROM outbox WHERE topic = ? ORDER BY seq DESC").all(topic).map((row) =>
      String(row.message_id)
    );
    return this.#write(() => {
      let removed = 0;
      for (const messageId of rows.slice(1)) {
        if (keep.has(messageId)) continue;
        removed += this.#db.prepare("DELETE FROM outbox WHERE topic = ? AND message_id = ?").run(topic, messageId);
      }
      return removed;
    });
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
    if (!row) return undefined;
    const id = String(row.desired_id);
    return { desiredId: id, topic: String(row.topic), report: parseStoredPayload(String(row.payload), `the answer to ${id}`) };
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
  recordAnswer(
    route: string,
    topic: string,
    payload: FeedPayload,
    advanceSequence: boolean,
    now: number,
    lineState?: { readonly route: string; readonly value: 0 | 1 },
  ): void {
    this.#write(() => {
      // An applied value is remembered for `restore` with its answer: one commit, one fsync.
      if (lineState) this.#upsertLineState(lineState.route, lineState.value, now);
      this.#db
        .prepare("INSERT OR IGNORE INTO desired_ledger (desired_id, route, topic, payload, answered_at) VALUES (?, ?, ?, ?, ?)")
        .run(payload.desired_id ?? "", route, topic, JSON.stringify(payload), now);
      this.#answers++;
      if (advanceSequence && payload.sequence_number !== undefined) {
        this.#db
          .prepare(
            "INSERT INTO route_sequence (route, highest) VALUES (?, ?) ON CONFLICT (route) DO UPDATE SET highest = MAX(highest, excluded.highest)",
          )
          .run(route, payload.sequence_number);
      }
      this.#insertOutbox(topic, 0, payload, now);
    });
    if (this.#answers % PRUNE_EVERY === 0) {
      try {
        this.pruneLedger(now);
      } catch {
        // The store logged it; the next prune tries again.
      }
    }
  }

  /** Remembers the value an output was last set to (committed before the call returns). */
  saveLineState(route: string, value: 0 | 1, now: number): void {
    this.#write(() => this.#upsertLineState(route, value, now));
  }

  #upsertLineState(route: string, value: 0 | 1, now: number): void {
    this.#db
      .prepare(
        "INSERT INTO line_state (route, value, changed_at) VALUES (?, ?, ?) ON CONFLICT (route) DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at",
      )
      .run(route, value, now);
  }

  /** The value an output was last set to, if it ever was. */
  lineState(route: string): SavedLineState | undefined {
    const row = this.#db.prepare("SELECT value, changed_at FROM line_state WHERE route = ?").get(route);
    return row ? { value: Number(row.value) === 1 ? 1 : 0, changedAt: Number(row.changed_at) } : undefined;
  }

  /** Remembers which way the catalog last said a configured route works, for the next boot. */
  saveDirection(route: string, direction: "input" | "output"): void {
    this.#write(() =>
      this.#db
        .prepare(
          "INSERT INTO route_direction (route, direction) VALUES (?, ?) ON CONFLICT (route) DO UPDATE SET direction = excluded.direction",
        )
        .run(route, direction)
    );
  }

  /** Which way the catalog last said a configured route works. */
  direction(route: string): "input" | "output" | undefined {
    const row = this.#db.prepare("SELECT direction FROM route_direction WHERE route = ?").get(route);
    return row ? (String(row.direction) === "output" ? "output" : "input") : undefined;
  }

  /**
   * Caps the database at `pages` pages (SQLite's max_page_count), so a test can fill the "disk"
   * without root or a small file system.
   */
  limitPages(pages: number): void {
    this.#db.exec(`PRAGMA max_page_count = ${Math.max(1, Math.floor(pages))}`);
  }

  /** How many pages the database uses now. */
  pageCount(): number {
    return Number(this.#db.prepare("PRAGMA page_count").get()?.page_count ?? 0);
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}
