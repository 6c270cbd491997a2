// The watcher on this machine's libc, with pipes standing in for line fds (poll(2) treats them alike).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type LibC, loadLibc, openPipe, POLLIN } from "../platform/libc.ts";
import { FdWatcher } from "./fd-watcher.ts";

function pipe(libc: LibC): { read: number; write: number; close(): void } {
  const ends = openPipe(libc);
  assert.ok(ends, "pipe2 failed");
  return { ...ends, close: () => (libc.close(ends.read), libc.close(ends.write)) };
}

/** Resolves on the next call of the returned callback, which reads what made the fd ready. */
function readyOnce(libc: LibC, fd: number) {
  let resolve: (revents: number) => void = () => {};
  const next = () => new Promise<number>((done) => (resolve = done));
  const onReady = (revents: number) => {
    libc.read(fd, new Uint8Array(16));
    resolve(revents);
  };
  return { next, onReady };
}

describe("FdWatcher", () => {
  it("calls back when a watched fd is ready, and for an fd watched while a wait is in flight", async () => {
    const libc = await loadLibc();
    const watcher = new FdWatcher(libc);
    const [a, b] = [pipe(libc), pipe(libc)];
    try {
      const onA = readyOnce(libc, a.read);
      const first = onA.next();
      watcher.watch(a.read, POLLIN, onA.onReady);
      libc.write(a.write, new Uint8Array([1]));
      assert.equal((await first) & POLLIN, POLLIN);
      // The poll now waits (up to 30 s) on a alone: watching b must wake it to take b in.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const onB = readyOnce(libc, b.read);
      const second = onB.next();
      watcher.watch(b.read, POLLIN, onB.onReady);
      libc.write(b.write, new Uint8Array([1]));
      assert.equal((await second) & POLLIN, POLLIN, "seen at once, not after the long wait");
      const again = onA.next();
      libc.write(a.write, new Uint8Array([2]));
      assert.equal((await again) & POLLIN, POLLIN, "and a is still watched");
    } finally {
      watcher.close();
      a.close();
      b.close();
    }
  });

  it("stops calling back once an fd is no longer watched", async () => {
    const libc = await loadLibc();
    const watcher = new FdWatcher(libc);
    const [a, b] = [pipe(libc), pipe(libc)];
    try {
      let callsForA = 0;
      const stopA = watcher.watch(a.read, POLLIN, () => callsForA++);
      const onB = readyOnce(libc, b.read);
      watcher.watch(b.read, POLLIN, onB.onReady);
      stopA();
      libc.write(a.write, new Uint8Array([1]));
      const seen = onB.next();
      libc.write(b.write, new Uint8Array([1]));
      await seen;
      assert.equal(callsForA, 0, "a readable fd no longer watched is left alone");
    } finally {
      watcher.close();
      a.close();
      b.close();
    }
  });

  it("keeps serving on the timer when the off-loop poll fails", async () => {
    const real = await loadLibc();
    const libc: LibC = { ...real, pollAsync: () => Promise.reject(new Error("the poll thread failed")) };
    const watcher = new FdWatcher(libc);
    const a = pipe(real);
    try {
      const onA = readyOnce(real, a.read);
      const seen = onA.next();
      watcher.watch(a.read, POLLIN, onA.onReady);
      real.write(a.write, new Uint8Array([1]));
      assert.equal((await seen) & POLLIN, POLLIN);
    } finally {
      watcher.close();
      a.close();
    }
  });
});
