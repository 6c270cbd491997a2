// The state file's schema, by version, and the steps that bring an older file forward. A file
// records its version in SQLite's user_version; 0.1.0 wrote none (0).
import type { Database } from "../platform/index.ts";
import { StorageError } from "../platform/index.ts";

/** The version this code writes and reads. */
export const SCHEMA_VERSION = 4;

/**
 * The oldest schema whose code can open what this release writes, recorded in the file
 * (`schema_meta`), so that a rollback to that release opens it. A release's steps only add
 * (tables, and columns with defaults) and keep this where it was; a destructive step (a drop, a
 * rename, a stricter column) raises it to SCHEMA_VERSION and waits for a later release. 3: the
 * first release that reads the record (0.2.0 and 0.1.0 refuse any newer file).
 */
export const OLDEST_READER = 3;

/** The file's record of the oldest reader that can open it: additive, so every schema-3 reader opens it. */
const SCHEMA_META = `
CREATE TABLE IF NOT EXISTS schema_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR REPLACE INTO schema_meta (key, value) VALUES ('oldest_reader', ${OLDEST_READER});
`;

/**
 * Version 2: the fewest pages a commit touches. No AUTOINCREMENT (its sqlite_sequence page was
 * written by every insert), one index per outbox lookup, and the keyed tables WITHOUT ROWID (the
 * key is the row: one B-tree, one page per write instead of two).
 */
const SCHEMA_V2 = `
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY,
  topic TEXT NOT NULL,
  message_id TEXT NOT NULL,
  priority INTEGER NOT NULL,
  payload TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX outbox_message ON outbox (message_id, topic);
CREATE INDEX outbox_order ON outbox (priority, seq);
CREATE TABLE desired_ledger (
  desired_id TEXT PRIMARY KEY,
  route TEXT NOT NULL,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  answered_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE route_sequence (route TEXT PRIMARY KEY, highest INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE line_state (route TEXT PRIMARY KEY, value INTEGER NOT NULL, changed_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE route_direction (route TEXT PRIMARY KEY, direction TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE write_probe (data BLOB);
`;

/**
 * Version 3: outbox messages observed while the wall clock could not be believed, with their
 * moment on the boot's monotonic clock; they wait until the time is known and are stamped then.
 */
const V2_TO_V3 = `
CREATE TABLE clock_held (
  message_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  mono_ms REAL NOT NULL,
  boot_id TEXT NOT NULL,
  PRIMARY KEY (message_id, topic)
) WITHOUT ROWID;
`;

/**
 * Version 4: a reading's insert and delete touch two B-trees, not three. The order index over
 * every row (priority, seq) gives way to one over the command reports alone: readings go in seq
 * order, which is the table's own. Only an index changes, so a schema-3 release still opens the
 * file (its queries sort what the index gave it: the outbox is small) and OLDEST_READER stays.
 */
const V3_TO_V4 = `
DROP INDEX IF EXISTS outbox_order;
CREATE INDEX IF NOT EXISTS outbox_reports ON outbox (seq) WHERE priority = 0;
`;

/** The tables of every version, to tell a realer-edge file from another program's. */
export const OUR_TABLES = ["outbox", "desired_ledger", "route_sequence", "line_state", "route_direction", "clock_held"];

/** Version 1 (0.1.0, user_version 0) to 2: the same rows in the leaner tables. */
const V1_TO_V2 = `
ALTER TABLE outbox RENAME TO outbox_v1;
ALTER TABLE desired_ledger RENAME TO desired_ledger_v1;
ALTER TABLE route_sequence RENAME TO route_sequence_v1;
ALTER TABLE line_state RENAME TO line_state_v1;
ALTER TABLE route_direction RENAME TO route_direction_v1;
DROP INDEX IF EXISTS outbox_order;
DROP INDEX IF EXISTS outbox_message;
DROP TABLE IF EXISTS write_probe;
${SCHEMA_V2}
INSERT INTO outbox (seq, topic, message_id, priority, payload, created_at) SELECT seq, topic, message_id, priority, payload, created_at FROM outbox_v1;
INSERT INTO desired_ledger SELECT desired_id, route, topic, payload, answered_at FROM desired_ledger_v1;
INSERT INTO route_sequence SELECT route, highest FROM route_sequence_v1;
INSERT INTO line_state SELECT route, value, changed_at FROM line_state_v1;
INSERT INTO route_direction SELECT route, direction FROM route_direction_v1;
DROP TABLE outbox_v1;
DROP TABLE desired_ledger_v1;
DROP TABLE route_sequence_v1;
DROP TABLE line_state_v1;
DROP TABLE route_direction_v1;
`;

/** What became of the file's schema: made, brought forward, as it was, or a newer release's file opened as it is. */
export type SchemaOutcome =
  | { readonly created: true }
  | { readonly migratedFrom: number }
  | { readonly current: true }
  | { readonly newer: number };

/** The oldest reader a file records, or undefined when it records none. */
function oldestReaderOf(db: Database): number | undefined {
  try {
    const row = db.prepare("SELECT value FROM schema_meta WHERE key = 'oldest_reader'").get();
    return row === undefined ? undefined : Number(row.value);
  } catch {
    return undefined;
  }
}

/**
 * Makes a new file's schema, or brings an older file forward in one transaction (all or
 * nothing: a power cut mid-way leaves the old file as it was). A file from a newer realer-edge
 * is opened as it is when it records this schema or an older one as its oldest reader (the
 * newer release only added to it: a rollback), and refused otherwise: this code cannot know what
 * its tables mean.
 */
export function prepareSchema(db: Database, tables: readonly string[]): SchemaOutcome {
  const version = Number(db.prepare("PRAGMA user_version").get()?.user_version ?? 0);
  if (version > SCHEMA_VERSION) {
    const oldest = oldestReaderOf(db);
    if (oldest !== undefined && oldest <= SCHEMA_VERSION) return { newer: version };
    throw new StorageError(
      "other",
      `Cannot use state file ${db.path}: it was written by a newer realer-edge (schema ${version}; this one knows up to ${SCHEMA_VERSION}${
        oldest === undefined ? "" : `, and the file needs schema ${oldest} or later to open it`
      }); install that version again, or move the file aside to start afresh`,
      undefined,
    );
  }
  if (!tables.some((name) => OUR_TABLES.includes(name))) {
    db.transaction(() => {
      db.exec(SCHEMA_V2);
      db.exec(V2_TO_V3);
      db.exec(V3_TO_V4);
      db.exec(SCHEMA_META);
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    });
    return { created: true };
  }
  if (version === SCHEMA_VERSION) {
    // A file this schema's earlier builds wrote records no oldest reader yet: one small additive write.
    if (oldestReaderOf(db) === undefined) db.transaction(() => db.exec(SCHEMA_META));
    return { current: true };
  }
  db.transaction(() => {
    if (version < 2) {
      // 0.1.0 may lack tables added later in its life (route_direction, write_probe): make them first.
      db.exec(`CREATE TABLE IF NOT EXISTS route_direction (route TEXT PRIMARY KEY, direction TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS line_state (route TEXT PRIMARY KEY, value INTEGER NOT NULL, changed_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS route_sequence (route TEXT PRIMARY KEY, highest INTEGER NOT NULL);`);
      db.exec(V1_TO_V2);
    }
    if (version < 3) db.exec(V2_TO_V3);
    db.exec(V3_TO_V4);
    db.exec(SCHEMA_META);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  });
  return { migratedFrom: version };
}
