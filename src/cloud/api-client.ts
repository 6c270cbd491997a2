import * as v from "valibot";
import { HttpError, RealerError } from "../errors.ts";
import { issuePath } from "../issue-path.ts";
import { truncate } from "../log.ts";

/** One request to Realer's HTTPS API. */
export interface ApiRequest<S extends v.GenericSchema> {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly schema: S;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

function retryAfterSeconds(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, (date - Date.now()) / 1000) : undefined;
}

function errorReason(body: unknown): { code: number | undefined; reason: string } {
  if (typeof body !== "object" || body === null) return { code: undefined, reason: "no JSON body" };
  const record = body as Record<string, unknown>;
  const code = typeof record.code === "number" ? record.code : undefined;
  const reason = typeof record.error_description === "string"
    ? `${String(record.error)}: ${record.error_description}`
    : typeof record.error === "string"
    ? record.error
    : "no reason given";
  return { code, reason: truncate(reason, 200) };
}

/** The largest answer the device reads: a catalog of hundreds of routes fits many times over. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * The body's bytes, refusing one over `max` bytes without reading it all (a proxy's error page
 * is small; a 50 MB token is an attack or a fault, and the device's memory is not the place to
 * find out which): a `protocol` RealerError when it is too large, `network` when it breaks off.
 */
export async function readBoundedBytes(response: Response, max: number, label: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  const tooLarge = () => new RealerError("protocol", `Cannot use the answer of ${label}: it is over ${max} bytes`);
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof RealerError) throw error;
    throw new RealerError("network", `Cannot read the answer of ${label}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/** The body as text, within `max` bytes (see {@linkcode readBoundedBytes}). */
async function readBounded(response: Response, max: number, label: string): Promise<string> {
  return new TextDecoder().decode(await readBoundedBytes(response, max, label));
}

/** Talks JSON to Realer's HTTPS API: every answer validated, every failure one clear error. */
export class ApiClient {
  readonly #baseUrl: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #stop: AbortSignal | undefined;
  /** Told the `Date` header of every answer, with when the request left and the answer came (wall ms). */
  onServerDate: ((date: string | null, sentAt: number, receivedAt: number) => void) | undefined;

  /** `stop` ends every request in flight when it aborts (the runtime is stopping). */
  constructor(baseUrl: string, fetchImpl: typeof fetch, timeoutMs = 15_000, stop?: AbortSignal) {
    this.#baseUrl = baseUrl.replace(/\/+$/, "");
    this.#fetch = fetchImpl;
    this.#timeoutMs = timeoutMs;
    this.#stop = stop;
  }

  /** Sends the request and returns the answer validated by its schema. */
  async request<S extends v.GenericSchema>(request: ApiRequest<S>): Promise<v.InferOutput<S>> {
    const url = `${this.#baseUrl}${request.path}`;
    const label = `${request.method} ${url}`;
    let response: Response;
    const sentAt = Date.now();
    try {
      response = await this.#fetch(url, {
        method: request.method,
        headers: { accept: "application/json", ...request.headers },
        ...(request.body === undefined ? {} : { body: request.body }),
        signal: this.#stop ? AbortSignal.any([AbortSignal.timeout(this.#timeoutMs), this.#stop]) : AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new RealerError("network", `Cannot reach ${label}: ${reason}`, { cause: error });
    }
    this.onServerDate?.(response.headers.get("date"), sentAt, Date.now());
    const text = await readBounded(response, MAX_ANSWER_BYTES, label);
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const { code, reason } = errorReason(body);
      throw new HttpError({
        method: request.method,
        url,
        status: response.status,
        code,
        reason,
        retryAfter: retryAfterSeconds(response.headers.get("retry-after")),
      });
    }
    if (body === undefined) throw new RealerError("protocol", `Cannot use the answer of ${label}: it is not JSON`);
    if (typeof body === "object" && body !== null && typeof (body as { code?: unknown }).code === "number") {
      const code = (body as { code: number }).code;
      if (code >= 4000) {
        throw new HttpError({ method: request.method, url, status: response.status, code, reason: errorReason(body).reason });
      }
    }
    const result = v.safeParse(request.schema, body);
    if (!result.success) {
      const issue = result.issues[0];
      const path = issuePath(issue);
      throw new RealerError(
        "protocol",
        `Cannot use the answer of ${label}: ${path === "" ? "" : `${path}: `}${truncate(issue.message, 200)}`,
      );
    }
    return result.output;
  }
}
