// The outbox's bounds (the catalog's message count and bytes): past them, a latest-value route
// keeps only its newest reading, then the oldest readings go. Command reports never go: they
// answer a desired state the cloud waits for.
import type { Logger } from "../log.ts";
import type { OutboxLimits, OutboxStats } from "./types.ts";
import type { OutboxTable } from "../state/outbox-table.ts";

/** The table's rows and their payload bytes (UTF-8). */
export interface TableSizes {
  messages: number;
  bytes: number;
}

/** What trimming works on. */
export interface TrimScope {
  readonly table: Pick<OutboxTable, "size" | "coalesce" | "oldestTelemetry" | "remove">;
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
  const { table, logger, limits, stats, settling } = scope;
  let sizes = table.size();
  if (!overBounds(sizes, limits, settling)) return sizes;
  for (const topic of scope.latestValue) {
    const removed = table.coalesce(topic, scope.busy);
    sizes = table.size();
    if (removed > 0) {
      stats.coalesced += removed;
      logger.warn("outbox.coalesced", { topic, removed, note: "the outbox is full; this route keeps its latest value" });
    }
  }
  while (overBounds(sizes, limits, settling)) {
    const oldest = table.oldestTelemetry(scope.busy);
    if (!oldest) {
      logger.warn("outbox.over_bound", { note: "only command reports wait; they are never dropped" });
      break;
    }
    table.remove(oldest.messageId, oldest.topic);
    sizes = table.size();
    stats.dropped++;
    logger.warn("outbox.dropped", {
      message_id: oldest.messageId,
      topic: oldest.topic,
      reason: "the outbox is full; the oldest reading goes",
    });
  }
  return sizes;
}
