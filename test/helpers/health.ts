// A healthy runtime's health report, for tests that judge a trial: every rule met.
import type { HealthReport } from "../../src/update/trial-verdict.ts";

/** A report from `version` that passes every rule, with `extra` changing what a test needs. */
export function healthyReport(version: string, extra: Partial<HealthReport> = {}): HealthReport {
  return {
    version,
    pid: 1,
    started_at: Date.now(),
    ready: true,
    outputs_claimed: true,
    state_opened: true,
    connected: true,
    subscribed: true,
    acked: 1,
    desired_received: 0,
    desired_answered: 0,
    ...extra,
  };
}
