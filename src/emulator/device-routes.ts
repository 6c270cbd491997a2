import { Hono } from "hono";
import * as v from "valibot";
import { apiError, authorize, type EmulatorDeps } from "./context.ts";
import { MQTT_SCOPES } from "./credentials.ts";
import type { DeviceRecord } from "./state.ts";

const CredentialRequestSchema = v.object({
  device_id: v.union([v.number(), v.string()]),
  scopes: v.array(v.string()),
});

/** The scopes a device's catalog tells it to ask for: desired only when it has command routes. */
export function credentialScopes(device: DeviceRecord): string[] {
  const scopes = ["iot:mqtt:connect", "iot:mqtt:ack:read", "iot:mqtt:feed-data:write"];
  if (device.routes.some((route) => route.sourceType === "command")) scopes.push("iot:mqtt:desired:read");
  return scopes;
}

/** The MQTT catalog of section 3 for one device. */
export function buildCatalog(deps: EmulatorDeps, device: DeviceRecord): unknown {
  return {
    code: 2000,
    mqtt: {
      broker_url: deps.brokerUrl(),
      protocol: "mqtt-5.0",
      client_id: device.clientId,
      feed_data_ack_topic: device.ackTopic,
      ...(deps.mqttOffered(device)
        ? {
          credential_endpoint: {
            endpoint: "/iot/v1/mqtt-credentials",
            http_method: "POST",
            body: { device_id: device.deviceId, scopes: deps.faults.credentialScopes ?? credentialScopes(device) },
          },
        }
        : {}),
      limits: deps.limits,
    },
    mqtt_routes: device.routes.map((route) => ({
      source_type: route.sourceType,
      source_id: route.sourceId,
      kind: route.kind,
      value_type: route.valueType,
      ...(route.pinPort === undefined ? {} : { pin_port: route.pinPort }),
      mqtt: {
        feed_data_topic: route.feedDataTopic,
        feed_data_publish_scope: "iot:mqtt:feed-data:write",
        ...(route.desiredTopic ? { desired_topic: route.desiredTopic, desired_subscribe_scope: "iot:mqtt:desired:read" } : {}),
      },
    })),
  };
}

/** The device-facing `iot/v1` routes: the MQTT catalog and MQTT credentials. */
export function deviceRoutes(deps: EmulatorDeps): Hono {
  const app = new Hono();

  app.get("/iot/v1/devices/:device_id/mqtt", (c) => {
    const auth = authorize(deps, c, "iot:catalog:read");
    if (auth instanceof Response) return auth;
    if (c.req.param("device_id") !== String(auth.device.deviceId)) {
      return deps.state.devices.has(Number(c.req.param("device_id")))
        ? apiError(c, 403, 4003, "the token belongs to another device")
        : apiError(c, 404, 4004, `device ${c.req.param("device_id")} not found`);
    }
    return c.json(buildCatalog(deps, auth.device));
  });

  app.post("/iot/v1/mqtt-credentials", async (c) => {
    const auth = authorize(deps, c, "iot:mqtt:connect");
    if (auth instanceof Response) return auth;
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return apiError(c, 400, 4000, "the body is not JSON");
    }
    const parsed = v.safeParse(CredentialRequestSchema, body);
    if (!parsed.success) return apiError(c, 400, 4000, "the body needs device_id and scopes");
    const { device_id, scopes } = parsed.output;
    if (String(device_id) !== String(auth.device.deviceId)) {
      return apiError(c, 403, 4003, "the token belongs to another device");
    }
    if (!deps.mqttOffered(auth.device)) return apiError(c, 403, 4003, "MQTT is not available for this device");
    const unknown = scopes.filter((scope) => !(MQTT_SCOPES as readonly string[]).includes(scope));
    if (unknown.length > 0) return apiError(c, 400, 4022, `not an MQTT scope: ${unknown.join(" ")}`);
    const missing = scopes.filter((scope) => !auth.token.scopes.includes(scope));
    if (missing.length > 0) return apiError(c, 403, 4003, `the token lacks scope ${missing.join(" ")}`);
    const credential = await deps.issuer.issue(auth.device, scopes);
    return c.json({ code: 2000, mqtt: credential });
  });

  return app;
}
