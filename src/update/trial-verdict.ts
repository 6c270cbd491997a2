// Whether a release on trial has proved itself healthy. Healthy is all of: the service is ready,
// has not restarted nor been killed by its watchdog since the trial began, claimed every
// configured output, opened (and migrated) its state file, is connected and subscribed, has had
// at least one message acknowledged by the application, and has answered every desired state it
// received, all of it still so once the process has run for a settling time (a mark-good made
// too early is the classic failure). READY alone is not health: the runtime says READY after 10 s even offline. A trial
// that cannot reach the cloud when the committed release could not either is inconclusive (try
// again later), not a bad release.

/** What the runtime says of itself (it writes this to its runtime folder as it changes). */
export interface HealthReport {
  readonly version: string;
  readonly pid: number;
  /** When this process started (ms since the epoch). */
  readonly started_at: number;
  readonly ready: boolean;
  /** Every configured output claimed, each at the value its power-on policy chose. */
  readonly outputs_claimed: boolean;
  readonly state_opened: boolean;
  readonly connected: boolean;
  readonly subscribed: boolean;
  /** Application acks received since this process started. */
  readonly acked: number;
  readonly desired_received: number;
  readonly desired_answered: number;
}

/** What systemd says of the service since the trial began. */
export interface ServiceFacts {
  readonly active: boolean;
  /** Restarts since the trial's first start. */
  readonly restarts: number;
  readonly watchdogKilled: boolean;
}

/** The verdict on a trial. */
export type Verdict =
  | { readonly kind: "healthy" }
  | { readonly kind: "pending"; readonly waiting: string }
  | { readonly kind: "unhealthy"; readonly reason: string }
  | { readonly kind: "inconclusive"; readonly reason: string };

/** What the trial is judged against. */
export interface TrialFacts {
  readonly version: string;
  readonly startedAt: number;
  /** How long the release has to prove itself. */
  readonly windowMs: number;
  /** Whether the committed release was connected to the cloud when the trial began. */
  readonly committedWasConnected: boolean;
  /**
   * How long the release's process must have run, healthy, before it commits: a commit made too
   * early would miss a watchdog stall (WatchdogSec=30) or a crash a minute in. By default 120 s,
   * or the whole window when it is shorter.
   */
  readonly settleMs?: number;
}

/** Judges a trial at `now` (see the file's opening comment). */
export function judgeTrial(trial: TrialFacts, service: ServiceFacts, report: HealthReport | undefined, now: number): Verdict {
  if (service.watchdogKilled) return { kind: "unhealthy", reason: "the watchdog killed it" };
  if (service.restarts > 0) return { kind: "unhealthy", reason: `it restarted ${service.restarts} time(s)` };
  const over = now - trial.startedAt >= trial.windowMs;
  const fresh = report !== undefined && report.version === trial.version && report.started_at >= trial.startedAt - 60_000;
  const missing: string[] = [];
  if (!service.active) missing.push("the service running");
  if (!fresh) missing.push(`a health report from version ${trial.version}`);
  else {
    if (!report.ready) missing.push("READY");
    if (!report.state_opened) missing.push("the state file opened");
    if (!report.outputs_claimed) missing.push("every output claimed");
    if (!report.connected) missing.push("a connection to the cloud");
    else if (!report.subscribed) missing.push("its subscriptions");
    if (report.acked < 1) missing.push("a message acknowledged");
    if (report.desired_answered < report.desired_received) {
      missing.push(`an answer to ${report.desired_received - report.desired_answered} desired state(s)`);
    }
  }
  if (missing.length === 0) {
    const settle = Math.min(trial.settleMs ?? 120_000, trial.windowMs);
    const running = now - Math.max(trial.startedAt, report!.started_at);
    if (running >= settle) return { kind: "healthy" };
    missing.push(`${Math.ceil((settle - running) / 1000)} s more of running healthy`);
  }
  if (!over) return { kind: "pending", waiting: missing.join(", ") };
  // Only the cloud is missing, and the committed release had no cloud either: the board is offline, not the release bad.
  const offline = fresh && report.ready && report.state_opened && report.outputs_claimed && !report.connected &&
    report.desired_answered >= report.desired_received;
  if (offline && !trial.committedWasConnected) {
    return { kind: "inconclusive", reason: "no connection to the cloud, which the committed release did not have either" };
  }
  return { kind: "unhealthy", reason: `after ${Math.round(trial.windowMs / 1000)} s still without ${missing.join(", ")}` };
}
