/** Log levels, most verbose first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];
/** `text` for people at a terminal, `json` for journald and log shippers. */
export type LogFormat = "text" | "json";
/** Values a log field may hold; a `Secret` prints as "[redacted]". */
export type LogValue = string | number | boolean | null | undefined | { toJSON(): string };
/** The named fields of one event. */
export type LogFields = Readonly<Record<string, LogValue>>;

/** Where formatted lines go. */
export type LogSink = (line: string, level: LogLevel) => void;

/** A structured logger: one line per event, with a level, a source, an event name and fields. */
export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger that stamps its lines with another source name. */
  child(source: string): Logger;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  source?: string;
  sink?: LogSink;
  now?: () => number;
}

const defaultSink: LogSink = (line) => console.log(line);

/** How many characters of lines wait before a batched sink writes them without waiting for the turn to end. */
const BATCH_CHARS = 64 * 1024;

/** A sink that can be told to write what it holds now. */
export interface FlushingSink {
  readonly sink: LogSink;
  flush(): void;
}

/**
 * A sink that writes the lines of one turn of the event loop together: a burst of events (a
 * backlog's acks, a poll's readings) costs one write to stdout, not one per line, and a line
 * waits at most until the turn ends. `flush` writes what waits, for the moment before an exit;
 * `write` is where the text goes (console.log by default).
 */
export function batchedSink(write: (text: string) => void = (text) => console.log(text)): FlushingSink {
  let lines: string[] = [];
  let chars = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (lines.length === 0) return;
    const text = lines.join("\n");
    lines = [];
    chars = 0;
    write(text);
  };
  return {
    flush,
    sink: (line) => {
      lines.push(line);
      chars += line.length + 1;
      if (chars >= BATCH_CHARS) flush();
      else timer ??= setTimeout(flush, 0);
    },
  };
}

/**
 * The longest a field's text may be in a line. Fields carry what the network sent (ids, values,
 * topics, error bodies); a megabyte id must not become a megabyte log line.
 */
export const MAX_FIELD_CHARS = 300;

/** `text` cut to `max` characters, saying how much was left out. */
export function truncate(text: string, max = MAX_FIELD_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}…(+${text.length - max} chars)`;
}

function bounded(fields: LogFields): Record<string, LogValue> {
  const out: Record<string, LogValue> = {};
  for (const [key, value] of Object.entries(fields)) out[key] = typeof value === "string" ? truncate(value) : value;
  return out;
}

function render(value: LogValue): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "object") return value.toJSON();
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return String(value);
}

/** Builds a logger. Fields are printed as given: secrets must arrive wrapped in `Secret`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const minimum = LOG_LEVELS.indexOf(options.level ?? "info");
  const format = options.format ?? "text";
  const source = options.source ?? "realer-edge";
  const sink = options.sink ?? defaultSink;
  const now = options.now ?? Date.now;

  const write = (level: LogLevel, event: string, given: LogFields = {}) => {
    if (LOG_LEVELS.indexOf(level) < minimum) return;
    const fields = bounded(given);
    const time = new Date(now()).toISOString();
    if (format === "json") {
      sink(JSON.stringify({ time, level, source, event, ...fields }), level);
      return;
    }
    const parts = Object.entries(fields)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${render(value)}`);
    const line = `${time.slice(11, 23)} ${level.padEnd(5)} [${source}] ${event}`;
    sink(parts.length > 0 ? `${line} ${parts.join(" ")}` : line, level);
  };

  return {
    debug: (event, fields) => write("debug", event, fields),
    info: (event, fields) => write("info", event, fields),
    warn: (event, fields) => write("warn", event, fields),
    error: (event, fields) => write("error", event, fields),
    child: (name) => createLogger({ ...options, source: name }),
  };
}

/** A logger that drops everything, for code whose caller does not care. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
