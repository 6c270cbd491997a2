// SQLite's failures in one shape for both runtimes: bun:sqlite throws SQLiteError with `errno`
// (the extended result code) and a `code` name; node:sqlite throws an Error with `errcode` and
// sometimes none at all (a file that is not a database, at open).

/** The SQLite failures a device must tell apart. */
export type SqliteFailure = "full" | "corrupt" | "io" | "readonly" | "cantopen" | "busy" | "other";

const PRIMARY: Readonly<Record<number, SqliteFailure>> = {
  5: "busy",
  8: "readonly",
  10: "io",
  11: "corrupt",
  13: "full",
  14: "cantopen",
  26: "corrupt",
};

const BY_MESSAGE: readonly [RegExp, SqliteFailure][] = [
  [/disk is full/i, "full"],
  [/malformed|not a database/i, "corrupt"],
  [/disk I\/O error/i, "io"],
  [/readonly database/i, "readonly"],
  [/unable to open/i, "cantopen"],
  [/database is locked/i, "busy"],
];

/** What kind of SQLite failure `error` is, from its result code or, failing that, its message. */
export function classifySqliteError(error: unknown): SqliteFailure {
  const record = (typeof error === "object" && error !== null ? error : {}) as { errno?: unknown; errcode?: unknown; message?: unknown };
  const code = typeof record.errcode === "number" ? record.errcode : typeof record.errno === "number" ? record.errno : undefined;
  if (code !== undefined) {
    const known = PRIMARY[code & 0xff];
    if (known) return known;
  }
  const message = typeof record.message === "string" ? record.message : "";
  return BY_MESSAGE.find(([pattern]) => pattern.test(message))?.[1] ?? "other";
}

/** A short phrase for a failure, for one-line errors. */
export function describeSqliteFailure(failure: SqliteFailure, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  switch (failure) {
    case "full":
      return "the disk (or the database's page limit) is full";
    case "corrupt":
      return `the file is damaged or not a realer-edge state file (${message})`;
    case "io":
      return `the disk failed a read or write (${message})`;
    case "readonly":
      return "the file or its folder is read-only";
    case "cantopen":
      return "the file cannot be opened (missing folder or no permission)";
    case "busy":
      return "another process holds the database";
    default:
      return message;
  }
}
