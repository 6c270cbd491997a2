import * as v from "valibot";
import type { Secret } from "../secret.ts";
import type { ApiClient } from "./api-client.ts";

const Topic = v.pipe(v.string(), v.minLength(1), v.check((topic) => !/[+#]/.test(topic), "must not hold a wildcard"));

const RouteSchema = v.object({
  source_type: v.picklist(["sensor", "command"], 'must be "sensor" or "command"'),
  source_id: v.optional(v.string()),
  kind: v.optional(v.string()),
  value_type: v.optional(v.string()),
  pin_port: v.optional(v.union([v.string(), v.pipe(v.number(), v.transform(String))])),
  mqtt: v.object({
    feed_data_topic: Topic,
    desired_topic: v.optional(Topic),
  }),
});

const CredentialEndpointSchema = v.object({
  endpoint: v.pipe(v.string(), v.startsWith("/", "must be a path")),
  http_method: v.optional(v.picklist(["POST", "GET"]), "POST"),
  body: v.optional(v.record(v.string(), v.unknown())),
});

const LimitsSchema = v.object({
  max_payload_bytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(64))),
  max_inflight: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  max_publish_per_second: v.optional(v.pipe(v.number(), v.minValue(0.1))),
  keepalive_seconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(5), v.maxValue(65535))),
  session_expiry_seconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
});

/** The MQTT catalog answer (section 3); unknown fields are ignored, optional ones may be missing. */
export const CatalogSchema = v.object({
  code: v.optional(v.number()),
  mqtt: v.object({
    broker_url: v.pipe(v.string(), v.url(), v.check((url) => url.startsWith("mqtts://"), "must be an mqtts:// URL")),
    protocol: v.optional(v.string()),
    client_id: v.pipe(v.string(), v.minLength(1)),
    feed_data_ack_topic: Topic,
    credential_endpoint: v.optional(CredentialEndpointSchema),
    limits: v.optional(LimitsSchema, {}),
  }),
  mqtt_routes: v.optional(v.array(RouteSchema), []),
});

/** A validated MQTT catalog. */
export type Catalog = v.InferOutput<typeof CatalogSchema>;
/** One route of the catalog. */
export type CatalogRoute = Catalog["mqtt_routes"][number];

/** Reads `GET /iot/v1/devices/{device_id}/mqtt`. */
export function fetchCatalog(api: ApiClient, token: Secret, deviceId: string | number): Promise<Catalog> {
  return api.request({
    method: "GET",
    path: `/iot/v1/devices/${encodeURIComponent(String(deviceId))}/mqtt`,
    schema: CatalogSchema,
    headers: { authorization: `Bearer ${token.reveal()}` },
  });
}
