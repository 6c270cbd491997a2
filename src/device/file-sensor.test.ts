import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { systemClock } from "../clock.ts";
import { parseRoute } from "../config/schema.ts";
import { tempDir, testLogger } from "../../test/helpers/harness.ts";
import { FileSensor, parseSensorFile, shouldReport } from "./file-sensor.ts";

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
});
