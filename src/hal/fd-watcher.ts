// Waits for file descriptors (cdev line requests, sysfs value files) without blocking the event
// loop. Deno runs poll(2) on a worker thread through a non-blocking FFI call; Bun has no such
// call, so it asks poll(2) with a zero timeout on a short timer. One poll covers every fd.
import type { LibC } from "../platform/libc.ts";

const POLLFD_SIZE = 8;
/** How long one off-thread poll waits before the set of fds is read again (Deno). */
const ASYNC_WAIT_MS = 100;
/** How often the zero-timeout poll runs (Bun). */
const TICK_MS = 5;

interface Watch {
  readonly events: number;
  readonly onReady: (revents: number) => void;
}

/** Calls a function when a watched fd is ready; one per backend. */
export class FdWatcher {
  readonly #libc: LibC;
  readonly #watches = new Map<number, Watch>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #looping = false;

  constructor(libc: LibC) {
    this.#libc = libc;
  }

  /** Watches `fd` for `events` (POLLIN, POLLPRI…); returns a function that stops watching. */
  watch(fd: number, events: number, onReady: (revents: number) => void): () => void {
    const entry: Watch = { events, onReady };
    this.#watches.set(fd, entry);
    this.#start();
    return () => {
      if (this.#watches.get(fd) === entry) this.#watches.delete(fd);
      if (this.#watches.size === 0) this.#stopTimer();
    };
  }

  /** Stops watching everything. */
  close(): void {
    this.#watches.clear();
    this.#stopTimer();
  }

  #encode(): { fds: Uint8Array; order: number[] } {
    const order = [...this.#watches.keys()];
    const fds = new Uint8Array(order.length * POLLFD_SIZE);
    const data = new DataView(fds.buffer);
    order.forEach((fd, index) => {
      data.setInt32(index * POLLFD_SIZE, fd, true);
      data.setInt16(index * POLLFD_SIZE + 4, this.#watches.get(fd)!.events, true);
    });
    return { fds, order };
  }

  #dispatch(fds: Uint8Array, order: readonly number[]): void {
    const data = new DataView(fds.buffer);
    order.forEach((fd, index) => {
      const revents = data.getInt16(index * POLLFD_SIZE + 6, true);
      // The fd may have been released (and its number reused) while the poll ran.
      if (revents !== 0) this.#watches.get(fd)?.onReady(revents);
    });
  }

  #start(): void {
    if (this.#libc.pollAsync) {
      if (!this.#looping) void this.#loop(this.#libc.pollAsync);
      return;
    }
    this.#timer ??= setInterval(() => {
      if (this.#watches.size === 0) return;
      const { fds, order } = this.#encode();
      if (this.#libc.poll(fds, order.length, 0) > 0) this.#dispatch(fds, order);
    }, TICK_MS);
  }

  async #loop(pollAsync: NonNullable<LibC["pollAsync"]>): Promise<void> {
    this.#looping = true;
    try {
      while (this.#watches.size > 0) {
        const { fds, order } = this.#encode();
        const ready = await pollAsync(fds, order.length, ASYNC_WAIT_MS);
        if (ready > 0) this.#dispatch(fds, order);
      }
    } finally {
      this.#looping = false;
    }
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
