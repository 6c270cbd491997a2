// The device console's HTTP side: the page, a JSON API, server-sent events and /metrics, behind
// an access token when one is configured. Nothing it answers holds a secret, and no answer
// repeats what the request sent.
import { type Context, Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { streamSSE } from "hono/streaming";
import * as v from "valibot";
import type { Clock, Timer } from "../clock.ts";
import type { DeviceRuntime } from "../device/runtime.ts";
import { describeError, RealerError } from "../errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import type { Secret } from "../secret.ts";
import type { DeviceMonitor } from "./device-monitor.ts";
import { CONSOLE_SCRIPT, devicePage, tokenPage } from "./device-page.ts";
import { routeRows, snapshot, statusView } from "./device-snapshot.ts";
import { OPENMETRICS_TYPE } from "./metrics.ts";
import { bodyBound, requestGuard, securityHeaders } from "./request-guard.ts";
import { ConsoleSessions } from "./sessions.ts";
import { STYLE } from "./style.ts";

/** What the console serves. */
export interface DeviceConsoleOptions {
  readonly runtime: DeviceRuntime;
  readonly monitor: DeviceMonitor;
  readonly deviceId: string | number;
  readonly clock: Clock;
  /** When set, every request needs it (bearer header, or the session the token page opens). */
  readonly token?: Secret | undefined;
  /** The address the console listens on, and other host names it answers to (DNS rebinding). */
  readonly host?: string;
  readonly allowedHosts?: readonly string[];
  readonly logger?: Logger;
  /** How often the page gets a fresh snapshot (and Bun's idle timeout never closes the stream). */
  readonly snapshotEveryMs?: number;
}

const COOKIE = "realer_console";
const LocalSchema = v.object({
  route: v.pipe(v.string(), v.maxLength(1024)),
  value: v.pipe(v.number("value must be a number"), v.finite("value must be a finite number")),
});

/** The console as a hono app. */
export function deviceConsoleApp(options: DeviceConsoleOptions): Hono {
  const { runtime, monitor, deviceId, clock, token } = options;
  const logger = options.logger ?? silentLogger;
  const app = new Hono();
  app.onError((error, c) => {
    logger.warn("console.error", { path: new URL(c.req.url).pathname, error: describeError(error) });
    return c.json({ error: "the console could not answer that request" }, 500);
  });
  app.use("*", securityHeaders());
  app.use("*", requestGuard(options.host ?? "127.0.0.1", options.allowedHosts ?? []));
  app.use("*", bodyBound());

  if (token) {
    const sessions = new ConsoleSessions(token, clock);
    const tooMany = (c: Context, lockedMs: number) => {
      const seconds = String(Math.ceil(lockedMs / 1000));
      return c.json({ error: "too many wrong tokens; wait and try again", retry: Number(seconds) }, 429, { "retry-after": seconds });
    };
    app.post("/login", async (c) => {
      const lockedMs = sessions.lockedFor();
      if (lockedMs > 0) return tooMany(c, lockedMs);
      const form = await c.req.parseBody().catch(() => ({} as Record<string, unknown>));
      const given = typeof form.token === "string" ? form.token : "";
      if (!sessions.checkToken(given)) {
        logger.warn("console.wrong_token", { via: "page" });
        return c.html(tokenPage(true), 401);
      }
      setCookie(c, COOKIE, sessions.open(), { httpOnly: true, sameSite: "Strict", path: "/" });
      return c.redirect("./", 303);
    });
    app.use("*", async (c, next) => {
      // The token page needs its stylesheet before anyone has logged in; it holds nothing else.
      if (c.req.method === "GET" && new URL(c.req.url).pathname === "/style.css") return await next();
      const cookie = getCookie(c, COOKIE);
      if (cookie !== undefined && sessions.isSession(cookie)) return await next();
      const bearer = c.req.header("authorization")?.replace(/^Bearer\s+/i, "");
      if (bearer !== undefined) {
        const lockedMs = sessions.lockedFor();
        if (lockedMs > 0) return tooMany(c, lockedMs);
        if (sessions.checkToken(bearer)) return await next();
        logger.warn("console.wrong_token", { via: "bearer" });
      }
      const path = new URL(c.req.url).pathname;
      if (c.req.method === "GET" && path === "/") return c.html(tokenPage(false), 401);
      return c.json({ error: "this console needs its access token (Authorization: Bearer …)" }, 401, { "www-authenticate": "Bearer" });
    });
  }

  app.get("/", async (c) => c.html(devicePage(await snapshot(runtime, monitor, deviceId, clock.now()))));
  app.get("/style.css", (c) => c.body(STYLE, 200, { "content-type": "text/css; charset=utf-8" }));
  app.get("/app.js", (c) => c.body(CONSOLE_SCRIPT, 200, { "content-type": "text/javascript; charset=utf-8" }));
  app.get("/api/status", (c) => c.json(statusView(runtime, deviceId, clock.now())));
  app.get("/api/routes", async (c) => c.json({ routes: await routeRows(runtime, monitor) }));
  app.get("/api/events", (c) => c.json({ events: monitor.recent() }));
  app.get("/metrics", (c) => c.body(monitor.registry.render(), 200, { "content-type": OPENMETRICS_TYPE }));

  app.post("/api/routes/local", async (c) => {
    // JSON only: a form on another site cannot send it without a preflight, which gets no CORS answer.
    if (!c.req.header("content-type")?.startsWith("application/json")) return c.json({ error: "send JSON: {route, value}" }, 415);
    const parsed = v.safeParse(LocalSchema, await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json({ error: "send JSON: {route, value} with value 0 or 1 (a level for a dimmer)" }, 400);
    try {
      const value = await runtime.setLocal(parsed.output.route, parsed.output.value);
      return c.json({ route: parsed.output.route, value });
    } catch (error) {
      if (error instanceof RealerError && error.kind === "not-found") {
        return c.json({ error: "no command route with an output has that key" }, 404);
      }
      // A value the output cannot take: the reason names the range, and nothing was written.
      if (error instanceof RealerError && error.kind === "config") return c.json({ error: error.message }, 400);
      logger.error("console.local_failed", { route: parsed.output.route, error: describeError(error) });
      return c.json({ error: "the line could not be set; the device log says why" }, 500);
    }
  });

  app.get("/api/stream", (c) =>
    streamSSE(c, async (stream) => {
      let closed = false;
      const send = async () => {
        if (closed) return;
        await stream.writeSSE({ event: "snapshot", data: JSON.stringify(await snapshot(runtime, monitor, deviceId, clock.now())) });
      };
      const dropped = (error: unknown) => {
        // A browser that went away mid-write; the abort handler below cleans up.
        logger.debug("console.stream_write_failed", { error: describeError(error) });
      };
      let pending: Timer | undefined;
      const unsubscribe = monitor.subscribe((event) => {
        void stream.writeSSE({ event: "event", data: JSON.stringify(event) }).catch(dropped);
        // Many events in a burst make one snapshot.
        pending ??= clock.after(100, () => {
          pending = undefined;
          void send().catch(dropped);
        });
      });
      const timer = clock.every(options.snapshotEveryMs ?? 2000, () => void send().catch(dropped));
      stream.onAbort(() => {
        closed = true;
        unsubscribe();
        timer.cancel();
        pending?.cancel();
      });
      await send();
      while (!closed) await stream.sleep(1000);
    }));
  return app;
}
