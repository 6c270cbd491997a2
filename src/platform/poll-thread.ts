// poll(2) off the event loop for Bun: one worker thread (poll-worker.ts) waits in it, so a board
// watching GPIO lines sleeps until an edge comes instead of waking every few milliseconds to ask.
// One wait at a time, as FdWatcher asks; the worker starts with the first and never holds the
// process open.

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

/**
 * The worker's URL: beside this file in the source; in a compiled binary every module's
 * import.meta.url is the binary's own (in Bun's embedded file system, rooted at src/), so the
 * worker is found by its path from there.
 */
function workerUrl(): URL {
  const here = import.meta.url;
  return here.startsWith("file:///$bunfs/") ? new URL("./platform/poll-worker.ts", here) : new URL("./poll-worker.ts", here);
}

/** A pollAsync for libc at `path`, its waits made on a worker thread. */
export function pollThread(path: string): (fds: Uint8Array, count: number, timeoutMs: number) => Promise<number> {
  let worker: Worker | undefined;
  let waiting: { readonly fds: Uint8Array; resolve(ready: number): void; reject(error: unknown): void } | undefined;
  const start = () => {
    const started = new Worker(workerUrl().href);
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
