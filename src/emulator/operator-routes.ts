import { Hono } from "hono";
import * as v from "valibot";
import { apiError, type EmulatorDeps } from "./context.ts";
import { describeFaults, FaultsPatchSchema, patchFaults } from "./faults.ts";
import { randomSecret } from "./ids.ts";
import type { DeviceRecord } from "./state.ts";

const ProvisionSchema = v.object({
  routes: v.array(
    v.object({
      source_type: v.picklist(["sensor", "command"]),
      kind: v.optional(v.string()),
      pin_port: v.optional(v.string()),
      min: v.optional(v.number()),
      max: v.optional(v.number()),
    }),
  ),
});

const DesiredSchema = v.object({
  source_id: v.string(),
  value: v.string(),
  expires_in: v.optional(v.pipe(v.number(), v.integer(), v.minValue(-3600), v.maxValue(86400))),
});

/** A device as the operator sees it: no secret, no password. */
export function describeDevice(deps: EmulatorDeps, device: DeviceRecord): unknown {
  return {
    device_id: device.deviceId,
    client_id: device.clientId,
    mqtt_offered: deps.mqttOffered(device),
    feed_data_ack_topic: device.ackTopic,
    routes: device.routes.map((route) => ({
      route_id: route.routeId,
      source_type: route.sourceType,
      source_id: route.sourceId,
      kind: route.kind,
      pin_port: route.pinPort ?? null,
      min: route.min,
      max: route.max,
      feed_data_topic: route.feedDataTopic,
      desired_topic: route.desiredTopic ?? null,
      last_sequence_number: route.lastSequence,
    })),
  };
}

/** The operator side (ours, not Realer's): provision devices, set desired values, read feed data and acks. */
export function operatorRoutes(deps: EmulatorDeps): Hono {
  const app = new Hono();
  const findDevice = (id: string) => deps.state.devices.get(Number(id));

  app.post("/devices", async (c) => {
    const parsed = v.safeParse(ProvisionSchema, await c.req.json().catch(() => undefined));
    if (!parsed.success) return apiError(c, 400, 4000, "the body needs routes: [{source_type, kind?, pin_port?}]");
    const secret = randomSecret();
    const device = deps.state.addDevice(secret, parsed.output.routes);
    deps.logger.info("device.provisioned", { device_id: device.deviceId, client_id: device.clientId, routes: device.routes.length });
    return c.json({ ...(describeDevice(deps, device) as object), client_secret: secret }, 201);
  });

  app.get("/devices", (c) => c.json({ devices: [...deps.state.devices.values()].map((device) => describeDevice(deps, device)) }));

  app.get("/devices/:id", (c) => {
    const device = findDevice(c.req.param("id"));
    return device ? c.json(describeDevice(deps, device)) : apiError(c, 404, 4004, "no such device");
  });

  app.post("/devices/:id/desired", async (c) => {
    const device = findDevice(c.req.param("id"));
    if (!device) return apiError(c, 404, 4004, "no such device");
    const parsed = v.safeParse(DesiredSchema, await c.req.json().catch(() => undefined));
    if (!parsed.success) return apiError(c, 400, 4000, "the body needs source_id and value (a string)");
    const route = device.routes.find((candidate) => candidate.sourceId === parsed.output.source_id);
    if (!route || route.sourceType !== "command") return apiError(c, 404, 4004, "no command route with that source_id");
    const desired = await deps.publishDesired(device, route, parsed.output.value, parsed.output.expires_in ?? 300);
    return c.json({
      desired_id: desired.desiredId,
      value: desired.value,
      sequence_number: desired.sequenceNumber,
      requested_at: desired.requestedAt,
      expires_at: desired.expiresAt,
    }, 201);
  });

  app.get("/devices/:id/feed-data", (c) => {
    const device = findDevice(c.req.param("id"));
    return device ? c.json({ feed_data: deps.state.feedOf(device.deviceId) }) : apiError(c, 404, 4004, "no such device");
  });

  app.get("/devices/:id/acks", (c) => {
    const device = findDevice(c.req.param("id"));
    return device ? c.json({ acks: deps.state.acksOf(device.deviceId) }) : apiError(c, 404, 4004, "no such device");
  });

  app.get("/faults", (c) => c.json(describeFaults(deps.faults)));

  app.put("/faults", async (c) => {
    const parsed = v.safeParse(FaultsPatchSchema, await c.req.json().catch(() => undefined));
    if (!parsed.success) return apiError(c, 400, 4000, `bad fault switch: ${parsed.issues[0].message}`);
    patchFaults(deps.faults, parsed.output);
    deps.logger.info("faults.changed", { faults: JSON.stringify(describeFaults(deps.faults)) });
    return c.json(describeFaults(deps.faults));
  });

  app.post("/broker/:action{stop|start|restart}", async (c) => {
    const action = c.req.param("action") as "stop" | "start" | "restart";
    await deps.controlBroker(action);
    return c.json({ broker: action === "stop" ? "stopped" : "running" });
  });

  app.post("/devices/:id/revoke-credentials", async (c) => {
    const device = findDevice(c.req.param("id"));
    if (!device) return apiError(c, 404, 4004, "no such device");
    return c.json({ revoked: await deps.revokeCredentials(device.deviceId) });
  });

  app.put("/devices/:id/mqtt", async (c) => {
    const device = findDevice(c.req.param("id"));
    if (!device) return apiError(c, 404, 4004, "no such device");
    const parsed = v.safeParse(v.object({ offered: v.boolean() }), await c.req.json().catch(() => undefined));
    if (!parsed.success) return apiError(c, 400, 4000, "the body needs offered: true or false");
    deps.setMqttOffered(device.deviceId, parsed.output.offered);
    return c.json({ mqtt_offered: parsed.output.offered });
  });

  app.get("/devices/:id/desired", (c) => {
    const device = findDevice(c.req.param("id"));
    if (!device) return apiError(c, 404, 4004, "no such device");
    const list = [...deps.state.desired.values()].filter((desired) => desired.deviceId === device.deviceId);
    return c.json({ desired_states: list });
  });

  return app;
}
