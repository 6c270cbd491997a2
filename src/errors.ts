/**
 * The kinds of domain failure the runtime distinguishes, by what handling they need: `config` is
 * a person's to fix before start (exit 2 at the command line); `not-found` names a chip, line or
 * file that is not there; `io` is a line
 * or file that failed while in use (retried, reported); `busy` and `released` are a line held
 * elsewhere or given back; `network`, `http`, `protocol` and `auth` are the cloud's (retried,
 * never fatal for a running device); `storage` is the state file or its disk.
 */
export type ErrorKind =
  | "config"
  | "busy"
  | "released"
  | "not-found"
  | "permission"
  | "io"
  | "storage"
  | "network"
  | "http"
  | "protocol"
  | "auth"
  | "unsupported";

/** Options for {@linkcode RealerError}. */
export interface RealerErrorOptions {
  cause?: unknown;
}

/**
 * The one domain error class. Its message is a single sentence that starts with the failed
 * action and names the thing, so a CLI can print it as one line without a stack trace.
 */
export class RealerError extends Error {
  override name = "RealerError";
  /** What went wrong, for code that branches on it. */
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string, options: RealerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
  }
}

/** An HTTP answer that was not a success, carrying the request and the body's `code`. */
export class HttpError extends RealerError {
  override name = "HttpError";
  readonly method: string;
  readonly url: string;
  readonly status: number;
  /** The JSON body's numeric `code`, or the HTTP status when the body has none. */
  readonly code: number;
  /** Seconds from a `Retry-After` header, when the server sent one. */
  readonly retryAfter: number | undefined;

  constructor(init: {
    method: string;
    url: string;
    status: number;
    code: number | undefined;
    reason: string;
    retryAfter?: number | undefined;
  }) {
    const code = init.code ?? init.status;
    super(
      init.status === 401 || init.code === 4001 ? "auth" : "http",
      `${init.method} ${init.url} failed with HTTP ${init.status} (code ${code}): ${init.reason}`,
    );
    this.method = init.method;
    this.url = init.url;
    this.status = init.status;
    this.code = code;
    this.retryAfter = init.retryAfter;
  }
}

/** One line for a person: the message of a known error, or a short description of anything else. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error && !(error instanceof RealerError) ? `: ${error.cause.message}` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}
