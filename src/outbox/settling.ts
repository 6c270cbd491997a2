// Acked messages whose outbox rows wait to be deleted. Their deletes ride in the next synced
// commit (an event's answer or reading), so an event costs one commit's pages rather than two;
// when none comes within a couple of seconds, they go in one commit of their own that does not
// wait for the disk. A power cut before that only resends them, and the server answers
// `replayed`; the spec allows the lazier delete, and docs/durability.md says so.
import type { Clock, Timer } from "../clock.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { OutboxTable, SettledRow } from "../state/outbox-table.ts";

/** How long acked rows wait for a synced commit to carry their deletes before they get one of their own. */
export const SETTLE_WAIT_MS = 2_000;
/** How many acked rows may wait: more (a backlog draining) are deleted at once. */
export const SETTLE_MAX_ROWS = 256;

/** What {@linkcode Settling} needs: the table it deletes from, and who counts what left. */
export interface SettlingOptions {
  readonly table: Pick<OutboxTable, "removeSettled" | "carryDeletes">;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called for each row deleted, with its payload's length. */
  readonly onDeleted: (bytes: number) => void;
}

/** Acked rows not deleted yet, by message_id: kept out of sends until their delete is committed. */
export class Settling {
  readonly #options: SettlingOptions;
  readonly #rows = new Map<string, { readonly topic: string | undefined; readonly bytes: number }>();
  #timer: Timer | undefined;

  constructor(options: SettlingOptions) {
    this.#options = options;
    const rows = this.#rows;
    options.table.carryDeletes({
      get size() {
        return rows.size;
      },
      rows: () => this.#batch(),
      deleted: (batch) => this.#deleted(batch),
    });
  }

  /** How many rows wait for their delete. */
  get size(): number {
    return this.#rows.size;
  }

  /** Whether `messageId`'s row waits for its delete. */
  has(messageId: string): boolean {
    return this.#rows.has(messageId);
  }

  /** Notes an acked row (`bytes` long) to be deleted with the next commit. */
  add(messageId: string, topic: string | undefined, bytes: number): void {
    this.#rows.set(messageId, { topic, bytes });
    if (this.#rows.size >= SETTLE_MAX_ROWS) this.flush();
    else this.#schedule();
  }

  /** Calls off the delete of a row queued again: it is to be sent once more. */
  callOff(messageId: string): void {
    this.#rows.delete(messageId);
  }

  /** Deletes the waiting rows now, in a commit of their own; on a failing store keeps them and tries again later. */
  flush(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.#rows.size === 0) return;
    const batch = this.#batch();
    try {
      this.#options.table.removeSettled(batch);
    } catch (error) {
      // Kept out of sends meanwhile; tried again with the next commit or the next wait.
      this.#options.logger.warn("ack.not_recorded", { messages: batch.length, error: describeError(error) });
      this.#schedule();
      return;
    }
    this.#deleted(batch);
  }

  #batch(): SettledRow[] {
    return [...this.#rows].map(([messageId, { topic }]) => ({ messageId, topic }));
  }

  #deleted(batch: readonly SettledRow[]): void {
    for (const { messageId } of batch) {
      const row = this.#rows.get(messageId);
      if (!row) continue;
      this.#rows.delete(messageId);
      this.#options.onDeleted(row.bytes);
    }
    if (this.#rows.size === 0) {
      this.#timer?.cancel();
      this.#timer = undefined;
    }
  }

  #schedule(): void {
    this.#timer ??= this.#options.clock.after(SETTLE_WAIT_MS, () => {
      this.#timer = undefined;
      this.flush();
    });
  }
}
