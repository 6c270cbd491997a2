// The thread that waits in poll(2) for Bun, whose FFI has no call that runs off the event loop
// (Deno's has: see libc.ts). The main thread hands it a pollfd array and goes on; it answers with
// the count poll(2) returned and the array with its revents, once an fd is ready or the wait ends.
// Started only by poll-thread.ts, under Bun (scripts/build.ts builds it into the binary).
import { dlopen, read } from "bun:ffi";
import type { PollAnswer, PollRequest } from "./poll-thread.ts";

interface WorkerScope {
  onmessage: ((event: MessageEvent<PollRequest>) => void) | null;
  postMessage(message: PollAnswer, transfer: ArrayBuffer[]): void;
}

const scope = globalThis as unknown as WorkerScope;
let libc: { poll(fds: Uint8Array, count: number, timeoutMs: number): number; errno(): number } | undefined;

scope.onmessage = (event) => {
  const { path, fds, count, timeoutMs } = event.data;
  libc ??= bind(path);
  const ready = libc.poll(fds, count, timeoutMs);
  scope.postMessage({ ready, errno: ready < 0 ? libc.errno() : 0, fds }, [fds.buffer as ArrayBuffer]);
};

function bind(path: string) {
  const { symbols } = dlopen(path, {
    poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
    __errno_location: { args: [], returns: "ptr" },
  });
  return {
    poll: (fds: Uint8Array, count: number, timeoutMs: number) => Number(symbols.poll(fds, count, timeoutMs)),
    errno: () => {
      const location = symbols.__errno_location();
      return location === null ? 0 : read.i32(location, 0);
    },
  };
}
