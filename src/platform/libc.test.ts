// The FFI seam, exercised for real on this machine's libc under whichever runtime runs the tests.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadLibc, O_CLOEXEC, O_RDONLY, openPipe } from "./libc.ts";

const ENOENT = 2;
const ENOTTY = 25;
const POLLIN = 1;

describe("loadLibc()", () => {
  it("opens, reads, preads and closes a file through libc", async () => {
    const libc = await loadLibc();
    const fd = libc.open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    assert.ok(fd >= 0, `open gave ${fd}`);
    try {
      const buffer = new Uint8Array(64);
      const count = libc.read(fd, buffer);
      assert.ok(count > 0);
      const text = new TextDecoder().decode(buffer.subarray(0, count));
      assert.equal(Number(text.split(" ")[0]), process.pid, "the first field of /proc/self/stat is our pid");
      const again = new Uint8Array(8);
      assert.equal(new TextDecoder().decode(again.subarray(0, libc.pread(fd, again, 0))), text.slice(0, 8));
    } finally {
      assert.equal(libc.close(fd), 0);
    }
  });

  it("reports errno: ENOENT for a missing file, ENOTTY for an ioctl on a regular file", async () => {
    const libc = await loadLibc();
    assert.equal(libc.open("/nonexistent/realer-edge", O_RDONLY), -1);
    assert.equal(libc.errno(), ENOENT);
    const fd = libc.open("/proc/self/stat", O_RDONLY);
    try {
      assert.equal(libc.ioctl(fd, 0xc100b405, new Uint8Array(256)), -1);
      assert.equal(libc.errno(), ENOTTY);
    } finally {
      libc.close(fd);
    }
  });

  it("polls a readable descriptor, off the event loop where the runtime can", async () => {
    const libc = await loadLibc();
    const fd = libc.open("/proc/self/stat", O_RDONLY);
    try {
      const fds = new Uint8Array(8); // struct pollfd { int fd; short events; short revents; }
      const view = new DataView(fds.buffer);
      view.setInt32(0, fd, true);
      view.setInt16(4, POLLIN, true);
      assert.equal(libc.poll(fds, 1, 0), 1);
      assert.equal(view.getInt16(6, true) & POLLIN, POLLIN);
      if (libc.pollAsync) assert.equal(await libc.pollAsync(fds, 1, 0), 1);
    } finally {
      libc.close(fd);
    }
  });

  it("waits in poll off the event loop: timers run meanwhile, and a write from them ends the wait", async () => {
    const libc = await loadLibc();
    assert.ok(libc.pollAsync, "both runtimes poll off the loop");
    const ends = openPipe(libc);
    assert.ok(ends, "pipe2 failed");
    const { read: readEnd, write: writeEnd } = ends;
    try {
      const fds = new Uint8Array(8);
      const view = new DataView(fds.buffer);
      view.setInt32(0, readEnd, true);
      view.setInt16(4, POLLIN, true);
      const order: string[] = [];
      const waited = libc.pollAsync(fds, 1, 20_000).then((ready) => (order.push("poll ended"), ready));
      // A 20 s wait that blocked the loop would run this timer only after it, and end with 0.
      setTimeout(() => {
        order.push("timer ran");
        libc.write(writeEnd, new Uint8Array([7]));
      }, 20);
      assert.equal(await waited, 1, "woken by the write, not by the timeout");
      assert.deepEqual(order, ["timer ran", "poll ended"]);
      assert.equal(view.getInt16(6, true) & POLLIN, POLLIN, "the revents came back");
      assert.equal(await libc.pollAsync(fds, 1, 0), 1, "and the thread takes the next wait");
    } finally {
      libc.close(readEnd);
      libc.close(writeEnd);
    }
  });
});
