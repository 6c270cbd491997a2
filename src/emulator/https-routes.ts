import { Hono } from "hono";
import * as v from "valibot";
import { apiError, authorize, type EmulatorDeps } from "./context.ts";
import { processFeed } from "./feed-processor.ts";
import type { AckMessage, DeviceRecord, RouteRecord } from "./state.ts";

const ItemSchema = v.looseObject({ command_id: v.optional(v.string()), sensor_id: v.optional(v.string()) });
const BatchSchema = v.object({ items: v.pipe(v.array(v.unknown()), v.maxLength(100, "at most 100 items per batch")) });

const HTTPS_STATUS: Record<AckMessage["status"], string> = {
  accepted: "created",
  replayed: "replayed",
  conflict: "conflict",
  rejected: "rejected",
  error: "error",
};

/** The commands and sensors catalogs (section 8), shared by their routes and the bootstrap. */
export function catalogs(device: DeviceRecord, lastValue: (route: RouteRecord) => string) {
  return {
    commands: device.routes.filter((r) => r.sourceType === "command").map((route) => ({
      id: route.sourceId,
      value: lastValue(route),
      value_type: route.valueType,
      kind: route.kind,
      ...(route.pinPort === undefined ? {} : { pin_port: route.pinPort }),
    })),
    sensors: device.routes.filter((r) => r.sourceType === "sensor").map((route) => ({
      id: route.sourceId,
      kind: route.kind,
      qc: "state",
      mu: "none",
      ...(route.pinPort === undefined ? {} : { pin_port: route.pinPort }),
    })),
  };
}

/** Section 8: catalogs, desired-state polling, feed data and batches, and the bootstrap descriptor. */
export function httpsRoutes(deps: EmulatorDeps): Hono {
  const app = new Hono();
  const own = (deviceParam: string, device: DeviceRecord) => deviceParam === String(device.deviceId);
  const lastValue = (route: RouteRecord) => {
    const feed = deps.state.feedOf(route.deviceId).filter((entry) => entry.routeId === route.routeId && entry.status === "accepted").at(-1);
    return (feed?.payload as { value?: string } | undefined)?.value ?? "0.0";
  };

  app.get("/iot/v1/devices/:device_id/bootstrap", (c) => {
    const auth = authorize(deps, c, "iot:catalog:read");
    if (auth instanceof Response) return auth;
    if (!own(c.req.param("device_id"), auth.device)) return apiError(c, 403, 4003, "the token belongs to another device");
    if (!deps.bootstrapServed()) return apiError(c, 404, 4004, "no bootstrap on this server");
    const mqtt = deps.mqttOffered(auth.device);
    return c.json({
      code: 2000,
      available_protocols: deps.faults.bootstrapProtocols ?? (mqtt ? ["mqtt", "https"] : ["https"]),
      catalog_revision: `catalog-${auth.device.routes.length}`,
      runtime_revision: `runtime-${mqtt ? "mqtt" : "https"}`,
      ...catalogs(auth.device, lastValue),
      cadence: { desired_state_poll_seconds: deps.desiredPollSeconds },
      backoff: { initial_seconds: 1, max_seconds: 60 },
    });
  });

  for (const kind of ["commands", "sensors"] as const) {
    app.get(`/iot/v1/devices/:device_id/${kind}`, (c) => {
      const auth = authorize(deps, c, "iot:catalog:read");
      if (auth instanceof Response) return auth;
      if (!own(c.req.param("device_id"), auth.device)) return apiError(c, 403, 4003, "the token belongs to another device");
      return c.json({ code: 2000, [kind]: catalogs(auth.device, lastValue)[kind] });
    });
  }

  app.get("/iot/v1/devices/:device_id/desired-states", (c) => {
    const auth = authorize(deps, c, "iot:desired-state:read");
    if (auth instanceof Response) return auth;
    if (!own(c.req.param("device_id"), auth.device)) return apiError(c, 403, 4003, "the token belongs to another device");
    const now = deps.now();
    const open = auth.device.routes.flatMap((route) => {
      const newest = [...deps.state.desired.values()]
        .filter((d) => d.routeId === route.routeId && !d.answer && Date.parse(d.expiresAt) > now)
        .sort((a, b) => b.sequenceNumber - a.sequenceNumber)[0];
      return newest
        ? [{
          desired_id: newest.desiredId,
          command_id: route.sourceId,
          value: newest.value,
          sequence_number: newest.sequenceNumber,
          requested_at: newest.requestedAt,
          expires_at: newest.expiresAt,
        }]
        : [];
    });
    return c.json({ code: 2000, desired_states: open });
  });

  const accept = (device: DeviceRecord, item: unknown): { message_id: string | null; status: string; error?: unknown } => {
    const parsed = v.safeParse(ItemSchema, item);
    const ids = parsed.success ? parsed.output : {};
    const route = device.routes.find((r) =>
      r.sourceId === (ids.command_id ?? ids.sensor_id) &&
      r.sourceType === (ids.command_id === undefined ? "sensor" : "command")
    );
    const messageId = typeof (item as { message_id?: unknown })?.message_id === "string"
      ? (item as { message_id: string }).message_id
      : null;
    if (!route) {
      return {
        message_id: messageId,
        status: "rejected",
        error: { type: "invalid_payload", message: "command_id or sensor_id names no route of this device" },
      };
    }
    const { command_id: _c, sensor_id: _s, ...feed } = item as Record<string, unknown>;
    const { ack, payload } = processFeed(deps.state, device, route, new TextEncoder().encode(JSON.stringify(feed)), {
      maxPayloadBytes: deps.limits.max_payload_bytes,
    }, deps.now());
    deps.state.logFeed({
      deviceId: device.deviceId,
      routeId: route.routeId,
      sourceId: route.sourceId,
      receivedAt: new Date(deps.now()).toISOString(),
      payload,
      status: ack.status,
    });
    deps.state.logAck(device.deviceId, ack);
    return { message_id: ack.message_id, status: HTTPS_STATUS[ack.status], ...(ack.error ? { error: ack.error } : {}) };
  };

  app.post("/iot/v1/devices/:device_id/feed-data", async (c) => {
    const auth = authorize(deps, c, "iot:feed-data:write");
    if (auth instanceof Response) return auth;
    if (!own(c.req.param("device_id"), auth.device)) return apiError(c, 403, 4003, "the token belongs to another device");
    const body = await c.req.json().catch(() => undefined);
    if (typeof body !== "object" || body === null) return apiError(c, 400, 4000, "the body is not a JSON object");
    const result = accept(auth.device, body);
    return c.json({ code: 2000, result }, result.status === "created" ? 201 : 200);
  });

  app.post("/iot/v1/devices/:device_id/feed-data/batches", async (c) => {
    const auth = authorize(deps, c, "iot:feed-data:write");
    if (auth instanceof Response) return auth;
    if (!own(c.req.param("device_id"), auth.device)) return apiError(c, 403, 4003, "the token belongs to another device");
    const parsed = v.safeParse(BatchSchema, await c.req.json().catch(() => undefined));
    if (!parsed.success) return apiError(c, 400, 4000, `the body needs items: ${parsed.issues[0].message}`);
    // One commit for the whole batch, as the broker path makes one per report.
    return c.json({ code: 2000, results: deps.state.batch(() => parsed.output.items.map((item) => accept(auth.device, item))) });
  });

  return app;
}
