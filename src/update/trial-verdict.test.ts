import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { healthyReport } from "../../test/helpers/health.ts";
import { type HealthReport, judgeTrial, type TrialFacts } from "./trial-verdict.ts";

const T0 = 1_000_000;
const trial: TrialFacts = { version: "0.3.0", startedAt: T0, windowMs: 300_000, committedWasConnected: true };
const running = { active: true, restarts: 0, watchdogKilled: false };
const healthy: HealthReport = healthyReport("0.3.0", { pid: 42, started_at: T0 + 100, desired_received: 2, desired_answered: 2 });

describe("judgeTrial", () => {
  it("is healthy only when every rule holds, and says what it still waits for meanwhile", () => {
    assert.deepEqual(judgeTrial(trial, running, healthy, T0 + 125_000), { kind: "healthy" });
    assert.deepEqual(judgeTrial(trial, running, { ...healthy, acked: 0, subscribed: false }, T0 + 125_000), {
      kind: "pending",
      waiting: "its subscriptions, a message acknowledged",
    });
  });

  it("does not commit a release that has run healthy for less than its settling time (a watchdog stall comes 30 s in)", () => {
    assert.deepEqual(judgeTrial(trial, running, healthy, T0 + 5_000), { kind: "pending", waiting: "116 s more of running healthy" });
    // counted from the process's start: a restart onto the release starts the settling again
    const late = { ...healthy, started_at: T0 + 60_000 };
    assert.equal(judgeTrial(trial, running, late, T0 + 125_000).kind, "pending");
    assert.equal(judgeTrial(trial, running, late, T0 + 180_000).kind, "healthy");
    // a window shorter than the settling time is the settling time
    assert.equal(judgeTrial({ ...trial, windowMs: 30_000 }, running, healthy, T0 + 30_100).kind, "healthy");
    assert.equal(judgeTrial({ ...trial, settleMs: 10_000 }, running, healthy, T0 + 10_100).kind, "healthy");
  });

  it("is not fooled by READY alone, nor by a report from the release before", () => {
    const readyOnly = { ...healthy, connected: false, subscribed: false, acked: 0 };
    assert.equal(judgeTrial(trial, running, readyOnly, T0 + 400_000).kind, "unhealthy");
    const old = { ...healthy, version: "0.2.0" };
    assert.deepEqual(judgeTrial(trial, running, old, T0 + 400_000), {
      kind: "unhealthy",
      reason: "after 300 s still without a health report from version 0.3.0",
    });
  });

  it("fails at once on a restart or a watchdog kill, whatever the report says", () => {
    assert.equal(judgeTrial(trial, { ...running, restarts: 1 }, healthy, T0 + 1).kind, "unhealthy");
    assert.deepEqual(judgeTrial(trial, { ...running, watchdogKilled: true }, healthy, T0 + 1), {
      kind: "unhealthy",
      reason: "the watchdog killed it",
    });
  });

  it("fails a release that leaves a desired state unanswered past its window", () => {
    const verdict = judgeTrial(trial, running, { ...healthy, desired_received: 3 }, T0 + 300_000);
    assert.deepEqual(verdict, { kind: "unhealthy", reason: "after 300 s still without an answer to 1 desired state(s)" });
  });

  it("calls a trial without the cloud inconclusive when the committed release had none either, and a failure when it had", () => {
    const offline = { ...healthy, connected: false, subscribed: false, acked: 0 };
    assert.equal(judgeTrial({ ...trial, committedWasConnected: false }, running, offline, T0 + 300_000).kind, "inconclusive");
    assert.equal(judgeTrial(trial, running, offline, T0 + 300_000).kind, "unhealthy");
    // Inconclusive only when the cloud is all that is missing.
    const broken = { ...offline, outputs_claimed: false };
    assert.equal(judgeTrial({ ...trial, committedWasConnected: false }, running, broken, T0 + 300_000).kind, "unhealthy");
  });
});
