// Acked messages whose outbox rows wait to be deleted: a few milliseconds' worth of acks share
// one unsynced commit. A power cut before it only resends them, and the server answers
// `replayed`; the spec allows the lazier delete, and the README says so.
import type { Clock, Timer } from "../clock.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { OutboxTable } from "../state/outbox-table.ts";

/** How long acks gather before their rows are deleted together. */
const SETTLE_BATCH_MS = 5;

/** What {@linkcode Settling} needs: the table it deletes from, and who counts what left. */
export interface SettlingOptions {
  readonly table: Pick<OutboxTable, "removeSettled">;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called for each row deleted, with its payload's length. */
  readonly onDeleted: (bytes: number) => void;
}

/** Acked rows not deleted yet, by message_id: kept out of sends until their batch is committed. */
export class Settling {
  readonly #options: SettlingOptions;
  readonly #rows = new Map<string, { readonly topic: string | undefined; readonly bytes: number }>();
  #timer: Timer | undefined;

  constructor(options: SettlingOptions) {
    this.#options = options;
  }

  /** How many rows wait for their delete. */
  get size(): number {
    return this.#rows.size;
  }

  /** Whether `messageId`'s row waits for its delete. */
  has(messageId: string): boolean {
    return this.#rows.has(messageId);
  }

  /** Notes an acked row (`bytes` long) to be deleted with the next batch. */
  add(messageId: string, topic: string | undefined, bytes: number): void {
    this.#rows.set(messageId, { topic, bytes });
    this.#schedule();
  }

  /** Calls off the delete of a row queued again: it is to be sent once more. */
  callOff(messageId: string): void {
    this.#rows.delete(messageId);
  }

  /** Deletes the waiting rows now; on a failing store keeps them and tries with the next batch. */
  flush(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.#rows.size === 0) return;
    const batch = [...this.#rows];
    try {
      this.#options.table.removeSettled(batch.map(([messageId, { topic }]) => ({ messageId, topic })));
    } catch (error) {
      // Kept out of sends meanwhile; tried again with the next batch.
      this.#options.logger.warn("ack.not_recorded", { messages: batch.length, error: describeError(error) });
      this.#schedule();
      return;
    }
    for (const [messageId, { bytes }] of batch) {
      this.#rows.delete(messageId);
      this.#options.onDeleted(bytes);
    }
  }

  #schedule(): void {
    this.#timer ??= this.#options.clock.after(SETTLE_BATCH_MS, () => {
      this.#timer = undefined;
      this.flush();
    });
  }
}
