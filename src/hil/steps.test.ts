import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Emulator } from "../emulator/emulator.ts";
import { ScenarioRecord } from "./record.ts";
import type { Rig } from "./rig.ts";
import { runStep, type StepContext, StepFailed } from "./steps.ts";

// The expectation steps read only the record; no emulator or device is needed to judge them.
function context(record: ScenarioRecord): StepContext {
  return {
    emulator: undefined as unknown as Emulator,
    rig: { exact: true } as Rig,
    record,
    deviceId: 1,
    sourceIds: new Map(),
    restart: () => Promise.resolve(),
    waitOnline: () => Promise.resolve(),
    level: () => Promise.resolve("0"),
  };
}

const reading = (record: ScenarioRecord, messageId: string, value: string) =>
  record.report({ at: Date.now(), route: "switch", messageId, value, desiredId: undefined, reportStatus: undefined });

describe("HIL expectation steps", () => {
  it("gives each copy of a resent report its own ack, the first accepted and the copy replayed", () => {
    const record = new ScenarioRecord();
    reading(record, "m1", "1.0");
    record.ack("m1", "accepted");
    reading(record, "m1", "1.0");
    record.ack("m1", "replayed");
    record.ack("m2", "accepted"); // an ack published before its report was noted
    reading(record, "m2", "0.0");
    assert.deepEqual(record.reports.map((report) => report.ack), ["accepted", "replayed", "accepted"]);
  });

  it("takes reports in the order they came: a later expectation cannot match an earlier report", async () => {
    const record = new ScenarioRecord();
    reading(record, "a", "0.0");
    reading(record, "b", "1.0");
    await runStep({ do: "expect_report", route: "switch", value: "1.0", within_ms: 0 }, context(record));
    await assert.rejects(
      runStep({ do: "expect_report", route: "switch", value: "0.0", within_ms: 0 }, context(record)),
      (error: Error) => error instanceof StepFailed && /saw 0; no other report on switch/.test(error.message),
    );
  });

  it("matches values numerically, and counts reports", async () => {
    const record = new ScenarioRecord();
    reading(record, "a", "1.0");
    reading(record, "b", "1");
    await runStep({ do: "expect_report", route: "switch", value: 1, count: 2, within_ms: 0 }, context(record));
    await assert.rejects(runStep({ do: "expect_report", route: "switch", value: "1.0", within_ms: 0 }, context(record)), StepFailed);
  });

  it("fails expect_steady on a glitch however short, naming each level and when", async () => {
    const record = new ScenarioRecord();
    record.level("relay", 1, Date.now() - 1000);
    const steady = runStep({ do: "expect_steady", route: "relay", for_ms: 200 }, context(record));
    setTimeout(() => {
      record.level("relay", 0, Date.now());
      record.level("relay", 1, Date.now());
    }, 50);
    await assert.rejects(steady, /expected relay to hold 1 for 200 ms; it changed 2 time\(s\): 0 at \+\d+ ms, 1 at \+\d+ ms/);
  });
});
