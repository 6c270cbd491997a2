import * as v from "valibot";
import type { Secret } from "../secret.ts";
import type { ApiClient } from "./api-client.ts";

/** The bootstrap descriptor; only what the device uses is checked, the rest is ignored. */
export const BootstrapSchema = v.object({
  available_protocols: v.array(v.string()),
  catalog_revision: v.optional(v.union([v.string(), v.number()])),
  runtime_revision: v.optional(v.union([v.string(), v.number()])),
  cadence: v.optional(v.object({ desired_state_poll_seconds: v.optional(v.pipe(v.number(), v.minValue(0))) }), {}),
});
/** A validated bootstrap descriptor. */
export type Bootstrap = v.InferOutput<typeof BootstrapSchema>;

const DesiredStatesSchema = v.object({
  desired_states: v.optional(v.array(v.looseObject({ command_id: v.optional(v.string()), desired_id: v.optional(v.string()) })), []),
});

const FeedResultSchema = v.object({
  result: v.object({
    message_id: v.nullish(v.string()),
    status: v.string(),
    error: v.nullish(v.object({ type: v.optional(v.string()), message: v.optional(v.string()) })),
  }),
});
/** The result of one HTTPS feed-data item. */
export type FeedResult = v.InferOutput<typeof FeedResultSchema>["result"];

const FeedBatchResultSchema = v.object({
  results: v.array(v.object({
    message_id: v.nullish(v.string()),
    status: v.string(),
    error: v.nullish(v.object({ type: v.optional(v.string()), message: v.optional(v.string()) })),
  })),
});

const bearer = (token: Secret) => ({ authorization: `Bearer ${token.reveal()}` });
const devicePath = (deviceId: string | number, rest: string) => `/iot/v1/devices/${encodeURIComponent(String(deviceId))}/${rest}`;

/** `GET …/bootstrap`; a 404 (an older server) comes back as an HttpError with code 4004. */
export function fetchBootstrap(api: ApiClient, token: Secret, deviceId: string | number): Promise<Bootstrap> {
  return api.request({ method: "GET", path: devicePath(deviceId, "bootstrap"), schema: BootstrapSchema, headers: bearer(token) });
}

/** `GET …/desired-states`: each item keeps its own fields for the desired-state handler. */
export async function fetchDesiredStates(api: ApiClient, token: Secret, deviceId: string | number): Promise<Record<string, unknown>[]> {
  const answer = await api.request({
    method: "GET",
    path: devicePath(deviceId, "desired-states"),
    schema: DesiredStatesSchema,
    headers: bearer(token),
  });
  return answer.desired_states;
}

/** `POST …/feed-data` with one item: the 5.1 fields plus `command_id` or `sensor_id`. */
export async function postFeedData(
  api: ApiClient,
  token: Secret,
  deviceId: string | number,
  item: Record<string, unknown>,
): Promise<FeedResult> {
  const answer = await api.request({
    method: "POST",
    path: devicePath(deviceId, "feed-data"),
    schema: FeedResultSchema,
    headers: { ...bearer(token), "content-type": "application/json" },
    body: JSON.stringify(item),
  });
  return answer.result;
}

/** `POST …/feed-data/batches` with several items: one result per item, in item order. */
export async function postFeedDataBatch(
  api: ApiClient,
  token: Secret,
  deviceId: string | number,
  items: readonly Record<string, unknown>[],
): Promise<FeedResult[]> {
  const answer = await api.request({
    method: "POST",
    path: devicePath(deviceId, "feed-data/batches"),
    schema: FeedBatchResultSchema,
    headers: { ...bearer(token), "content-type": "application/json" },
    body: JSON.stringify({ items }),
  });
  return answer.results;
}
