// What the outbox is given and what it tells: where it publishes, its limits, its counters, and
// what became of each message.
import type { AckStatus, FeedPayload } from "../mqtt/messages.ts";

/**
 * Messages waiting under a topic with this prefix are placeholders (a route observed before the
 * catalog named it): never sent, only moved to a real topic (`Outbox.rebind`) or dropped. "#" is
 * a wildcard, so no broker topic starts with it.
 */
export const PLACEHOLDER_PREFIX = "#unbound/";

/** Where the outbox publishes: the live MQTT session. */
export interface Publisher {
  publish(topic: string, payload: string): Promise<void>;
}

/** What happened to one message, for listeners (tests, metrics, the demo). */
export interface Settled {
  readonly messageId: string;
  readonly topic: string;
  readonly status: AckStatus;
  readonly errorType: string | undefined;
  readonly payload: FeedPayload | undefined;
}

/** How much the outbox keeps, and how fast it may send (the catalog's limits). */
export interface OutboxLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly maxInflight: number;
  readonly maxPublishPerSecond: number;
  readonly maxPayloadBytes: number;
}

/** Room for a day of readings every few seconds on a small board; the catalog sets the rest. */
export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = {
  maxMessages: 10_000,
  maxBytes: 4 * 1024 * 1024,
  maxInflight: 20,
  maxPublishPerSecond: 20,
  maxPayloadBytes: 4096,
};

/** What the outbox did, counted since start (see {@linkcode emptyOutboxStats}). */
export interface OutboxStats {
  accepted: number;
  replayed: number;
  rejected: number;
  conflict: number;
  /** Messages thrown away: over the bound, or too large to send. */
  dropped: number;
  /** Older readings of a latest-value route replaced by a newer one while full. */
  coalesced: number;
  resent: number;
  /** Readings held in memory because the store could not take them (a full or failing disk). */
  held: number;
  /** Desired states that could not be answered at all: the report would be over the payload limit. */
  unanswerable: number;
  /** Messages observed while the wall clock could not be believed, waiting for the time to be known. */
  waitingForClock: number;
}

/** Counters at zero, as an outbox starts. */
export function emptyOutboxStats(): OutboxStats {
  return {
    accepted: 0,
    replayed: 0,
    rejected: 0,
    conflict: 0,
    dropped: 0,
    coalesced: 0,
    resent: 0,
    held: 0,
    unanswerable: 0,
    waitingForClock: 0,
  };
}
