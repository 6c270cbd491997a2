// What a HIL scenario saw, on one clock: each line's levels, the desired states sent, the
// device's reports with their acks, the faults and restarts, and each step's outcome. Steps
// read it to decide; the JUnit and HTML reports are drawn from it.
import type { AckStatus } from "../emulator/state.ts";
import type { Level } from "./rig.ts";

/** One level a line showed, in wall-clock milliseconds. */
export interface LevelPoint {
  readonly at: number;
  readonly level: Level;
}

/** One report (a reading, a local change, or an answer to a desired state) the emulator received. */
export interface ReportSeen {
  readonly at: number;
  readonly route: string;
  readonly messageId: string;
  readonly value: string;
  readonly desiredId: string | undefined;
  /** `applied` when a desired_id comes without one, as the spec says. */
  readonly reportStatus: string | undefined;
  /** The application ack, once published (none while acks are withheld). */
  ack: AckStatus | undefined;
  /** Taken by an expect_report step already. */
  consumed: boolean;
}

/** A moment worth marking on the timeline. */
export interface Marker {
  readonly at: number;
  readonly kind: "desired" | "fault" | "restart" | "drive" | "online";
  readonly text: string;
  readonly route?: string | undefined;
}

/** How one step ended. */
export interface StepOutcome {
  readonly index: number;
  readonly do: string;
  readonly text: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly status: "passed" | "failed" | "skipped";
  readonly message?: string | undefined;
}

/** Everything one scenario saw. */
export class ScenarioRecord {
  readonly startedAt = Date.now();
  readonly levels = new Map<string, LevelPoint[]>();
  readonly reports: ReportSeen[] = [];
  readonly markers: Marker[] = [];
  readonly steps: StepOutcome[] = [];
  /** Acks that came before their report was noted (the emulator publishes both at once). */
  readonly #early = new Map<string, AckStatus[]>();
  /** Desired ids by the label a set_desired step gave them. */
  readonly labels = new Map<string, string>();

  /** Notes a level; only changes are kept, with every change however short. */
  level(route: string, level: Level, at: number): void {
    const points = this.levels.get(route) ?? [];
    if (points.at(-1)?.level === level) return;
    points.push({ at, level });
    this.levels.set(route, points);
  }

  /** The level a line shows now, as far as the rig has told. */
  levelOf(route: string): Level | undefined {
    return this.levels.get(route)?.at(-1)?.level;
  }

  /** The levels of a line after `from` (exclusive). */
  changesSince(route: string, from: number): LevelPoint[] {
    return (this.levels.get(route) ?? []).filter((point) => point.at > from);
  }

  report(report: Omit<ReportSeen, "ack" | "consumed">): void {
    this.reports.push({ ...report, ack: this.#early.get(report.messageId)?.shift(), consumed: false });
  }

  /** Gives an ack to the oldest copy of its message without one: a resent copy gets its own (`replayed`). */
  ack(messageId: string, status: AckStatus): void {
    const waiting = this.reports.find((report) => report.messageId === messageId && report.ack === undefined);
    if (waiting) waiting.ack = status;
    else this.#early.set(messageId, [...(this.#early.get(messageId) ?? []), status]);
  }

  mark(marker: Marker): void {
    this.markers.push(marker);
  }

  /** Milliseconds since the scenario started, for messages: "+1234 ms". */
  rel(at: number): string {
    return `+${Math.round(at - this.startedAt)} ms`;
  }
}
