import * as v from "valibot";
import { Secret } from "../secret.ts";
import type { ApiClient } from "./api-client.ts";
import type { Catalog } from "./catalog.ts";

const CredentialSchema = v.object({
  mqtt: v.object({
    mqtt_client_id: v.pipe(v.string(), v.minLength(1)),
    mqtt_username: v.pipe(v.string(), v.minLength(1)),
    mqtt_credential: v.pipe(v.string(), v.minLength(1), v.maxLength(16_384, "mqtt_credential is longer than 16 KiB")),
    expires_in: v.pipe(v.number(), v.minValue(0)),
    renew_after: v.pipe(v.number(), v.minValue(0)),
    session_hard_expires_in: v.optional(v.pipe(v.number(), v.minValue(0))),
  }),
});

/** The CONNECT tuple of section 4, with lifetimes turned into instants. */
export interface MqttCredential {
  readonly clientId: string;
  readonly username: string;
  /** Kept in memory only, for as short as possible. */
  readonly password: Secret;
  readonly issuedAt: number;
  readonly renewAt: number;
  readonly expiresAt: number;
  readonly hardExpiresAt: number;
}

/** Calls the catalog's `credential_endpoint` with its method and body. */
export async function requestCredential(
  api: ApiClient,
  token: Secret,
  catalog: Catalog,
  now: number,
): Promise<MqttCredential> {
  const endpoint = catalog.mqtt.credential_endpoint;
  if (!endpoint) throw new TypeError("Cannot request an MQTT credential: the catalog has no credential_endpoint");
  const answer = await api.request({
    method: endpoint.http_method,
    path: endpoint.endpoint,
    schema: CredentialSchema,
    headers: { authorization: `Bearer ${token.reveal()}`, "content-type": "application/json" },
    ...(endpoint.http_method === "POST" ? { body: JSON.stringify(endpoint.body ?? {}) } : {}),
  });
  const mqtt = answer.mqtt;
  return {
    clientId: mqtt.mqtt_client_id,
    username: mqtt.mqtt_username,
    password: new Secret(mqtt.mqtt_credential),
    issuedAt: now,
    renewAt: now + mqtt.renew_after * 1000,
    expiresAt: now + mqtt.expires_in * 1000,
    hardExpiresAt: now + (mqtt.session_hard_expires_in ?? mqtt.expires_in) * 1000,
  };
}
