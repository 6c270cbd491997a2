// poll(2) off the event loop for Bun: one worker thread (poll-worker.ts) waits in it, so a board
// watching GPIO lines sleeps until an edge comes instead of waking every few milliseconds to ask.
// One wait at a time, as FdWatcher asks; the worker starts with the first and never holds the
// process open.
import { existsSync } from "node:fs";

/** What the worker is asked: the libc to bind (once) and one poll(2) on `fds` (a pollfd array). */
export interface PollRequest {
  readonly path: string;
  readonly fds: Uint8Array;
  readonly count: number;
  readonly timeoutMs: number;
}

/** The worker's answer: poll(2)'s return (-1 with `errno`) and the array with its revents. */
export interface PollAnswer {
  readonly ready: number;
  readonly errno: number;
  readonly fds: Uint8Array;
}

/** The worker entry's path from the root of a compiled binary's embedded files: the runtime's, a test binary's. */
const EMBEDDED = ["platform/poll-worker.js", "src/platform/poll-worker.js"];

/**
 * Where the worker is: beside this file in the source. In a compiled binary every module's
 * import.meta.url is the binary's own, in Bun's embedded file system, and the worker is there
 * (as .js) under the build's root when the build named it as an entrypoint (scripts/build.ts
 * does); undefined when it did not, and the caller polls on the event loop instead.
 */
function workerPath(): string | undefined {
  const here = import.meta.url;
  if (!here.startsWith("file:///$bunfs/")) return new URL("./poll-worker.ts", here).href;
  return EMBEDDED.map((path) => `/$bunfs/root/${path}`).find((path) => existsSync(path));
}

/** A pollAsync for libc at `path`, its waits made on a worker thread; undefined when the worker is not there. */
export function pollThread(path: string): ((fds: Uint8Array, count: number, timeoutMs: number) => Promise<number>) | undefined {
  const entry = workerPath();
  if (entry === undefined) return undefined;
  let worker: Worker | undefined;
  let waiting: { readonly fds: Uint8Array; resolve(ready: number): void; reject(error: unknown): void } | undefined;
  const start = () => {
    const started = new Worker(entry);
    (started as Worker & { unref?(): void }).unref?.();
    started.onmessage = (event: MessageEvent<PollAnswer>) => {
      const wait = waiting;
      waiting = undefined;
      if (!wait) return;
      wait.fds.set(event.data.fds);
      if (event.data.ready < 0) wait.reject(new Error(`poll failed (errno ${event.data.errno})`));
      else wait.resolve(event.data.ready);
    };
    started.onerror = (event) => {
      // A worker that fails is replaced at the next wait; this one's waiter hears why.
      worker = undefined;
      const wait = waiting;
      waiting = undefined;
      wait?.reject(new Error(`the poll thread failed: ${(event as ErrorEvent).message ?? "unknown error"}`));
    };
    return started;
  };
  return (fds, count, timeoutMs) => {
    if (waiting) return Promise.reject(new Error("a poll is already waiting"));
    worker ??= start();
    const copy = fds.slice();
    const answer = new Promise<number>((resolve, reject) => {
      waiting = { fds, resolve, reject };
    });
    worker.postMessage({ path, fds: copy, count, timeoutMs } satisfies PollRequest, [copy.buffer]);
    return answer;
  };
}
