import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { unitConfig } from "../../test/helpers/unit-config.ts";
import { MockBackend } from "../hal/mock.ts";
import { silentLogger } from "../log.ts";
import { Secret } from "../secret.ts";
import { composeDevice } from "./compose.ts";
import { outboxDepth } from "../../test/helpers/state.ts";

const config = (stateDir: string) =>
  unitConfig({ state_dir: stateDir, routes: [{ pin_port: "6", line: { chip: "gpiochip0", offset: 6 } }] });

describe("composeDevice()", () => {
  it("opens the store where the config says and builds a runtime that has not started", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-compose-"));
    try {
      const device = await composeDevice({
        config: config(join(dir, "state")),
        clientSecret: new Secret("s"),
        ca: undefined,
        logger: silentLogger,
      });
      assert.ok(device.backend instanceof MockBackend, "the config's backend");
      assert.equal(device.runtime.transport, undefined, "not started");
      assert.equal(outboxDepth(device.store), 0);
      await device.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails naming the state folder when it cannot be made, and leaves a backend the caller made to the caller", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-compose-"));
    try {
      const blocker = join(dir, "a-file");
      writeFileSync(blocker, "not a folder");
      const backend = new MockBackend();
      let closed = 0;
      const close = backend.close.bind(backend);
      backend.close = () => (closed++, close());
      await assert.rejects(
        composeDevice({
          config: config(join(blocker, "state")),
          clientSecret: new Secret("s"),
          ca: undefined,
          logger: silentLogger,
          backend,
        }),
        /Cannot open state folder .*a-file\/state/,
      );
      assert.equal(closed, 0, "a backend the caller made is the caller's to close");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
