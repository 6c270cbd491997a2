// The desired-state ledger: the report that answered each desired_id (to answer a redelivery the
// same way) and each route's highest sequence number. An answer is recorded with its report in
// the outbox, and the value it set, in one commit: after a crash either all are there or none.
import type { FeedPayload } from "../mqtt/messages.ts";
import type { LineMemory, LineStateWrite } from "./line-memory.ts";
import type { OutboxTable } from "./outbox-table.ts";
import type { StateFile } from "./state-file.ts";
import { parseStoredPayload } from "./stored-payload.ts";

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

/** The `desired_ledger` and `route_sequence` tables. */
export class LedgerTable {
  readonly #file: StateFile;
  readonly #outbox: OutboxTable;
  readonly #lines: LineMemory;
  #answers = 0;

  constructor(file: StateFile, outbox: OutboxTable, lines: LineMemory) {
    this.#file = file;
    this.#outbox = outbox;
    this.#lines = lines;
  }

  /** The stored answer to a desired id, if the device already answered it. */
  answered(desiredId: string): LedgerEntry | undefined {
    const row = this.#file.db.prepare("SELECT desired_id, topic, payload FROM desired_ledger WHERE desired_id = ?").get(desiredId);
    if (!row) return undefined;
    const id = String(row.desired_id);
    return { desiredId: id, topic: String(row.topic), report: parseStoredPayload(String(row.payload), `the answer to ${id}`) };
  }

  /** The highest sequence number applied or answered on a route, or -Infinity. */
  highestSequence(route: string): number {
    const row = this.#file.db.prepare("SELECT highest FROM route_sequence WHERE route = ?").get(route);
    return row ? Number(row.highest) : Number.NEGATIVE_INFINITY;
  }

  /**
   * Records the answer to a desired state and queues its report, in one transaction (one
   * fsync), with the value an applied state set when there is one (`restore` remembers it).
   */
  record(
    route: string,
    topic: string,
    payload: FeedPayload,
    advanceSequence: boolean,
    now: number,
    lineState?: LineStateWrite,
  ): void {
    const { db } = this.#file;
    // The same text in the ledger and the outbox: the answer resent later is the report sent now.
    const text = JSON.stringify(payload);
    this.#file.write(() => {
      if (lineState) this.#lines.upsertValue(lineState.route, lineState.value, now, lineState.onLevel);
      db.prepare("INSERT OR IGNORE INTO desired_ledger (desired_id, route, topic, payload, answered_at) VALUES (?, ?, ?, ?, ?)")
        .run(payload.desired_id ?? "", route, topic, text, now);
      this.#answers++;
      if (advanceSequence && payload.sequence_number !== undefined) {
        db.prepare(
          "INSERT INTO route_sequence (route, highest) VALUES (?, ?) ON CONFLICT (route) DO UPDATE SET highest = MAX(highest, excluded.highest)",
        ).run(route, payload.sequence_number);
      }
      this.#outbox.insert(topic, 0, payload, now, text);
    });
    if (this.#answers % PRUNE_EVERY === 0) {
      try {
        this.prune(now);
      } catch {
        // The state file logged it; the next prune tries again.
      }
    }
  }

  /**
   * Bounds the ledger: answers older than `maxAgeMs` (30 days) go, and beyond the newest
   * `maxEntries` (10,000) the oldest go. A redelivery comes within the broker's session expiry
   * (an hour), so only the route's sequence number ever needs an answer that old. Lazy: losing a
   * prune to a power cut only means pruning again.
   */
  prune(now: number, maxAgeMs = LEDGER_MAX_AGE_MS, maxEntries = LEDGER_MAX_ENTRIES): number {
    const { db } = this.#file;
    return this.#file.write(() =>
      db.prepare("DELETE FROM desired_ledger WHERE answered_at < ?").run(now - maxAgeMs) +
      db.prepare(
        "DELETE FROM desired_ledger WHERE desired_id IN (SELECT desired_id FROM desired_ledger ORDER BY answered_at DESC LIMIT -1 OFFSET ?)",
      ).run(maxEntries), { lazy: true });
  }
}
