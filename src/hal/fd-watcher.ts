// Waits for file descriptors (cdev line requests, sysfs value files) without blocking the event
// loop: poll(2) runs off the loop (Deno's non-blocking FFI, a worker thread under Bun) and sleeps
// until an fd is ready, so an idle board does not wake to ask. A pipe of its own wakes that poll
// when the set of fds changes. Where no off-loop poll is, a zero-timeout poll runs on a short timer.
import { type LibC, openPipe, POLLIN } from "../platform/libc.ts";

const POLLFD_SIZE = 8;
/** How long one off-loop poll waits at most: changes to the set wake it through the pipe before that. */
const ASYNC_WAIT_MS = 30_000;
/** The same without a wake pipe (pipe2 failed): a change to the set is seen within this. */
const ASYNC_WAIT_UNWOKEN_MS = 100;
/** How often the zero-timeout poll runs where no off-loop poll is. */
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
  /** The pipe that wakes a poll in flight: its read end is polled with the watched fds. */
  #wake: { readonly read: number; readonly write: number } | undefined;
  /** Set once the off-loop poll failed: the timer's polls from then on. */
  #offLoopFailed = false;

  constructor(libc: LibC) {
    this.#libc = libc;
  }

  /** Watches `fd` for `events` (POLLIN, POLLPRI…); returns a function that stops watching. */
  watch(fd: number, events: number, onReady: (revents: number) => void): () => void {
    const entry: Watch = { events, onReady };
    this.#watches.set(fd, entry);
    this.#start();
    this.#nudge();
    return () => {
      if (this.#watches.get(fd) === entry) this.#watches.delete(fd);
      if (this.#watches.size === 0) this.#stopTimer();
      this.#nudge();
    };
  }

  /** Stops watching everything. */
  close(): void {
    this.#watches.clear();
    this.#stopTimer();
    this.#nudge();
  }

  #encode(wake: number | undefined): { fds: Uint8Array; order: number[] } {
    const order = [...this.#watches.keys()];
    const first = wake === undefined ? 0 : 1;
    const fds = new Uint8Array((order.length + first) * POLLFD_SIZE);
    const data = new DataView(fds.buffer);
    if (wake !== undefined) {
      data.setInt32(0, wake, true);
      data.setInt16(4, POLLIN, true);
    }
    order.forEach((fd, index) => {
      data.setInt32((index + first) * POLLFD_SIZE, fd, true);
      data.setInt16((index + first) * POLLFD_SIZE + 4, this.#watches.get(fd)!.events, true);
    });
    return { fds, order };
  }

  #dispatch(fds: Uint8Array, order: readonly number[], first: number): void {
    const data = new DataView(fds.buffer);
    order.forEach((fd, index) => {
      const revents = data.getInt16((index + first) * POLLFD_SIZE + 6, true);
      // The fd may have been released (and its number reused) while the poll ran.
      if (revents !== 0) this.#watches.get(fd)?.onReady(revents);
    });
  }

  #start(): void {
    if (this.#libc.pollAsync && !this.#offLoopFailed) {
      if (!this.#looping) void this.#loop(this.#libc.pollAsync);
      return;
    }
    this.#timer ??= setInterval(() => {
      if (this.#watches.size === 0) return;
      const { fds, order } = this.#encode(undefined);
      if (this.#libc.poll(fds, order.length, 0) > 0) this.#dispatch(fds, order, 0);
    }, TICK_MS);
  }

  async #loop(pollAsync: NonNullable<LibC["pollAsync"]>): Promise<void> {
    this.#looping = true;
    const wake = this.#openWake();
    try {
      while (this.#watches.size > 0) {
        const { fds, order } = this.#encode(wake?.read);
        const first = wake === undefined ? 0 : 1;
        const ready = await pollAsync(fds, order.length + first, wake === undefined ? ASYNC_WAIT_UNWOKEN_MS : ASYNC_WAIT_MS);
        if (ready <= 0) continue;
        if (wake && new DataView(fds.buffer).getInt16(6, true) !== 0) this.#drain(wake.read);
        this.#dispatch(fds, order, first);
      }
    } catch {
      // The off-loop poll failed (its thread would not start): the timer's polls keep the lines served.
      this.#offLoopFailed = true;
    } finally {
      this.#looping = false;
      this.#closeWake();
      // Watched again as the last wait ended, or the timer's turn: served on.
      if (this.#watches.size > 0) this.#start();
    }
  }

  #openWake(): { readonly read: number; readonly write: number } | undefined {
    this.#wake = openPipe(this.#libc);
    return this.#wake;
  }

  #closeWake(): void {
    if (!this.#wake) return;
    this.#libc.close(this.#wake.read);
    this.#libc.close(this.#wake.write);
    this.#wake = undefined;
  }

  /** Wakes a poll in flight, so it takes the changed set (a full pipe is awake already). */
  #nudge(): void {
    if (this.#wake) this.#libc.write(this.#wake.write, new Uint8Array([1]));
  }

  #drain(fd: number): void {
    const buffer = new Uint8Array(64);
    while (this.#libc.read(fd, buffer) > 0) {
      // Emptied: each byte was one nudge.
    }
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
