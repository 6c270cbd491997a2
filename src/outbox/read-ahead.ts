// The outbox's rows read from the store ahead of sending, in send order: a backlog drains with
// one read per page of rows instead of one per ack.
import type { OutboxRow } from "../state/store.ts";

/**
 * Rows read ahead and not handed out yet. Anything that changes what waits or its order (a new
 * row, a resend, a deletion, a restamp) must call {@linkcode ReadAhead.forget}.
 */
export class ReadAhead {
  #rows: OutboxRow[] = [];
  #next = 0;
  /** Whether the last read found every row that waits: nothing beyond `#rows` is to be read. */
  #readAll = false;

  /** Forgets the rows read ahead: the next take reads what waits afresh. */
  forget(): void {
    this.#rows = [];
    this.#next = 0;
    this.#readAll = false;
  }

  /**
   * Up to `room` rows that `sendable` accepts, in order, reading `read(limit)` from the store
   * when the rows read ahead run out. A failing read throws, and what was read stays forgotten.
   */
  take(room: number, limit: number, read: (limit: number) => OutboxRow[], sendable: (row: OutboxRow) => boolean): OutboxRow[] {
    const out: OutboxRow[] = [];
    while (out.length < room) {
      if (this.#next >= this.#rows.length) {
        if (this.#readAll) break;
        this.#rows = read(limit);
        this.#next = 0;
        this.#readAll = this.#rows.length < limit;
        if (this.#rows.length === 0) break;
      }
      const row = this.#rows[this.#next++]!;
      if (sendable(row)) out.push(row);
    }
    return out;
  }

  /** Whether rows may wait beyond those handed out. */
  get moreMayWait(): boolean {
    return this.#next < this.#rows.length || !this.#readAll;
  }
}
