// What the desired-state handler is given and what it tells: the route it answers for, the
// output it drives, its options, and the outcome of each message.
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { ReportStatus } from "../mqtt/messages.ts";
import type { Binding } from "./bindings.ts";
import type { Ledger } from "./ledger.ts";
import type { ValueScale } from "./value-scale.ts";

/** The route a handler answers for: its catalog entry, its key in the state file and its name in logs. */
export type DesiredRoute = Pick<Binding, "route" | "key" | "name">;

/** The output a handler drives: read it, and apply a value and get back what it holds. */
export interface Output {
  /**
   * Why no line serves this route (a catalog command route the config binds to nothing): every
   * request is then answered `rejected` with this reason, and the output is never applied.
   */
  readonly unserved?: string;
  /** Where the output's last value is remembered (see `LineMemory.saveValue`). */
  readonly key: string;
  /** The values the output takes ("0.0"/"1.0" for a line, a range for a level) and how reports write them. */
  readonly scale: ValueScale;
  /** The value last written, for a report when the output cannot be read. */
  readonly written: number;
  read(): Promise<number>;
  /** For a level output, the level "on" goes back to once it holds `value`, remembered with the answer. */
  onLevelToKeep?(value: number): number | undefined;
  /**
   * Sets the output. `settle` runs with the value read back before any other write to this
   * output (a press on the board, say): the answer is recorded there, so that a change that
   * follows is reported after it, never the other way round. Its error rejects the call. For
   * "desired", remembering the value is left to the answer's transaction.
   */
  apply(value: number, cause: "desired", settle?: (observed: number) => void): Promise<number>;
}

/** What the handler decided about one desired-state message. */
export interface DesiredOutcome {
  readonly route: string;
  readonly desiredId: string;
  /** `unanswerable`: no report can carry this desired_id within the payload limit; none is sent. */
  readonly status: ReportStatus | "duplicate" | "unanswerable";
  /** The value reported: what the line reads. */
  readonly value: string;
  /** The value the desired state asked for, as a short text. */
  readonly requested?: string;
  readonly reason?: string;
  /** When the message arrived and when it was answered (ms since the epoch). */
  readonly receivedAt: number;
  readonly answeredAt: number;
  /** The report's message_id, to match its ack ("" when there is no report). */
  readonly messageId: string;
}

/** What {@linkcode DesiredHandler} works with. */
export interface DesiredHandlerOptions {
  /** The answers given, the routes' sequence numbers, and where a new answer is recorded. */
  readonly ledger: Ledger;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly onOutcome?: (outcome: DesiredOutcome) => void;
  /** A monotonic clock in fractional milliseconds, for the `took_ms` of each answer's log line. */
  readonly monotonic?: () => number;
  /** How long to wait before recording again after the store refused (1 s doubling to 30 s). */
  readonly retry?: { readonly baseMs: number; readonly capMs: number };
  /** The time to judge expiry by while the wall clock cannot be believed; the wall clock without it. */
  readonly time?: { now(): number | undefined };
}
