// The durable path's cost in fsyncs, counted by strace on the device process alone (the
// emulator and its broker run outside it): one per desired state (its answer, before the report
// leaves and before the PUBACK), one per input edge, none of its own per ack.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { findFreePort } from "../../src/emulator/free-port.ts";
import { startCli } from "../helpers/cli.ts";
import { DEMO_ROUTES, deviceConfig, startEmulator, SWITCH_LINE, tempDir, waitFor } from "../helpers/harness.ts";

const straceMissing = spawnSync("strace", ["-V"]).status === 0 ? false : "strace is missing (scripts/setup.sh installs it)";
if (straceMissing) console.error(`SKIPPING the fsync count: ${straceMissing}`);

const EVENTS = 40;

describe("fsyncs per event (strace on the device process)", () => {
  let emulator: Emulator;
  let stop: () => Promise<void>;
  let dir: { path: string; remove: () => void };

  before(async () => {
    ({ emulator, stop } = await startEmulator({ max_publish_per_second: 1000 }));
    dir = tempDir("fsync");
  });

  after(async () => {
    await stop?.();
    dir?.remove();
  });

  it("syncs once per desired state and once per input edge, and acks ride along", { skip: straceMissing, timeout: 120_000 }, async () => {
    const device = emulator.provision(DEMO_ROUTES);
    const relay = device.routes.find((route) => route.source_type === "command")!.source_id;
    const port = await findFreePort();
    const configPath = join(dir.path, "device.json");
    writeFileSync(
      configPath,
      JSON.stringify({ ...deviceConfig(emulator, device, join(dir.path, "state")), gpio: { backend: "mock", control_port: port } }),
    );
    const trace = join(dir.path, "fsync.trace");
    const cli = startCli(["run", "--config", configPath], { REALER_CLIENT_SECRET: device.client_secret }, [
      "strace",
      "-f",
      "-qq",
      "-e",
      "trace=fsync,fdatasync",
      "-o",
      trace,
    ]);
    const syncs = () => readFileSync(trace, "utf8").split("\n").filter((line) => /\b(fsync|fdatasync)\(/.test(line)).length;
    const acked = (id: string) => emulator.state.acksOf(device.device_id).some((ack) => ack.desired_id === id && ack.status === "accepted");
    try {
      await waitFor("the device to connect", () => cli.output().stdout.includes("mqtt.connected"), 30_000);
      await waitFor("the first reading to be acked", () => emulator.state.acksOf(device.device_id).length > 0, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 500));

      const beforeDesired = syncs();
      for (let i = 0; i < EVENTS; i++) {
        const desired = await emulator.setDesired(device.device_id, relay, i % 2 === 0 ? "1.0" : "0.0");
        await waitFor(`the ack for ${desired.desiredId}`, () => acked(desired.desiredId), 10_000);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      const perDesired = (syncs() - beforeDesired) / EVENTS;

      const beforeEdges = syncs();
      const readings = () =>
        emulator.state.feedOf(device.device_id).filter((entry) => entry.sourceId !== relay && entry.status === "accepted").length;
      for (let i = 0; i < EVENTS; i++) {
        const seen = readings();
        const answer = await fetch(`http://127.0.0.1:${port}/lines/${SWITCH_LINE.chip}/${SWITCH_LINE.offset}`, {
          method: "PUT",
          body: JSON.stringify({ level: i % 2 === 0 ? 1 : 0 }),
        });
        assert.equal(answer.status, 200);
        await waitFor("the reading to be accepted", () => readings() > seen, 10_000);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      const perEdge = (syncs() - beforeEdges) / EVENTS;

      console.log(
        `fsyncs per event: desired state with its ack ${perDesired.toFixed(2)}, input edge with its ack ${
          perEdge.toFixed(2)
        } (${EVENTS} of each)`,
      );
      // One commit each; a WAL checkpoint now and then adds a little.
      assert.ok(perDesired >= 1 && perDesired <= 1.25, `${perDesired} fsyncs per desired state`);
      assert.ok(perEdge >= 1 && perEdge <= 1.25, `${perEdge} fsyncs per input edge`);
      // The signal goes to the device, strace's child; strace then exits with its exit code.
      const child = spawnSync("pgrep", ["-P", String(cli.pid)], { encoding: "utf8" }).stdout.trim().split("\n")[0];
      assert.ok(child, "the device runs under strace");
      process.kill(Number(child), "SIGTERM");
      assert.equal(await cli.exited, 0);
    } finally {
      // strace's child is the device: a failed run must not leave it running.
      for (const pid of spawnSync("pgrep", ["-P", String(cli.pid)], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      cli.kill("SIGKILL");
    }
  });
});
