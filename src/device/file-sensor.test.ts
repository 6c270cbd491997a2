import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { systemClock } from "../clock.ts";
import { ManualClock } from "../manual-clock.ts";
import { parseRoute } from "../config/schema.ts";
import { tempDir, testLogger } from "../../test/helpers/harness.ts";
import { FileSensor, parseSensorFile, shouldReport } from "./file-sensor.ts";

/** Lets a sample's file read (real I/O) finish. */
async function turns(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe("file sensors", () => {
  it("reads plain numbers and 1-Wire w1_slave files, refusing a failed CRC", () => {
    assert.deepEqual(parseSensorFile("1234\n"), { ok: true, raw: 1234 });
    assert.deepEqual(parseSensorFile("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"), {
      ok: true,
      raw: 23125,
    });
    assert.equal(parseSensorFile("72 01 : crc=57 NO\n72 01 t=85000\n").ok, false);
    assert.equal(parseSensorFile("banana").ok, false);
  });

  it("reports outside the deadband, and on the heartbeat inside it", () => {
    assert.equal(shouldReport(20.0, undefined, 0, 0.5, 60_000), true);
    assert.equal(shouldReport(20.3, { value: 20.0, at: 0 }, 1000, 0.5, 60_000), false);
    assert.equal(shouldReport(20.5, { value: 20.0, at: 0 }, 1000, 0.5, 60_000), true);
    assert.equal(shouldReport(20.0, { value: 20.0, at: 0 }, 60_000, 0.5, 60_000), true);
  });

  it("scales a file's number and reports it with the configured decimals", async () => {
    const dir = tempDir("file-sensor");
    const path = `${dir.path}/temperature`;
    writeFileSync(path, "23125\n");
    const reports: string[] = [];
    const sensor = new FileSensor({
      config: parseRoute({ pin_port: "5", file: { path, scale: 0.001, decimals: 1 }, deadband: 0.5 }),
      name: "t",
      clock: systemClock,
      logger: testLogger("file"),
      report: (value) => reports.push(value),
    });
    await sensor.sample();
    writeFileSync(path, "23400\n");
    await sensor.sample();
    writeFileSync(path, "23700\n");
    await sensor.sample();
    writeFileSync(path, "not yet\n");
    await sensor.sample();
    assert.deepEqual(reports, ["23.1", "23.7"]);
    dir.remove();
  });

  it("logs a dead probe once when it starts failing and once when it recovers, and reports nothing meanwhile", async () => {
    const dir = tempDir("file-sensor");
    const path = `${dir.path}/w1_slave`;
    const clock = new ManualClock(Date.UTC(2026, 11, 1));
    const lines: string[] = [];
    const reports: { value: string; at: number }[] = [];
    const sensor = new FileSensor({
      config: parseRoute({ pin_port: "5", file: { path, scale: 0.001, decimals: 2 }, sample_interval_s: 1, heartbeat_s: 3600 }),
      name: "boiler",
      clock,
      logger: testLogger("file", lines),
      report: (value, at) => reports.push({ value, at }),
    });
    await sensor.start(); // no file yet: ENOENT
    writeFileSync(path, "72 01 : crc=57 NO\n72 01 t=85000\n");
    // Each tick's read finishes before the file changes: a read still under way would see the next content.
    const tick = async () => {
      await clock.advance(1000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    };
    for (let second = 0; second < 5; second++) await tick();
    writeFileSync(path, "72 01 : crc=57 YES\n72 01 t=21500\n");
    await tick();
    await turns(() => reports.length > 0);
    sensor.stop();
    writeFileSync(path, "72 01 : crc=57 YES\n72 01 t=30000\n");
    await clock.advance(5000);
    const events = lines.map((line) => /"event":"([^"]+)"/.exec(line)?.[1] ?? /\bsensor\.\w+/.exec(line)?.[0]);
    assert.deepEqual(events.filter((event) => event?.startsWith("sensor.")), ["sensor.file_unreadable", "sensor.file_recovered"]);
    assert.ok(lines[0]?.includes("ENOENT"), "the first failure says why");
    assert.deepEqual(reports, [{ value: "21.50", at: Date.UTC(2026, 11, 1) + 6000 }], "one reading, stamped when sampled; none after stop");
    dir.remove();
  });
});
