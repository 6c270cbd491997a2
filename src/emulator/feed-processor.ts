import * as v from "valibot";
import type { AckMessage, AckStatus, DeviceRecord, EmulatorState, RouteRecord, StoredFeed } from "./state.ts";

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

const FeedPayloadSchema = v.pipe(
  v.object({
    message_id: v.pipe(
      v.string("message_id must be a string"),
      v.minLength(1, "message_id must not be empty"),
      v.maxLength(128, "message_id is longer than 128 characters"),
    ),
    value: v.string("value must be a JSON string"),
    value_received_at: v.pipe(
      v.string("value_received_at must be a string"),
      v.regex(ISO_UTC, "value_received_at must be ISO 8601 UTC"),
      v.check((text) => Number.isFinite(Date.parse(text)), "value_received_at is not a real time"),
    ),
    desired_id: v.optional(v.pipe(v.string("desired_id must be a string"), v.minLength(1))),
    report_status: v.optional(v.picklist(["applied", "rejected", "stale"], "report_status must be applied, rejected or stale")),
    sequence_number: v.optional(
      v.pipe(v.number("sequence_number must be an integer"), v.integer("sequence_number must be an integer"), v.minValue(0)),
    ),
  }),
  v.check((feed) => feed.report_status === undefined || feed.desired_id !== undefined, "report_status needs desired_id"),
);

/** Options that change how acks are answered (the fault switches use them). */
export interface AckPolicy {
  readonly maxPayloadBytes: number;
}

/** The answer to one publish: the ack to send and what to log. */
export interface Processed {
  readonly ack: AckMessage;
  readonly payload: unknown;
}

/** The ack of 5.2 for one publish on `route`. */
function buildAck(
  route: RouteRecord,
  now: number,
  messageId: string | null,
  desiredId: string | null,
  status: AckStatus,
  error?: { type: string; message: string },
): AckMessage {
  return {
    message_id: messageId,
    source_type: route.sourceType,
    source_id: route.sourceId,
    feed_data_topic: route.feedDataTopic,
    desired_id: desiredId,
    status,
    retryable: status === "error",
    error: error ?? null,
    acknowledged_at: new Date(now).toISOString(),
  };
}

/** The payload as JSON (undefined when it is not) and its message_id when it has a string one. */
function readPayload(raw: Uint8Array): { parsed: unknown; messageId: string | null; json: boolean } {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(raw));
    const id = (parsed as { message_id?: unknown } | null)?.message_id;
    return { parsed, messageId: typeof id === "string" ? id : null, json: true };
  } catch {
    return { parsed: null, messageId: null, json: false };
  }
}

/** The answer of the "error-retryable" fault switch: nothing stored, try again later. */
export function answerServerError(route: RouteRecord, raw: Uint8Array, now: number): Processed {
  const { parsed, messageId } = readPayload(raw);
  return {
    payload: parsed,
    ack: buildAck(route, now, messageId, null, "error", { type: "internal", message: "fault switch: server error" }),
  };
}

function canonical(feed: StoredFeed): string {
  return JSON.stringify([
    feed.message_id,
    feed.value,
    feed.value_received_at,
    feed.desired_id ?? null,
    feed.desired_id === undefined ? null : feed.report_status ?? "applied",
    feed.sequence_number ?? null,
  ]);
}

/**
 * Applies 5.1 and 5.2 to one device publish: validates it, decides `accepted`, `replayed`,
 * `conflict` or `rejected`, records it, and builds the ack.
 */
export function processFeed(
  state: EmulatorState,
  device: DeviceRecord,
  route: RouteRecord,
  raw: Uint8Array,
  policy: AckPolicy,
  now: number,
): Processed {
  const ack = (messageId: string | null, desiredId: string | null, status: AckStatus, error?: { type: string; message: string }) =>
    buildAck(route, now, messageId, desiredId, status, error);

  const { parsed, messageId, json } = readPayload(raw);
  if (!json) {
    return { payload: null, ack: ack(null, null, "rejected", { type: "invalid_payload", message: "payload is not JSON" }) };
  }
  if (raw.byteLength > policy.maxPayloadBytes) {
    return {
      payload: parsed,
      ack: ack(messageId, null, "rejected", {
        type: "payload_too_large",
        message: `payload is ${raw.byteLength} bytes, over ${policy.maxPayloadBytes}`,
      }),
    };
  }
  const result = v.safeParse(FeedPayloadSchema, parsed);
  if (!result.success) {
    const issue = result.issues[0];
    const path = issue.path?.map((item) => String(item.key)).join(".");
    return {
      payload: parsed,
      ack: ack(messageId, null, "rejected", { type: "invalid_payload", message: path ? `${path}: ${issue.message}` : issue.message }),
    };
  }
  const { message_id, value, value_received_at, desired_id, report_status, sequence_number } = result.output;
  const feed: StoredFeed = {
    message_id,
    value,
    value_received_at,
    ...(desired_id === undefined ? {} : { desired_id }),
    ...(report_status === undefined ? {} : { report_status }),
    ...(sequence_number === undefined ? {} : { sequence_number }),
  };
  const desiredId = feed.desired_id ?? null;
  if (!Number.isFinite(Number(feed.value)) || feed.value.trim() === "") {
    return {
      payload: parsed,
      ack: ack(feed.message_id, desiredId, "rejected", {
        type: "invalid_payload",
        message: `value "${feed.value}" is not a number for NumericRange`,
      }),
    };
  }
  if (desiredId !== null) {
    const desired = state.desired.get(desiredId);
    if (!desired || desired.routeId !== route.routeId || route.sourceType !== "command") {
      return {
        payload: parsed,
        ack: ack(feed.message_id, desiredId, "rejected", {
          type: "unknown_desired_id",
          message: `desired_id ${desiredId} is not open on this route`,
        }),
      };
    }
  }
  const previous = state.stored(device.deviceId, route.routeId, feed.message_id);
  if (previous) {
    const status = canonical(previous) === canonical(feed) ? "replayed" : "conflict";
    return { payload: parsed, ack: ack(feed.message_id, desiredId, status) };
  }
  state.store(device.deviceId, route.routeId, feed);
  if (desiredId !== null) {
    const desired = state.desired.get(desiredId);
    if (desired && !desired.answer) {
      state.answerDesired(desired, { messageId: feed.message_id, reportStatus: feed.report_status ?? "applied", value: feed.value });
    }
  }
  return { payload: parsed, ack: ack(feed.message_id, desiredId, "accepted") };
}
