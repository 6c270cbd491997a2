import { backoffDelay } from "../backoff.ts";
import { describeError, RealerError } from "../errors.ts";
import { truncate } from "../log.ts";
import { DesiredSchema, type FeedPayload, parseMessage, type ReportStatus } from "../mqtt/messages.ts";
import { StorageError } from "../platform/index.ts";
import { serial } from "../serial.ts";
import type { DesiredHandlerOptions, DesiredRoute, Output } from "./desired-types.ts";
import { newMessageId } from "./message-id.ts";
import { describeValue } from "./values.ts";

export type { DesiredHandlerOptions, DesiredOutcome, DesiredRoute, Output } from "./desired-types.ts";

/** A decided answer, kept until the store takes it. */
interface Answer {
  readonly report: FeedPayload;
  readonly status: ReportStatus;
  readonly advanceSequence: boolean;
  /** The value written to the line, remembered for `restore` with the answer. */
  readonly written?: number;
  readonly requested?: string;
  readonly reason?: string;
}

/** One message, from arrival until its answer is on disk. */
interface Pending {
  /** The message as its transport decoded it, not yet validated. */
  readonly message: unknown;
  readonly receivedAt: number;
  /** Arrival on the monotonic clock, for the device's own share of the round trip. */
  readonly arrived: number;
  /** Set once decided (the line acted on, if at all): then only recorded again, never re-decided. */
  answer?: Answer | "done";
}

/** The store cannot take an answer: the message stays unacknowledged and is tried again. */
export class AnswerDeferredError extends RealerError {
  override name = "AnswerDeferredError";
  constructor(route: string, cause: unknown) {
    super("storage", `Cannot record the answer to a desired state on ${route} yet: ${describeError(cause)}`, { cause });
  }
}

/** The longest message_id a report can carry, for the size check made before acting. */
const LONGEST_REPORT_EXTRAS = { report_status: "rejected" as const, value: "0.0" };

/**
 * Section 5.3 for one command route: answer duplicates from the ledger, outdated and expired
 * requests `stale`, impossible values `rejected`, and apply the rest to the line first, then
 * report what the line reads back. Messages of one route are handled one at a time, in order.
 *
 * `handle()` resolves only once the answer is durably recorded, and rejects when it is not, so
 * the MQTT session sends no PUBACK for it and the broker delivers it again after a reconnect.
 * Meanwhile the handler itself tries again with backoff: an answer decided after the line moved
 * is recorded as it was decided; a message not yet acted on is acted on only once the store can
 * take its answer, so no relay switches for a request that cannot be answered.
 */
export class DesiredHandler {
  readonly #options: DesiredHandlerOptions;
  readonly #binding: DesiredRoute;
  /** Whether the configuration gap of an unserved route was logged (once per route). */
  #gapLogged = false;
  readonly #line: Output;
  readonly #backlog: Pending[] = [];
  /** The route's messages, one at a time, in order. */
  readonly #queue = serial();
  #attempt = 0;
  #retry: AbortController | undefined;
  #closed = false;
  readonly #monotonic: () => number;

  constructor(options: DesiredHandlerOptions, binding: DesiredRoute, line: Output) {
    this.#options = options;
    this.#binding = binding;
    this.#line = line;
    this.#monotonic = options.monotonic ?? (() => performance.now());
  }

  /** Messages whose answer is not on disk yet. */
  get waiting(): number {
    return this.#backlog.length;
  }

  /** Handles one decoded message from the route's desired topic (or the HTTPS list); see the class. */
  handle(message: unknown): Promise<void> {
    const pending: Pending = { message, receivedAt: this.#options.clock.now(), arrived: this.#monotonic() };
    return this.#queue(async () => {
      this.#backlog.push(pending);
      await this.#drain();
      if (this.#backlog.includes(pending)) {
        throw new AnswerDeferredError(this.#binding.name, this.#options.ledger.refusal ?? "the store refuses writes");
      }
    });
  }

  /** Stops retrying (the runtime is stopping); what waits is delivered again by the broker. */
  close(): void {
    this.#closed = true;
    this.#retry?.abort();
    if (this.#backlog.length > 0) {
      this.#options.logger.warn("desired.unrecorded_on_stop", {
        route: this.#binding.name,
        waiting: this.#backlog.length,
        note: "not acknowledged to the broker, which delivers them again",
      });
    }
  }

  /** Answers what waits, in order; stops at the first the store refuses and schedules a retry. */
  async #drain(): Promise<void> {
    while (this.#backlog.length > 0) {
      const pending = this.#backlog[0]!;
      try {
        await this.#process(pending);
      } catch (error) {
        if (error instanceof StorageError || error instanceof AnswerDeferredError) {
          this.#scheduleRetry(error);
          return;
        }
        // A fault of ours, not the message's: never loop on it. The broker redelivers it.
        this.#options.logger.error("desired.failed", { route: this.#binding.name, error: describeError(error) });
      }
      this.#backlog.shift();
    }
    this.#attempt = 0;
  }

  #scheduleRetry(error: unknown): void {
    const { clock, logger } = this.#options;
    if (this.#closed || this.#retry) return;
    const { baseMs, capMs } = this.#options.retry ?? { baseMs: 1000, capMs: 30_000 };
    const delayMs = backoffDelay(this.#attempt++, baseMs, capMs, () => 1);
    logger.warn("desired.deferred", {
      route: this.#binding.name,
      waiting: this.#backlog.length,
      in_ms: delayMs,
      error: describeError(error),
    });
    const retry = new AbortController();
    this.#retry = retry;
    clock.sleep(delayMs, retry.signal).then(() => {
      this.#retry = undefined;
      this.#queue(() => this.#drain()).catch(() => {});
    }, () => {});
  }

  async #process(pending: Pending): Promise<void> {
    pending.answer ??= await this.#decide(pending);
    if (pending.answer === "done") return;
    this.#record(pending.answer, pending.receivedAt, pending.arrived);
  }

  /** What to answer, acting on the line when the request is to be applied; "done" when nothing is to be recorded. */
  async #decide(pending: Pending): Promise<Answer | "done"> {
    const { ledger, clock, logger } = this.#options;
    const binding = this.#binding;
    const parsed = parseMessage(DesiredSchema, pending.message);
    const raw = (parsed.ok ? parsed.value : parsed.raw) as { desired_id?: unknown; sequence_number?: unknown; value?: unknown } | undefined;
    const desiredId = typeof raw?.desired_id === "string" && raw.desired_id !== "" ? raw.desired_id : undefined;
    if (!parsed.ok) logger.error("desired.invalid", { route: binding.name, desired_id: desiredId, error: parsed.error });
    if (desiredId === undefined) return "done";
    // An unsafe sequence number is neither echoed nor remembered: it would outrank every later request.
    const safeSequence = Number.isSafeInteger(raw?.sequence_number) ? (raw?.sequence_number as number) : undefined;
    const requested = describeValue(raw?.value);
    if (!this.#answerable(desiredId, safeSequence, pending.receivedAt, requested)) return "done";
    // A redelivery, valid or not, repeats the answer already given.
    const previous = ledger.answered(desiredId);
    if (previous) {
      const { report } = previous;
      logger.info("desired.duplicate", { route: binding.name, desired_id: desiredId, message_id: report.message_id });
      ledger.repeat(previous);
      this.#options.onOutcome?.({
        route: binding.key,
        desiredId,
        status: "duplicate",
        value: report.value,
        requested,
        receivedAt: pending.receivedAt,
        answeredAt: clock.now(),
        messageId: report.message_id,
      });
      return "done";
    }
    if (!parsed.ok) {
      return this.#answer(desiredId, safeSequence, "rejected", await this.#physical(), {
        requested,
        reason: parsed.error,
        advanceSequence: false,
      });
    }
    const desired = parsed.value;
    const sequence = desired.sequence_number;
    const unserved = this.#line.unserved;
    if (unserved !== undefined) {
      if (!this.#gapLogged) {
        this.#gapLogged = true;
        logger.error("route.unserved", { route: binding.name, desired_id: desiredId, note: `${unserved}; answering rejected` });
      }
      return this.#answer(desiredId, sequence, "rejected", await this.#physical(), { requested, reason: unserved, advanceSequence: false });
    }
    const highest = ledger.highestSequence(binding.key);
    if (sequence <= highest) {
      return this.#answer(desiredId, sequence, "stale", await this.#physical(), {
        requested,
        reason: `sequence_number ${sequence} is not newer than ${highest}`,
      });
    }
    const expiresAt = desired.expires_at === undefined ? Number.NaN : Date.parse(desired.expires_at);
    // Judged by the time to believe (the cloud's, while ours is not synchronised), never silently by a wrong clock.
    const now = this.#options.time ? this.#options.time.now() : clock.now();
    if (Number.isFinite(expiresAt) && now === undefined) {
      this.#options.logger.warn("desired.expiry_not_judged", {
        route: binding.name,
        desired_id: desiredId,
        expires_at: truncate(desired.expires_at ?? "", 40),
        note: "the time is not known yet (clock not synchronised, no answer from the cloud)",
      });
    } else if (Number.isFinite(expiresAt) && now !== undefined && expiresAt <= now) {
      return this.#answer(desiredId, sequence, "stale", await this.#physical(), {
        requested,
        reason: `expired at ${truncate(desired.expires_at ?? "", 40)}`,
      });
    }
    const wanted = this.#line.scale.parse(desired.value);
    if (!wanted.ok) return this.#answer(desiredId, sequence, "rejected", await this.#physical(), { requested, reason: wanted.reason });
    // Act only when the answer can be recorded: a store known to be failing is probed first.
    if (!ledger.canWrite()) throw new AnswerDeferredError(binding.name, ledger.refusal ?? "the store refuses writes");
    let observed: number;
    let decided: Answer | undefined;
    try {
      observed = await this.#line.apply(wanted.value, "desired", (observed) => {
        decided = this.#answer(desiredId, sequence, "applied", observed, { requested, written: wanted.value });
        // Decided: from here on only recorded again, never re-decided (the line moved).
        pending.answer = decided;
        this.#record(decided, pending.receivedAt, pending.arrived);
        pending.answer = "done";
      });
    } catch (error) {
      // The answer is decided but the store refused it: it is recorded again later, as decided.
      if (decided) throw error;
      // The line failed: that is an answer too, with what the line holds now.
      const physical = await this.#physical();
      logger.error("line.failed", {
        route: binding.name,
        requested: this.#line.scale.format(wanted.value),
        physical: this.#line.scale.format(physical),
        error: describeError(error),
      });
      return this.#answer(desiredId, sequence, "rejected", physical, { requested, reason: `the line failed: ${describeError(error)}` });
    }
    // Debug: desired.applied already says it at info, and a line a second in the journal is flash worn.
    logger.debug("line.set", {
      route: binding.name,
      requested: this.#line.scale.format(wanted.value),
      observed: this.#line.scale.format(observed),
      state: observed === this.#line.scale.off ? "inactive" : "active",
    });
    return "done";
  }

  /** Whether a report for this desired_id fits the payload limit; when not, it is logged and counted. */
  #answerable(desiredId: string, sequence: number | undefined, receivedAt: number, requested?: string): boolean {
    const { ledger, clock, logger } = this.#options;
    const probe: FeedPayload = {
      message_id: newMessageId("command", clock.now()),
      value_received_at: new Date(clock.now()).toISOString(),
      desired_id: desiredId,
      ...LONGEST_REPORT_EXTRAS,
      ...(sequence === undefined ? {} : { sequence_number: sequence }),
    };
    if (ledger.canAnswer(probe)) return true;
    logger.error("desired.unanswerable", {
      route: this.#binding.name,
      desired_id: desiredId,
      desired_id_length: desiredId.length,
      note: "a report with this desired_id would be over max_payload_bytes; the line is left alone",
    });
    this.#options.onOutcome?.({
      route: this.#binding.key,
      desiredId: truncate(desiredId, 64),
      status: "unanswerable",
      value: this.#line.scale.format(this.#line.written),
      ...(requested === undefined ? {} : { requested }),
      reason: "desired_id too long for a report",
      receivedAt,
      answeredAt: clock.now(),
      messageId: "",
    });
    return false;
  }

  /** What the line holds now; the value last written when it cannot be read. */
  async #physical(): Promise<number> {
    try {
      return await this.#line.read();
    } catch (error) {
      this.#options.logger.error("line.read_failed", {
        route: this.#binding.name,
        error: describeError(error),
        note: "reporting the value last written",
      });
      return this.#line.written;
    }
  }

  #answer(
    desiredId: string,
    sequence: number | undefined,
    status: ReportStatus,
    observed: number,
    extra: { readonly requested?: string; readonly reason?: string; readonly written?: number; readonly advanceSequence?: boolean },
  ): Answer {
    const now = this.#options.clock.now();
    const report: FeedPayload = {
      message_id: newMessageId("command", now),
      value: this.#line.scale.format(observed),
      value_received_at: new Date(now).toISOString(),
      desired_id: desiredId,
      ...(status === "applied" ? {} : { report_status: status }),
      ...(sequence === undefined ? {} : { sequence_number: sequence }),
    };
    return {
      report,
      status,
      advanceSequence: extra.advanceSequence ?? sequence !== undefined,
      ...(extra.written === undefined ? {} : { written: extra.written }),
      ...(extra.requested === undefined ? {} : { requested: extra.requested }),
      ...(extra.reason === undefined ? {} : { reason: extra.reason }),
    };
  }

  /** Records the answer and queues its report in one transaction; throws when the store refuses. */
  #record(answer: Answer, receivedAt: number, arrived: number): void {
    const { ledger, clock, logger } = this.#options;
    const { report, status, requested, reason } = answer;
    const desiredId = report.desired_id ?? "";
    const lineState = answer.written === undefined
      ? undefined
      : { route: this.#line.key, value: answer.written, onLevel: this.#line.onLevelToKeep?.(answer.written) };
    const committing = this.#monotonic();
    const recorded = ledger.record({
      route: this.#binding.key,
      topic: this.#binding.route.mqtt.feed_data_topic,
      report,
      advanceSequence: answer.advanceSequence,
      lineState,
    });
    const commitMs = Math.round((this.#monotonic() - committing) * 1000) / 1000;
    if (recorded === "too-large") {
      logger.error("desired.unanswerable", {
        route: this.#binding.name,
        desired_id: desiredId,
        note: "the report would be over max_payload_bytes",
      });
      return;
    }
    // From arrival to the report handed to the broker (recording it pumps the outbox at once).
    const tookMs = Math.round((this.#monotonic() - arrived) * 1000) / 1000;
    // took_ms: arrival to the report handed to the broker; commit_ms: the answer's commit and the
    // send it triggers, the part the disk sets.
    const fields = {
      route: this.#binding.name,
      desired_id: desiredId,
      status,
      value: report.value,
      reason,
      took_ms: tookMs,
      commit_ms: commitMs,
    };
    if (status === "applied") logger.info("desired.applied", fields);
    else logger.warn(`desired.${status}`, fields);
    this.#options.onOutcome?.({
      route: this.#binding.key,
      desiredId,
      status,
      value: report.value,
      ...(requested === undefined ? {} : { requested }),
      ...(reason === undefined ? {} : { reason }),
      receivedAt,
      answeredAt: clock.now(),
      messageId: report.message_id,
    });
  }
}
