// The desired-state ledger as the handler sees it: what was answered, the route's high-water
// mark, and one call that records an answer with its report and line state. Behind it, the state
// file keeps the tables and the outbox queues the report in the same commit.
import type { LineStateWrite } from "../state/line-memory.ts";
import type { FeedPayload } from "../mqtt/messages.ts";
import type { AnswerRecord, Outbox } from "../outbox/outbox.ts";
import type { DeviceStore, LedgerEntry } from "../state/store.ts";

/** One decided answer, to be recorded with its report in one commit. */
export interface LedgerAnswer {
  /** The route's key (its feed-data topic), for the sequence number and the line memory. */
  readonly route: string;
  /** Where the report goes. */
  readonly topic: string;
  readonly report: FeedPayload;
  /** Whether the report's sequence_number raises the route's high-water mark. */
  readonly advanceSequence: boolean;
  /** The value an output was set to, remembered for `restore` in the same commit. */
  readonly lineState?: LineStateWrite | undefined;
}

/** What {@linkcode DesiredHandler} needs of the durable state, and nothing more. */
export interface Ledger {
  /** The answer already given to a desired id, if any. */
  answered(desiredId: string): LedgerEntry | undefined;
  /** The highest sequence number applied or answered on a route, or -Infinity. */
  highestSequence(route: string): number;
  /** Whether an answer could be written now (a store known to fail is probed first). */
  canWrite(): boolean;
  /** Why writes fail, while they do. */
  readonly refusal: string | undefined;
  /** Whether a report like this fits the payload limit at all; counted as unanswerable when not. */
  canAnswer(report: FeedPayload): boolean;
  /** Records the answer and queues its report in one transaction; throws when the store refuses. */
  record(answer: LedgerAnswer): AnswerRecord;
  /** Queues an earlier answer's report again (a redelivered desired state). */
  repeat(entry: LedgerEntry): void;
}

/** The ledger over the device's state file and outbox. */
export function deviceLedger(store: DeviceStore, outbox: Outbox): Ledger {
  return {
    answered: (desiredId) => store.ledger.answered(desiredId),
    highestSequence: (route) => store.ledger.highestSequence(route),
    canWrite: () => store.canWrite(),
    get refusal() {
      return store.health.error;
    },
    canAnswer: (report) => outbox.canAnswer(report),
    record: (answer) => outbox.recordAnswer(answer.route, answer.topic, answer.report, answer.advanceSequence, answer.lineState),
    repeat: (entry) => outbox.enqueue(entry.topic, 0, entry.report),
  };
}
