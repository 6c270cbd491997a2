import { bunGlobal, denoGlobal } from "./globals.ts";

export { openDatabase, StorageError } from "./sqlite.ts";
export { type ChildProcessHandle, inheritedEnv, spawnProcess } from "./process.ts";
export { type LibC, loadLibc } from "./libc.ts";
export { type SystemTimeSources, systemTimeSources } from "./time-sources.ts";
export { onShutdownSignal, ShutdownLatch } from "./signals.ts";
export type { Database, Statement } from "./sqlite.ts";

/** The JavaScript runtime this process runs on. */
export type RuntimeName = "bun" | "deno";

/** Which runtime we run on, decided once. */
export const runtimeName: RuntimeName = bunGlobal ? "bun" : denoGlobal ? "deno" : unsupported();

function unsupported(): never {
  throw new Error("Cannot start realer-edge: it runs on Bun or Deno, not on this runtime.");
}

/** The runtime's name and version, for `--version` and logs. */
export function runtimeVersion(): string {
  return bunGlobal ? `bun ${bunGlobal.version}` : `deno ${denoGlobal?.version.deno}`;
}

/** Options for {@linkcode serve}. */
export interface ServeOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  tls?: { cert: string; key: string };
  fetch: (request: Request) => Response | Promise<Response>;
}

/** A listening server. */
export interface Server {
  readonly port: number;
  stop(): Promise<void>;
}

/** Serves `fetch` over HTTP or HTTPS with the runtime's native server. */
export function serve(options: ServeOptions): Server {
  if (bunGlobal) {
    const server = bunGlobal.serve({
      hostname: options.hostname,
      port: options.port,
      fetch: options.fetch,
      ...(options.tls ? { tls: options.tls } : {}),
    });
    return { port: server.port, stop: async () => void (await server.stop(true)) };
  }
  const server = denoGlobal!.serve(
    { hostname: options.hostname, port: options.port, onListen: () => {}, ...options.tls },
    options.fetch,
  );
  return { port: server.addr.port, stop: () => server.shutdown() };
}

/** A `fetch` that verifies servers against `ca` (PEM) instead of the default roots when given. */
export function createFetch(ca?: string): typeof fetch {
  if (ca === undefined) return fetch;
  if (bunGlobal) {
    return ((input: string | URL | Request, init?: RequestInit) => fetch(input, { ...init, tls: { ca } } as RequestInit)) as typeof fetch;
  }
  const client = denoGlobal!.createHttpClient({ caCerts: [ca] });
  return ((input: string | URL | Request, init?: RequestInit) => fetch(input, { ...init, client } as RequestInit)) as typeof fetch;
}
