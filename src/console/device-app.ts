// The device console's HTTP side: the page, a JSON API, server-sent events and /metrics, behind
// an access token when one is configured. Nothing it answers holds a secret.
import { timingSafeEqual } from "node:crypto";
import { Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { streamSSE } from "hono/streaming";
import * as v from "valibot";
import type { Clock } from "../clock.ts";
import type { DeviceRuntime } from "../device/runtime.ts";
import type { Secret } from "../secret.ts";
import type { DeviceMonitor } from "./device-monitor.ts";
import { devicePage, tokenPage } from "./device-page.ts";
import { routeRows, snapshot, statusView } from "./device-snapshot.ts";
import { OPENMETRICS_TYPE } from "./metrics.ts";

/** What the console serves. */
export interface DeviceConsoleOptions {
  readonly runtime: DeviceRuntime;
  readonly monitor: DeviceMonitor;
  readonly deviceId: string | number;
  readonly clock: Clock;
  /** When set, every request needs it (bearer header, or the cookie the token page sets). */
  readonly token?: Secret | undefined;
  /** How often the page gets a fresh snapshot (and Bun's idle timeout never closes the stream). */
  readonly snapshotEveryMs?: number;
}

const COOKIE = "realer_console";
const LocalSchema = v.object({ route: v.string(), value: v.picklist([0, 1], "value must be 0 or 1") });

function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The console as a hono app. */
export function deviceConsoleApp(options: DeviceConsoleOptions): Hono {
  const { runtime, monitor, deviceId, clock, token } = options;
  const app = new Hono();
  app.onError((error, c) => c.json({ error: error.message }, 400));

  if (token) {
    app.post("/login", async (c) => {
      const form = await c.req.parseBody().catch(() => ({} as Record<string, unknown>));
      const given = typeof form.token === "string" ? form.token : "";
      if (!same(given, token.reveal())) return c.html(tokenPage(true), 401);
      setCookie(c, COOKIE, given, { httpOnly: true, sameSite: "Strict", path: "/" });
      return c.redirect("./", 303);
    });
    app.use("*", async (c, next) => {
      const bearer = c.req.header("authorization")?.replace(/^Bearer\s+/i, "");
      const given = bearer ?? getCookie(c, COOKIE) ?? "";
      if (same(given, token.reveal())) return await next();
      if (c.req.method === "GET" && new URL(c.req.url).pathname === "/") return c.html(tokenPage(false), 401);
      return c.json({ error: "this console needs its access token (Authorization: Bearer …)" }, 401, { "www-authenticate": "Bearer" });
    });
  }

  app.get("/", async (c) => c.html(devicePage(await snapshot(runtime, monitor, deviceId, clock.now()))));
  app.get("/api/status", (c) => c.json(statusView(runtime, deviceId, clock.now())));
  app.get("/api/routes", async (c) => c.json({ routes: await routeRows(runtime, monitor) }));
  app.get("/api/events", (c) => c.json({ events: monitor.recent() }));
  app.get("/metrics", (c) => c.body(monitor.registry.render(), 200, { "content-type": OPENMETRICS_TYPE }));

  app.post("/api/routes/local", async (c) => {
    // JSON only: a form on another site cannot send it without a preflight, which gets no CORS answer.
    if (!c.req.header("content-type")?.startsWith("application/json")) return c.json({ error: "send JSON: {route, value}" }, 415);
    const parsed = v.safeParse(LocalSchema, await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json({ error: `bad request: ${parsed.issues[0].message}` }, 400);
    const value = await runtime.setLocal(parsed.output.route, parsed.output.value);
    return c.json({ route: parsed.output.route, value });
  });

  app.get("/api/stream", (c) =>
    streamSSE(c, async (stream) => {
      let closed = false;
      const send = async () => {
        if (closed) return;
        await stream.writeSSE({ event: "snapshot", data: JSON.stringify(await snapshot(runtime, monitor, deviceId, clock.now())) });
      };
      let pending: ReturnType<typeof setTimeout> | undefined;
      const unsubscribe = monitor.subscribe((event) => {
        void stream.writeSSE({ event: "event", data: JSON.stringify(event) }).catch(() => {});
        // Many events in a burst make one snapshot.
        pending ??= setTimeout(() => {
          pending = undefined;
          void send().catch(() => {});
        }, 100);
      });
      const timer = setInterval(() => void send().catch(() => {}), options.snapshotEveryMs ?? 2000);
      stream.onAbort(() => {
        closed = true;
        unsubscribe();
        clearInterval(timer);
        clearTimeout(pending);
      });
      await send();
      while (!closed) await stream.sleep(1000);
    }));
  return app;
}
