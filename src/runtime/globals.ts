// The slices of the Bun and Deno globals this project uses, typed here so that neither
// runtime's type package is needed to check the other's code path.

/** What `Bun.serve` takes and returns, as far as we use it. */
export interface BunServeOptions {
  hostname: string;
  port: number;
  tls?: { cert: string; key: string };
  fetch: (request: Request) => Response | Promise<Response>;
}

/** The slice of the `Bun` global we use. */
export interface BunGlobal {
  version: string;
  serve(options: BunServeOptions): { port: number; stop(closeActive?: boolean): void | Promise<void> };
}

/** The slice of the `Deno` global we use. */
export interface DenoGlobal {
  version: { deno: string };
  serve(
    options: { hostname: string; port: number; cert?: string; key?: string; onListen?: () => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
  createHttpClient(options: { caCerts?: string[] }): { close(): void };
}

const scope = globalThis as { Bun?: BunGlobal; Deno?: DenoGlobal };

/** The Bun global when running on Bun. */
export const bunGlobal: BunGlobal | undefined = scope.Bun;
/** The Deno global when running on Deno. */
export const denoGlobal: DenoGlobal | undefined = scope.Deno;
