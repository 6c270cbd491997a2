// Opening the device's state file: the folder made private, the file checked whole and ours,
// its schema made or brought forward. A damaged or foreign file is renamed aside (never deleted)
// and a fresh one starts, loudly.
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../clock.ts";
import { type Logger, silentLogger } from "../log.ts";
import { type Database, openDatabase, StorageError } from "../platform/index.ts";
import { OUR_TABLES, prepareSchema, SCHEMA_VERSION } from "./schema.ts";

/** Marks a file as realer-edge's state ("REdg"), so another program's database is never taken for it. */
const APPLICATION_ID = 0x52456467;

/** The file name of the state database inside `state_dir`. */
export const STATE_FILE = "realer-edge.sqlite";

/** Options for opening the store. */
export interface StoreOptions {
  readonly logger?: Logger;
  /** Milliseconds since the epoch, for the name of a file set aside. */
  readonly now?: () => number;
  /** Timers for the WAL's quiet-moment checkpoints (see checkpoints.ts); without one, SQLite's own every 1,000 pages. */
  readonly clock?: Clock;
}

/**
 * Opens the state file in `stateDir` (or a database in memory for ":memory:") and hands it to
 * `make`. A damaged file, or one that is not realer-edge's, is renamed aside (never deleted) and
 * a fresh one starts, loudly: outputs then power on by their `off` fallback, since no last value
 * is known. A file that cannot be opened at all (permissions, a read-only disk) is an error that
 * names the file and the way out.
 */
export async function openStateFile<T>(
  stateDir: string,
  options: StoreOptions,
  make: (db: Database, setAside: string | undefined) => T,
): Promise<T> {
  const logger = options.logger ?? silentLogger;
  if (stateDir === ":memory:") return prepare(await openDatabase(":memory:"), options, undefined, make);
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new StorageError(
      "cantopen",
      `Cannot open state folder ${stateDir}: ${
        (error as { code?: string }).code ?? String(error)
      }; make it writable by the runtime's user (the systemd unit's StateDirectory does)`,
      error,
    );
  }
  const path = join(stateDir, STATE_FILE);
  try {
    return prepare(await openDatabase(path), options, undefined, make);
  } catch (error) {
    if (!(error instanceof StorageError)) throw error;
    if (error.failure === "cantopen" || error.failure === "readonly") {
      throw new StorageError(error.failure, `${error.message}; make the folder and file writable by the runtime's user`, error);
    }
    if (error.failure !== "corrupt") throw error;
    const aside = `${path}.corrupt-${new Date((options.now ?? Date.now)()).toISOString().replace(/[:.]/g, "-")}`;
    for (const suffix of ["", "-wal", "-shm"]) {
      if (existsSync(`${path}${suffix}`)) renameSync(`${path}${suffix}`, `${aside}${suffix}`);
    }
    logger.error("storage.set_aside", {
      file: path,
      kept_as: aside,
      error: error.message,
      note:
        "started on a fresh state: unacknowledged messages and remembered output values in the old file are not used; outputs with power_on restore start off",
    });
    return prepare(await openDatabase(path), options, aside, make);
  }
}

/**
 * Checks the file is whole and ours, makes the schema, then `make`s the store, closing the file
 * when any of it fails: a damaged file found by `make`'s first writes is set aside like one found
 * by the checks.
 */
function prepare<T>(
  db: Database,
  options: StoreOptions,
  setAside: string | undefined,
  make: (db: Database, setAside: string | undefined) => T,
): T {
  try {
    const check = db.prepare("PRAGMA quick_check(1)").get();
    const verdict = String(Object.values(check ?? {})[0] ?? "");
    if (verdict !== "ok") {
      throw new StorageError("corrupt", `Cannot use state file ${db.path}: the file is damaged (${verdict})`, undefined);
    }
    const id = Number(db.prepare("PRAGMA application_id").get()?.application_id ?? 0);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((row) => String(row.name));
    const foreign = (id !== 0 && id !== APPLICATION_ID) ||
      (id === 0 && tables.length > 0 && !tables.some((name) => OUR_TABLES.includes(name)));
    if (foreign) throw new StorageError("corrupt", `Cannot use state file ${db.path}: it is another program's database`, undefined);
    const outcome = prepareSchema(db, tables);
    if ("newer" in outcome) {
      (options.logger ?? silentLogger).warn("storage.newer_schema", {
        file: db.path || "(in memory)",
        schema: outcome.newer,
        reads_up_to: SCHEMA_VERSION,
        note: "a newer release's file that this one can still open (a rollback): its added tables are left alone",
      });
    }
    if ("migratedFrom" in outcome) {
      (options.logger ?? silentLogger).info("storage.migrated", {
        file: db.path || "(in memory)",
        from_schema: outcome.migratedFrom,
        to_schema: SCHEMA_VERSION,
      });
    }
    if (id === 0) db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
    return make(db, setAside);
  } catch (error) {
    // Closed before anything renames it: the file set aside is whole, its WAL folded in.
    db.close();
    throw error;
  }
}
