import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ShutdownLatch } from "../platform/signals.ts";
import { runCommand } from "./run.ts";

describe("runCommand()", () => {
  it("honours a stop signal that came while it was still loading: a clean return, nothing started", async () => {
    const dir = mkdtempSync(join(tmpdir(), "realer-run-"));
    const config = join(dir, "device.json");
    writeFileSync(
      config,
      JSON.stringify({
        api_url: "https://127.0.0.1:9",
        device_id: 1,
        client_id: "cdv_x",
        client_secret: { env: "REALER_TEST_SECRET" },
        state_dir: join(dir, "state"),
        gpio: { backend: "mock" },
        routes: [],
      }),
    );
    let fire: (signal: "SIGINT" | "SIGTERM") => void = () => {};
    const shutdown = new ShutdownLatch((handler) => {
      fire = handler;
      return () => {};
    });
    fire("SIGTERM");
    const started = performance.now();
    await runCommand({ configPath: config, env: { REALER_TEST_SECRET: "s" }, shutdown });
    assert.ok(performance.now() - started < 2000, "it did not wait out a start against an unreachable API");
  });
});
