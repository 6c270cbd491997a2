// The open state file: its transactions and their health. Every table module writes through
// `write()`, so a failing disk is noticed, logged once per episode and reported the same way
// whichever table met it.
import type { Clock } from "../clock.ts";
import { describeError } from "../errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import type { Database } from "../platform/index.ts";
import { QuietCheckpoints } from "./checkpoints.ts";

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

/**
 * Writes that need no commit of their own (acked rows' deletes): each synced commit carries what
 * waits, so an event costs one commit's pages, not two.
 */
export interface Rider {
  /** Whether writes wait (read before a commit, to open nothing when none do). */
  readonly waiting: boolean;
  /**
   * Makes the waiting writes inside the open transaction, and returns what to do once they are
   * committed. A throw leaves them waiting: the commit goes without them.
   */
  ride(): () => void;
}

/** The database of the state file, with its write health. */
export class StateFile {
  /** The database, for the table modules beside this file (and test helpers); nothing else. */
  readonly db: Database;
  readonly #logger: Logger;
  readonly #now: () => number;
  #health: StorageHealth;
  readonly #riders = new Set<Rider>();
  /** Whether a write is open (a write inside it is part of it, and carries no rider of its own). */
  #writing = false;

  /** The quiet-moment checkpoints, with a clock to wait on (without one, SQLite's own rule). */
  readonly #checkpoints: QuietCheckpoints | undefined;

  constructor(
    db: Database,
    options: { readonly logger?: Logger; readonly now?: () => number; readonly clock?: Clock },
    setAside: string | undefined,
  ) {
    this.db = db;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#checkpoints = options.clock && db.path !== "" ? new QuietCheckpoints(db, options.clock, this.#logger) : undefined;
    this.#health = { failing: false, error: undefined, since: undefined, failures: 0, episodes: 0, setAside };
  }

  /** Whether writes work, and what failed when they do not. */
  get health(): StorageHealth {
    return this.#health;
  }

  /** The file's name for logs. */
  get name(): string {
    return this.db.path || "(in memory)";
  }

  /**
   * Tells whether a write would succeed now: after a failure, tries one that needs fresh pages
   * (and leaves nothing behind). Cheap while healthy: no write at all.
   */
  canWrite(): boolean {
    if (!this.#health.failing) return true;
    try {
      this.write(() => {
        this.db.prepare("INSERT INTO write_probe (data) VALUES (zeroblob(16384))").run();
        this.db.prepare("DELETE FROM write_probe").run();
      });
      return true;
    } catch {
      return false;
    }
  }

  /** Has every synced commit from now on carry `rider`'s waiting writes. */
  carry(rider: Rider): void {
    this.#riders.add(rider);
  }

  /**
   * Runs a write in one transaction (`lazy`: not waiting for the disk, see `Database.transaction`),
   * noting failure episodes (logged once each) and recoveries. A failure throws the store's error.
   * A synced write carries the riders' waiting writes; should they fail, it is made without them.
   */
  write<T>(fn: () => T, options?: { readonly lazy?: boolean }): T {
    if (this.#writing || options?.lazy === true) return this.#write(fn, options);
    const riders = [...this.#riders].filter((rider) => rider.waiting);
    if (riders.length === 0) return this.#write(fn, options);
    const committed: (() => void)[] = [];
    const result = this.#write(() => {
      for (const rider of riders) this.#ride(rider, committed);
      return fn();
    });
    for (const done of committed) done();
    return result;
  }

  /**
   * One rider's writes, in a savepoint of their own: should they fail, they are undone and the
   * commit goes on without them (a transaction SQLite ended itself fails the write, as it would).
   */
  #ride(rider: Rider, committed: (() => void)[]): void {
    this.db.prepare("SAVEPOINT ride").run();
    try {
      committed.push(rider.ride());
    } catch (error) {
      this.db.prepare("ROLLBACK TO ride").run();
      this.#logger.debug("storage.ride_failed", { file: this.name, error: describeError(error) });
    }
    this.db.prepare("RELEASE ride").run();
  }

  #write<T>(fn: () => T, options?: { readonly lazy?: boolean }): T {
    let result: T;
    const outer = !this.#writing;
    this.#writing = true;
    try {
      result = this.db.transaction(fn, options);
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
          file: this.name,
          error: message,
          note: "answers and readings wait until a write succeeds again",
        });
      }
      throw error;
    } finally {
      if (outer) this.#writing = false;
    }
    if (outer) this.#checkpoints?.wrote();
    if (this.#health.failing) {
      this.#logger.info("storage.recovered", {
        file: this.name,
        failed_writes: this.#health.failures,
        after_ms: this.#now() - (this.#health.since ?? this.#now()),
      });
      this.#health = { ...this.#health, failing: false, error: undefined, since: undefined };
    }
    return result;
  }

  /** Closes the database. */
  close(): void {
    this.#checkpoints?.close();
    this.db.close();
  }
}
