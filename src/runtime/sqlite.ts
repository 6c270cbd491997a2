import { bunGlobal } from "./globals.ts";

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
  exec(sql: string): void;
  prepare(sql: string): Statement;
  /** Runs `fn` in one transaction. */
  transaction<T>(fn: () => T): T;
  close(): void;
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

/** Opens (creating if needed) the database at `path`, in WAL mode. */
export async function openDatabase(path: string, durability: Durability = "power-cut"): Promise<Database> {
  const native: NativeConstructor = bunGlobal
    ? ((await import(BUN_SQLITE)) as { Database: NativeConstructor }).Database
    : ((await import(NODE_SQLITE)) as { DatabaseSync: NativeConstructor }).DatabaseSync;
  const db = new native(path);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${durability === "power-cut" ? "FULL" : "NORMAL"}; PRAGMA busy_timeout = 5000;`);
  let depth = 0;
  return {
    exec: (sql) => db.exec(sql),
    prepare: (sql) => {
      const statement = db.prepare(sql);
      return {
        run: (...params) => Number((statement.run(...params) as { changes?: number | bigint } | undefined)?.changes ?? 0),
        get: (...params) => statement.get(...params) ?? undefined,
        all: (...params) => statement.all(...params),
      };
    },
    transaction: (fn) => {
      if (depth > 0) return fn();
      depth++;
      db.exec("BEGIN IMMEDIATE");
      try {
        const result = fn();
        db.exec("COMMIT");
        return result;
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      } finally {
        depth--;
      }
    },
    close: () => db.close(),
  };
}
