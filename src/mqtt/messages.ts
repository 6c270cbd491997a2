import * as v from "valibot";

/** A desired-state message (5.3). Only `desired_id` and `sequence_number` are Realer's; the rest may be missing. */
export const DesiredSchema = v.object({
  desired_id: v.pipe(v.string("desired_id must be a string"), v.minLength(1, "desired_id must not be empty")),
  value: v.unknown(),
  sequence_number: v.pipe(
    v.number("sequence_number must be a number"),
    v.integer("sequence_number must be an integer"),
    // Past 2^53 a number is not exact: it would outrank every later request on the route for good.
    v.safeInteger("sequence_number must be a safe integer (within ±2^53 - 1)"),
  ),
  requested_at: v.optional(v.string()),
  expires_at: v.optional(v.string()),
});
/** A validated desired-state message. */
export type Desired = v.InferOutput<typeof DesiredSchema>;

/** What an application ack can say of a message (5.2). */
export const ACK_STATUSES = ["accepted", "replayed", "rejected", "conflict", "error"] as const;
/** An ack's status. */
export type AckStatus = (typeof ACK_STATUSES)[number];
/** The statuses that end a message: it is never sent again. */
export type FinalAckStatus = Exclude<AckStatus, "error">;

/** Whether an ack's status ends the message (everything but `error`). */
export function isFinal(status: AckStatus): status is FinalAckStatus {
  return status !== "error";
}

/** An application ack (5.2); the firmware branches on `status`, `retryable` and `error.type`. */
export const AckSchema = v.object({
  message_id: v.nullish(v.string()),
  status: v.picklist(ACK_STATUSES, `status must be one of ${ACK_STATUSES.join(", ")}`),
  retryable: v.optional(v.boolean(), false),
  error: v.nullish(v.object({ type: v.optional(v.string()), message: v.optional(v.string()) })),
  feed_data_topic: v.optional(v.string()),
  desired_id: v.nullish(v.string()),
});
/** A validated ack. */
export type Ack = v.InferOutput<typeof AckSchema>;

/** What a report says of a desired state. */
export type ReportStatus = "applied" | "rejected" | "stale";

/** A feed-data payload (5.1), as published and stored in the outbox. */
export interface FeedPayload {
  readonly message_id: string;
  readonly value: string;
  readonly value_received_at: string;
  readonly desired_id?: string;
  readonly report_status?: ReportStatus;
  readonly sequence_number?: number;
}

/** A payload's bytes as JSON, or why they are not: each transport decodes its own bytes once. */
export function decodeJson(payload: Uint8Array): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(new TextDecoder().decode(payload)) };
  } catch {
    return { ok: false, error: "payload is not JSON" };
  }
}

/** Validates a decoded message with a schema; the error names the first bad field. */
export function parseMessage<S extends v.GenericSchema>(
  schema: S,
  raw: unknown,
): { ok: true; value: v.InferOutput<S> } | { ok: false; error: string; raw: unknown } {
  const result = v.safeParse(schema, raw);
  if (result.success) return { ok: true, value: result.output };
  const issue = result.issues[0];
  const path = issue.path?.map((item) => String(item.key)).join(".") ?? "";
  const message = issue.message.startsWith("Invalid key:") ? "is required" : issue.message;
  return { ok: false, error: path === "" ? message : `${path}: ${message}`, raw };
}
