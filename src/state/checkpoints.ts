// When the WAL is folded back into the database file. SQLite's own rule (every 1,000 pages, inside
// the commit that crosses it) writes each page an event touched back to the file again and again,
// and does it while an event waits. Here the WAL gathers a few thousand pages and is folded in once
// the device has been quiet for a moment: a page that many events rewrote is written back once,
// and no event waits behind it. SQLite's own rule stays as a backstop for a device never quiet.
import type { Clock, Timer } from "../clock.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Database } from "../platform/index.ts";

/** Synced writes (each a few WAL pages) after which the next quiet moment folds the WAL in. */
export const CHECKPOINT_AFTER_WRITES = 1024;
/** How long without a write makes a quiet moment. */
export const QUIET_MS = 250;
/** SQLite's own checkpoint, in WAL pages (1 KiB each): only reached by a device never quiet for QUIET_MS. */
export const BACKSTOP_PAGES = 32_768;

/** Counts writes and folds the WAL in at the first quiet moment after enough of them. */
export class QuietCheckpoints {
  readonly #db: Database;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #writes = 0;
  #lastWrite = 0;
  #timer: Timer | undefined;
  #failing = false;

  constructor(db: Database, clock: Clock, logger: Logger) {
    this.#db = db;
    this.#clock = clock;
    this.#logger = logger;
    db.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  }

  /** Notes a committed write: the count that arms the quiet-moment check. */
  wrote(): void {
    this.#writes++;
    this.#lastWrite = this.#clock.now();
    if (this.#writes >= CHECKPOINT_AFTER_WRITES) this.#timer ??= this.#clock.after(QUIET_MS, () => this.#check());
  }

  /** Stops the timer (the file is closing; SQLite folds the WAL in as the last connection closes). */
  close(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #check(): void {
    this.#timer = undefined;
    const quietFor = this.#clock.now() - this.#lastWrite;
    if (quietFor >= 0 && quietFor < QUIET_MS) {
      this.#timer = this.#clock.after(QUIET_MS - quietFor, () => this.#check());
      return;
    }
    try {
      const row = this.#db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get();
      this.#writes = 0;
      if (this.#failing) this.#logger.info("storage.checkpoint_recovered", { file: this.#db.path });
      this.#failing = false;
      this.#logger.debug("storage.checkpoint", { file: this.#db.path, wal_pages: Number(row?.log ?? 0) });
    } catch (error) {
      // Nothing is lost: the WAL keeps every commit, and the next write tries again.
      if (!this.#failing) {
        this.#logger.warn("storage.checkpoint_failed", {
          file: this.#db.path,
          error: describeError(error),
          note: "the WAL keeps growing until a checkpoint succeeds; nothing committed is lost",
        });
      }
      this.#failing = true;
    }
  }
}
