// The runtime's report of its own health, for the updater that judges a release on trial: a
// small JSON file in the service's runtime folder (tmpfs: it never wears the flash), replaced by
// a rename each time a fact changes, and every 30 s. Its facts are those of
// `src/update/trial-verdict.ts`.
import { renameSync, writeFileSync } from "node:fs";
import type { DeviceRuntime } from "../device/runtime.ts";
import type { HealthReport } from "../update/trial-verdict.ts";
import { VERSION } from "../version.ts";

/** Writes {@linkcode HealthReport}s for one runtime to `path`. */
export class HealthReporter {
  readonly #runtime: DeviceRuntime;
  readonly #path: string;
  readonly #startedAt = Date.now();
  #ready = false;
  #stateOpened = false;
  #acked = 0;
  #answered = 0;
  #pending: ReturnType<typeof setTimeout> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #off: (() => void)[] = [];
  #last = "";

  constructor(runtime: DeviceRuntime, path: string) {
    this.#runtime = runtime;
    this.#path = path;
  }

  /** Starts following the runtime's events; the state file is open by the time a runtime exists. */
  start(): void {
    this.#stateOpened = true;
    const events = this.#runtime.events;
    this.#off.push(
      events.on("online", () => this.#soon()),
      events.on("offline", () => this.#soon()),
      events.on("settled", () => {
        this.#acked++;
        this.#soon();
      }),
      events.on("desired", (outcome) => {
        if (outcome.status !== "duplicate") this.#answered++;
        this.#soon();
      }),
    );
    this.#timer = setInterval(() => this.write(), 30_000);
    (this.#timer as { unref?: () => void }).unref?.();
    this.write();
  }

  /** The service told systemd it is ready. */
  ready(): void {
    this.#ready = true;
    this.write();
  }

  /** The report as it stands. */
  report(): HealthReport {
    const status = this.#runtime.status();
    // Online over MQTT means connected with every SUBACK checked; the HTTPS runtime has no subscriptions.
    const online = status.transport === "https" ? status.trouble === undefined : status.link?.connected === true;
    return {
      version: VERSION,
      pid: process.pid,
      started_at: this.#startedAt,
      ready: this.#ready,
      outputs_claimed: this.#runtime.unclaimedOutputs().length === 0,
      state_opened: this.#stateOpened,
      connected: online,
      subscribed: online,
      acked: this.#acked,
      desired_received: this.#answered + status.unacknowledged,
      desired_answered: this.#answered,
    };
  }

  /** Writes the report now (when it changed): beside the file, then renamed over it. */
  write(): void {
    const text = `${JSON.stringify(this.report())}\n`;
    if (text === this.#last) return;
    try {
      writeFileSync(`${this.#path}.tmp`, text);
      renameSync(`${this.#path}.tmp`, this.#path);
      this.#last = text;
    } catch {
      // The report is for the updater; a runtime folder that refuses it must not touch the device.
    }
  }

  stop(): void {
    for (const off of this.#off.splice(0)) off();
    clearInterval(this.#timer);
    clearTimeout(this.#pending);
  }

  #soon(): void {
    if (this.#pending !== undefined) return;
    this.#pending = setTimeout(() => {
      this.#pending = undefined;
      this.write();
    }, 200);
  }
}
