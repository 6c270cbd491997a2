// The slices of the Bun and Deno globals this project uses, typed here so that neither
// runtime's type package is needed to check the other's code path.

/** What `Bun.serve` takes and returns, as far as we use it. */
export interface BunServeOptions {
  hostname: string;
  port: number;
  tls?: { cert: string; key: string };
  fetch: (request: Request) => Response | Promise<Response>;
}

/** A process from `Bun.spawn`. */
export interface BunSubprocess {
  readonly pid: number;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly exited: Promise<number>;
  readonly signalCode: string | null;
  kill(signal?: string): void;
}

/** The slice of the `Bun` global we use. */
export interface BunGlobal {
  version: string;
  spawn(
    options: { cmd: string[]; env: Record<string, string | undefined>; stdin: "ignore"; stdout: "pipe"; stderr: "pipe" },
  ): BunSubprocess;
  serve(options: BunServeOptions): { port: number; stop(closeActive?: boolean): void | Promise<void> };
}

/** A process from `new Deno.Command(...).spawn()`. */
export interface DenoChildProcess {
  readonly pid: number;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly status: Promise<{ code: number; signal: string | null }>;
  kill(signal?: string): void;
}

/** The slice of the `Deno` global we use. */
export interface DenoGlobal {
  Command: new (
    command: string,
    options: { args: string[]; env: Record<string, string>; clearEnv: boolean; stdin: "null"; stdout: "piped"; stderr: "piped" },
  ) => { spawn(): DenoChildProcess };
  version: { deno: string };
  serve(
    options: { hostname: string; port: number; cert?: string; key?: string; onListen?: () => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
  createHttpClient(options: { caCerts?: string[] }): { close(): void };
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  removeSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
}

const scope = globalThis as { Bun?: BunGlobal; Deno?: DenoGlobal };

/** The Bun global when running on Bun. */
export const bunGlobal: BunGlobal | undefined = scope.Bun;
/** The Deno global when running on Deno. */
export const denoGlobal: DenoGlobal | undefined = scope.Deno;
