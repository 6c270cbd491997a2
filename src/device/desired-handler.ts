import type { Clock } from "../clock.ts";
import type { LineValue } from "../hal/types.ts";
import type { Logger } from "../log.ts";
import { DesiredSchema, type FeedPayload, parsePayload, type ReportStatus } from "../mqtt/messages.ts";
import type { Binding } from "./bindings.ts";
import { newMessageId } from "./message-id.ts";
import type { Outbox } from "./outbox.ts";
import type { DeviceStore } from "./store.ts";
import { formatLineValue, parseLineValue } from "./values.ts";

/** The output a handler drives: read it, and apply a value and get back what the line holds. */
export interface Output {
  /** Where the output's last value is remembered (see `DeviceStore.saveLineState`). */
  readonly key: string;
  read(): Promise<LineValue>;
  /** Sets the line; for "desired", remembering the value is left to the answer's transaction. */
  apply(value: LineValue, cause: "desired"): Promise<LineValue>;
}

/** What the handler decided about one desired-state message. */
export interface DesiredOutcome {
  readonly route: string;
  readonly desiredId: string;
  readonly status: ReportStatus | "duplicate";
  /** The value reported: what the line reads. */
  readonly value: string;
  /** The value the desired state asked for, as it came. */
  readonly requested?: string;
  readonly reason?: string;
  /** When the message arrived and when it was answered (ms since the epoch). */
  readonly receivedAt: number;
  readonly answeredAt: number;
  /** The report's message_id, to match its ack. */
  readonly messageId: string;
}

/** The request an answer is for. */
interface Asked {
  readonly desiredId: string;
  readonly sequence: number | undefined;
  readonly receivedAt: number;
  readonly requested?: string;
}

/** What {@linkcode DesiredHandler} works with. */
export interface DesiredHandlerOptions {
  readonly store: DeviceStore;
  readonly outbox: Outbox;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly onOutcome?: (outcome: DesiredOutcome) => void;
}

/**
 * Section 5.3 for one command route: answer duplicates from the ledger, outdated and expired
 * requests `stale`, impossible values `rejected`, and apply the rest to the line first, then
 * report what the line reads back. Messages of one route are handled one at a time.
 */
export class DesiredHandler {
  readonly #options: DesiredHandlerOptions;
  readonly #binding: Binding;
  readonly #line: Output;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: DesiredHandlerOptions, binding: Binding, line: Output) {
    this.#options = options;
    this.#binding = binding;
    this.#line = line;
  }

  /** Queues one message from the route's desired topic. */
  handle(payload: Uint8Array): Promise<void> {
    this.#queue = this.#queue.then(() => this.#handle(payload)).catch((error: unknown) => {
      this.#options.logger.error("desired.failed", {
        route: this.#binding.name,
        error: error instanceof Error ? error.message : String(error),
      });
    });
    return this.#queue;
  }

  async #handle(payload: Uint8Array): Promise<void> {
    const { store, outbox, clock, logger } = this.#options;
    const receivedAt = clock.now();
    const binding = this.#binding;
    const parsed = parsePayload(DesiredSchema, payload);
    if (!parsed.ok) {
      const raw = parsed.raw as { desired_id?: unknown; sequence_number?: unknown } | undefined;
      const desiredId = typeof raw?.desired_id === "string" && raw.desired_id !== "" ? raw.desired_id : undefined;
      logger.error("desired.invalid", { route: binding.name, topic: binding.route.mqtt.desired_topic, error: parsed.error });
      if (desiredId === undefined) return;
      const sequence = Number.isInteger(raw?.sequence_number) ? (raw?.sequence_number as number) : undefined;
      await this.#answer({ desiredId, sequence, receivedAt }, "rejected", await this.#line.read(), parsed.error);
      return;
    }
    const desired = parsed.value;
    const previous = store.answered(desired.desired_id);
    if (previous) {
      const report = JSON.parse(previous.payload) as FeedPayload;
      logger.info("desired.duplicate", { route: binding.name, desired_id: desired.desired_id, message_id: report.message_id });
      outbox.enqueue(previous.topic, 0, report);
      this.#options.onOutcome?.({ route: binding.key, desiredId: desired.desired_id, status: "duplicate", value: report.value, requested: String(desired.value), receivedAt, answeredAt: clock.now(), messageId: report.message_id });
      return;
    }
    const asked: Asked = { desiredId: desired.desired_id, sequence: desired.sequence_number, receivedAt, requested: String(desired.value) };
    const current = await this.#line.read();
    if (desired.sequence_number <= store.highestSequence(binding.key)) {
      await this.#answer(asked, "stale", current, `sequence_number ${desired.sequence_number} is not newer than ${store.highestSequence(binding.key)}`);
      return;
    }
    const expiresAt = desired.expires_at === undefined ? Number.NaN : Date.parse(desired.expires_at);
    if (Number.isFinite(expiresAt) && expiresAt <= clock.now()) {
      await this.#answer(asked, "stale", current, `expired at ${desired.expires_at}`);
      return;
    }
    const wanted = parseLineValue(desired.value);
    if (!wanted.ok) {
      await this.#answer(asked, "rejected", current, wanted.reason);
      return;
    }
    const observed = await this.#line.apply(wanted.value, "desired");
    logger.info("line.set", { route: binding.name, requested: formatLineValue(wanted.value), observed: formatLineValue(observed), state: observed === 1 ? "active" : "inactive" });
    await this.#answer(asked, "applied", observed, undefined, wanted.value);
  }

  #answer(asked: Asked, status: ReportStatus, observed: LineValue, reason?: string, written?: LineValue): Promise<void> {
    const { desiredId, sequence, receivedAt, requested } = asked;
    const { store, outbox, clock, logger } = this.#options;
    const now = clock.now();
    const value = formatLineValue(observed);
    const report: FeedPayload = {
      message_id: newMessageId("command", now),
      value,
      value_received_at: new Date(now).toISOString(),
      desired_id: desiredId,
      ...(status === "applied" ? {} : { report_status: status }),
      ...(sequence === undefined ? {} : { sequence_number: sequence }),
    };
    const lineState = written === undefined ? undefined : { route: this.#line.key, value: written };
    store.recordAnswer(this.#binding.key, this.#binding.route.mqtt.feed_data_topic, report, sequence !== undefined, now, lineState);
    const fields = { route: this.#binding.name, desired_id: desiredId, status, value, reason };
    if (status === "applied") logger.info("desired.applied", fields);
    else logger.warn(`desired.${status}`, fields);
    outbox.pump();
    this.#options.onOutcome?.({
      route: this.#binding.key,
      desiredId,
      status,
      value,
      ...(requested === undefined ? {} : { requested }),
      ...(reason === undefined ? {} : { reason }),
      receivedAt,
      answeredAt: now,
      messageId: report.message_id,
    });
    return Promise.resolve();
  }
}
