import { RealerError } from "../errors.ts";
import { bunGlobal } from "./globals.ts";
import { classifySqliteError, describeSqliteFailure, type SqliteFailure } from "./sqlite-error.ts";

/** A bindable SQL parameter. */
export type SqlValue = string | number | bigint | null | Uint8Array;

/** A prepared statement with the calls both runtimes share. */
export interface Statement {
  /** Runs the statement; returns how many rows it changed. */
  run(...params: SqlValue[]): number;
  get(...params: SqlValue[]): Record<string, unknown> | undefined;
  all(...params: SqlValue[]): Record<string, unknown>[];
}

/** A synchronous SQLite connection: `bun:sqlite` on Bun, `node:sqlite` on Deno. */
export interface Database {
  /** The file, for errors ("" in memory). */
  readonly path: string;
  exec(sql: string): void;
  /** The statement for `sql`, prepared once and kept for the connection's life. */
  prepare(sql: string): Statement;
  /**
   * Runs `fn` in one transaction. `lazy` commits without waiting for the disk: the commit is
   * ordered before every later one and made durable by the next synced commit (WAL), so a power
   * cut can lose it but never tear it. For bookkeeping whose loss only repeats work.
   */
  transaction<T>(fn: () => T, options?: { readonly lazy?: boolean }): T;
  /**
   * Runs `fn` now inside the transaction of this turn of the event loop: the first call of a
   * turn opens it, the turn's end commits it, and the promise settles once that commit has (it
   * rejects when `fn` throws, which undoes `fn`'s writes alone, or when the commit fails, which
   * undoes the turn's). Many small writes whose callers can wait a turn share one commit.
   */
  grouped<T>(fn: () => T): Promise<T>;
  close(): void;
}

/** A failed database call, with what kind of failure SQLite reported. */
export class StorageError extends RealerError {
  override name = "StorageError";
  readonly failure: SqliteFailure;

  constructor(failure: SqliteFailure, message: string, cause: unknown) {
    super("storage", message, { cause });
    this.failure = failure;
  }
}

interface NativeStatement {
  run(...params: SqlValue[]): unknown;
  get(...params: SqlValue[]): Record<string, unknown> | null | undefined;
  all(...params: SqlValue[]): Record<string, unknown>[];
}
interface NativeDatabase {
  exec(sql: string): void;
  prepare(sql: string): NativeStatement;
  close(): void;
}
type NativeConstructor = new (path: string) => NativeDatabase;

// Specifiers in variables keep each runtime's module out of the other's type check and bundle.
const BUN_SQLITE = "bun:sqlite";
const NODE_SQLITE = "node:sqlite";

/** How hard a commit waits for the disk. */
export type Durability =
  /** Survives a power cut: every commit is synced (the device's outbox and ledger). */
  | "power-cut"
  /** Survives the process being killed, not a power cut (the emulator, a test server). */
  | "process-crash";

/** `error` as a StorageError that names the file and the failure. */
function storageError(path: string, action: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const failure = classifySqliteError(error);
  return new StorageError(
    failure,
    `Cannot ${action} state file ${path === "" ? "(in memory)" : path}: ${describeSqliteFailure(failure, error)}`,
    error,
  );
}

/** Opens (creating if needed) the database at `path`, in WAL mode. Failures are StorageErrors. */
export async function openDatabase(path: string, durability: Durability = "power-cut"): Promise<Database> {
  const native: NativeConstructor = bunGlobal
    ? ((await import(BUN_SQLITE)) as { Database: NativeConstructor }).Database
    : ((await import(NODE_SQLITE)) as { DatabaseSync: NativeConstructor }).DatabaseSync;
  const label = path === ":memory:" ? "" : path;
  const guard = <T>(action: string, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw storageError(label, action, error);
    }
  };
  const db = guard("open", () => new native(path));
  try {
    // 1 KiB pages for a new file (an existing one keeps its size): a commit writes whole pages,
    // and the device's rows are small, so smaller pages mean fewer bytes before each fsync.
    // The busy timeout first: switching to WAL needs a lock, and a process that has just let go
    // of the file (a restarted service, a tool that read it) must be waited for, not refused.
    guard(
      "open",
      () =>
        db.exec(
          `PRAGMA busy_timeout = 5000; PRAGMA page_size = 1024; PRAGMA journal_mode = WAL; PRAGMA synchronous = ${
            durability === "power-cut" ? "FULL" : "NORMAL"
          };`,
        ),
    );
  } catch (error) {
    db.close();
    throw error;
  }
  const statements = new Map<string, Statement>();
  // Transaction control runs per event: prepared once rather than parsed each time.
  const controls = new Map<string, NativeStatement>();
  const control = (sql: string) => {
    let statement = controls.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      controls.set(sql, statement);
    }
    statement.run();
  };
  let depth = 0;
  /** The turn's open group: its commit timer and who waits for it. */
  let group:
    | { readonly timer: ReturnType<typeof setImmediate>; readonly waiting: { resolve(): void; reject(error: unknown): void }[] }
    | undefined;
  let inGroup = false;
  /**
   * Rolls back what is open. SQLite may already have rolled back (a full disk does): a failing
   * ROLLBACK must not hide the error that matters, which the caller reports.
   */
  const rollBack = () => {
    try {
      control("ROLLBACK");
    } catch {
      // Nothing open to roll back.
    }
  };
  /** Takes the turn's group off (its timer stopped, its transaction depth given back), if one is open. */
  const takeGroup = () => {
    const open = group;
    if (!open) return undefined;
    group = undefined;
    clearImmediate(open.timer);
    depth--;
    return open;
  };
  /** Ends the turn's group without its writes: every caller waiting for it is told `error`. */
  const abortGroup = (error: unknown) => {
    const open = takeGroup();
    if (!open) return;
    rollBack();
    for (const waiter of open.waiting) waiter.reject(error);
  };
  const commitGroup = () => {
    const open = takeGroup();
    if (!open) return;
    try {
      guard("write", () => control("COMMIT"));
    } catch (error) {
      rollBack();
      for (const waiter of open.waiting) waiter.reject(error);
      return;
    }
    for (const waiter of open.waiting) waiter.resolve();
  };
  return {
    path: label,
    exec: (sql) => guard("write", () => db.exec(sql)),
    prepare: (sql) => {
      const cached = statements.get(sql);
      if (cached) return cached;
      const statement = guard("read", () => db.prepare(sql));
      const wrapped: Statement = {
        run: (...params) =>
          guard("write", () => Number((statement.run(...params) as { changes?: number | bigint } | undefined)?.changes ?? 0)),
        get: (...params) => guard("read", () => statement.get(...params) ?? undefined),
        all: (...params) => guard("read", () => statement.all(...params)),
      };
      statements.set(sql, wrapped);
      return wrapped;
    },
    transaction: (fn, options) => {
      // A transaction of its own commits when it returns: the turn's group goes first.
      if (group && !inGroup) commitGroup();
      if (depth > 0) return fn();
      depth++;
      const lazy = options?.lazy === true && durability === "power-cut";
      try {
        if (lazy) control("PRAGMA synchronous = NORMAL");
        guard("write", () => control("BEGIN IMMEDIATE"));
        try {
          const result = fn();
          guard("write", () => control("COMMIT"));
          return result;
        } catch (error) {
          rollBack();
          throw error;
        }
      } finally {
        depth--;
        if (lazy) control("PRAGMA synchronous = FULL");
      }
    },
    grouped: <T>(fn: () => T): Promise<T> => {
      if (!group) {
        if (depth > 0) {
          // Inside a transaction already: part of it.
          try {
            return Promise.resolve(fn());
          } catch (error) {
            return Promise.reject(error);
          }
        }
        try {
          guard("write", () => control("BEGIN IMMEDIATE"));
        } catch (error) {
          return Promise.reject(error);
        }
        depth++;
        // Committed once this turn's callbacks have run: setImmediate, not setTimeout(0), which
        // waits at least a millisecond (Bun) or two (Deno) and made every grouped caller wait it.
        group = { timer: setImmediate(commitGroup), waiting: [] };
      }
      const open = group;
      let result: T;
      try {
        guard("write", () => control("SAVEPOINT grouped"));
      } catch (error) {
        abortGroup(error);
        return Promise.reject(error);
      }
      try {
        inGroup = true;
        result = fn();
      } catch (error) {
        try {
          db.exec("ROLLBACK TO grouped; RELEASE grouped");
        } catch {
          // SQLite ended the whole transaction (a full disk does): the turn's writes are gone.
          abortGroup(error);
        }
        return Promise.reject(error);
      } finally {
        inGroup = false;
      }
      try {
        guard("write", () => control("RELEASE grouped"));
      } catch (error) {
        abortGroup(error);
        return Promise.reject(error);
      }
      return new Promise<T>((resolve, reject) => open.waiting.push({ resolve: () => resolve(result), reject }));
    },
    close: () => {
      commitGroup();
      statements.clear();
      controls.clear();
      db.close();
    },
  };
}
