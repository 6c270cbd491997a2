// The runtime's health report against the real emulator and mosquitto, judged by the rules a
// release on trial must meet: healthy once connected with a message acked and every desired
// state answered; without the broker, a failure when the release before had the cloud and
// inconclusive when it had not.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { HealthReporter } from "../../src/commands/health-report.ts";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { type HealthReport, judgeTrial } from "../../src/update/trial-verdict.ts";
import { VERSION } from "../../src/version.ts";
import { startDevice, startEmulator, tempDir, waitFor } from "../helpers/harness.ts";

describe("the runtime's health report (emulator + mosquitto + mock GPIO)", () => {
  let emulator: Emulator;
  let stopEmulator: () => Promise<void>;
  before(async () => {
    ({ emulator, stop: stopEmulator } = await startEmulator());
  });
  after(async () => {
    await stopEmulator?.();
  });

  it("is healthy once connected, acked and every desired state answered, and tells an offline board from a bad release", {
    timeout: 60_000,
  }, async () => {
    const dir = tempDir("health");
    const path = join(dir.path, "health.json");
    const started = Date.now();
    let reporter: HealthReporter | undefined;
    const dev = await startDevice(emulator, {
      beforeStart: (runtime) => {
        reporter = new HealthReporter(runtime, path);
        reporter.start();
      },
    });
    const read = () => JSON.parse(readFileSync(path, "utf8")) as HealthReport;
    // No settling time: its rule has a test of its own (trial-verdict.test.ts).
    const trial = { version: VERSION, startedAt: started, windowMs: 60_000, committedWasConnected: true, settleMs: 0 };
    const running = { active: true, restarts: 0, watchdogKilled: false };
    try {
      await waitFor("online", () => dev.seen.online.length > 0);
      reporter!.write();
      assert.equal(judgeTrial(trial, running, read(), Date.now()).kind, "pending", "not ready yet, nothing acked");
      reporter!.ready();
      const relay = dev.device.routes.find((route) => route.source_type === "command")!.source_id;
      await emulator.setDesired(dev.device.device_id, relay, "1.0");
      await waitFor("the answer acked", () => dev.seen.settled.length > 0 && dev.seen.desired.length > 0);
      await waitFor("the report written", () => read().acked > 0 && read().desired_answered > 0);
      const report = read();
      assert.deepEqual(
        [report.version, report.pid, report.ready, report.state_opened, report.outputs_claimed, report.connected, report.subscribed],
        [VERSION, process.pid, true, true, true, true, true],
      );
      assert.equal(report.desired_received, report.desired_answered);
      assert.deepEqual(judgeTrial(trial, running, report, Date.now()), { kind: "healthy" });

      await emulator.controlBroker("stop");
      await waitFor("offline", () => dev.seen.offline.length > 0);
      await waitFor("the report says so", () => read().connected === false);
      const late = started + trial.windowMs;
      assert.equal(judgeTrial(trial, running, read(), late).kind, "unhealthy", "the release before had the cloud");
      assert.equal(judgeTrial({ ...trial, committedWasConnected: false }, running, read(), late).kind, "inconclusive");
      await emulator.controlBroker("start");
    } finally {
      reporter?.stop();
      await dev.stop();
      dir.remove();
    }
  });
});
