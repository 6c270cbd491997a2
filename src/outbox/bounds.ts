// The outbox's bounds (the catalog's message count and bytes): past them, a latest-value route
// keeps only its newest reading, then the oldest readings go. Command reports never go: they
// answer a desired state the cloud waits for.
import type { Logger } from "../log.ts";
import type { OutboxLimits, OutboxStats } from "./types.ts";
import type { DeviceStore } from "../state/store.ts";

/** The table's rows and their payload bytes (UTF-8). */
export interface TableSizes {
  messages: number;
  bytes: number;
}

/** What trimming works on. */
export interface TrimScope {
  readonly store: Pick<DeviceStore, "outboxSize" | "coalesce" | "oldestTelemetry" | "removeFromOutbox">;
  readonly logger: Logger;
  readonly limits: OutboxLimits;
  /** Counts what was coalesced and dropped. */
  readonly stats: OutboxStats;
  /** Topics whose readings may be coalesced to the newest. */
  readonly latestValue: ReadonlySet<string>;
  /** Messages in flight: never removed under the sender. */
  readonly busy: ReadonlySet<string>;
  /** Rows in the table already acked, waiting for their delete: they do not count. */
  readonly settling: number;
}

/** Whether `sizes` is past the bounds, the acked rows not counted. */
export function overBounds(sizes: TableSizes, limits: OutboxLimits, settling: number): boolean {
  return sizes.messages - settling > limits.maxMessages || sizes.bytes > limits.maxBytes;
}

/**
 * Removes readings until the table is within its bounds, counting it afresh after each removal,
 * and returns its sizes then. A failing store throws; what was removed before stays removed.
 */
export function trimToBounds(scope: TrimScope): TableSizes {
  const { store, logger, limits, stats, settling } = scope;
  let sizes = store.outboxSize();
  if (!overBounds(sizes, limits, settling)) return sizes;
  for (const topic of scope.latestValue) {
    const removed = store.coalesce(topic, scope.busy);
    sizes = store.outboxSize();
    if (removed > 0) {
      stats.coalesced += removed;
      logger.warn("outbox.coalesced", { topic, removed, note: "the outbox is full; this route keeps its latest value" });
    }
  }
  while (overBounds(sizes, limits, settling)) {
    const oldest = store.oldestTelemetry(scope.busy);
    if (!oldest) {
      logger.warn("outbox.over_bound", { note: "only command reports wait; they are never dropped" });
      break;
    }
    store.removeFromOutbox(oldest.messageId, oldest.topic);
    sizes = store.outboxSize();
    stats.dropped++;
    logger.warn("outbox.dropped", {
      message_id: oldest.messageId,
      topic: oldest.topic,
      reason: "the outbox is full; the oldest reading goes",
    });
  }
  return sizes;
}
