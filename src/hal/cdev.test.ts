import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { RealerError } from "../errors.ts";
import { ERRNO, type LibC } from "../platform/libc.ts";
import { CdevBackend } from "./cdev.ts";

/** A libc whose every open fails with `errno`: the chips are there, this user may not open them. */
function closedLibc(errno: number): LibC {
  const fail = () => -1;
  return {
    open: fail,
    close: () => 0,
    ioctl: fail,
    read: fail,
    pread: fail,
    write: fail,
    fcntl: fail,
    poll: fail,
    pollAsync: undefined,
    pipe2: fail,
    socket: fail,
    bind: fail,
    sendto: fail,
    recv: fail,
    adjtimex: fail,
    errno: () => errno,
  };
}

describe("cdev backend, chips it may not open", () => {
  it("says permission denied and names the chips, instead of 'no such chip'", async () => {
    const dev = mkdtempSync(join(tmpdir(), "realer-cdev-"));
    try {
      for (const name of ["gpiochip0", "gpiochip1"]) writeFileSync(join(dev, name), "");
      const backend = new CdevBackend(closedLibc(ERRNO.EACCES), dev);
      const error = await backend.getLineInfo({ chip: "realer-sim", offset: 6 }).catch((caught: unknown) => caught);
      assert.ok(error instanceof RealerError, String(error));
      assert.equal(error.kind, "permission");
      assert.match(error.message, /gpiochip0, .*gpiochip1: permission denied/);
      assert.doesNotMatch(error.message, /\n/, "one line");
      await backend.close();
    } finally {
      rmSync(dev, { recursive: true, force: true });
    }
  });

  it("still says 'no such chip' when none is there", async () => {
    const dev = mkdtempSync(join(tmpdir(), "realer-cdev-"));
    try {
      const backend = new CdevBackend(closedLibc(ERRNO.ENOENT), dev);
      const error = await backend.getLineInfo({ chip: "realer-sim", offset: 6 }).catch((caught: unknown) => caught);
      assert.ok(error instanceof RealerError);
      assert.equal(error.kind, "not-found");
      assert.match(error.message, /no such chip in /);
      await backend.close();
    } finally {
      rmSync(dev, { recursive: true, force: true });
    }
  });
});
