import { Hono } from "hono";
import * as v from "valibot";
import type { MockBackend } from "./mock.ts";
import type { MockPwmBackend } from "./pwm/mock.ts";

const PullSchema = v.object({ level: v.picklist([0, 1], "level must be 0 or 1") });
const FaultSchema = v.object({ get: v.optional(v.boolean()), set: v.optional(v.boolean()) });

/**
 * A small HTTP interface to the mock backends for hardware-in-the-loop rigs: read every line,
 * pull an input high or low, read what each PWM channel holds. Served on loopback only.
 */
export function mockControlApp(backend: MockBackend, pwm?: MockPwmBackend): Hono {
  const app = new Hono();
  app.onError((error, c) => c.json({ error: error.message }, 400));
  app.get("/pwm", (c) => c.json({ channels: pwm?.snapshot() ?? [] }));
  app.get("/pwm/:chip/:channel", (c) => {
    if (!pwm) return c.json({ error: "this device has no mock PWM chip" }, 404);
    return c.json(pwm.channelState({ chip: c.req.param("chip"), channel: Number(c.req.param("channel")) }));
  });
  app.get("/lines", (c) => c.json({ lines: backend.snapshot() }));
  // Every level change and claim after `after` (a seq), for rigs that must see each glitch.
  app.get("/timeline", (c) => c.json({ changes: backend.timeline(Number(c.req.query("after") ?? 0) || 0) }));
  app.get("/lines/:chip/:offset", (c) => c.json(backend.lineState({ chip: c.req.param("chip"), offset: Number(c.req.param("offset")) })));
  app.put("/lines/:chip/:offset", async (c) => {
    const parsed = v.safeParse(PullSchema, await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json({ error: parsed.issues[0].message }, 400);
    const ref = { chip: c.req.param("chip"), offset: Number(c.req.param("offset")) };
    const before = backend.getLevel(ref);
    backend.setPull(ref, parsed.output.level);
    // `changed`: the pin's level changed; `watched`: a consumer was watching it for edges, so
    // together they tell a rig that this pull was an edge the runtime has now recorded.
    return c.json({ ...backend.lineState(ref), changed: backend.getLevel(ref) !== before, watched: backend.isWatched(ref) });
  });
  // A failing line for failure-path rigs: {"get": true} and/or {"set": true} make those calls
  // fail with EIO; {} heals it.
  app.put("/lines/:chip/:offset/fault", async (c) => {
    const parsed = v.safeParse(FaultSchema, await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json({ error: 'send {"get": bool, "set": bool}' }, 400);
    const ref = { chip: c.req.param("chip"), offset: Number(c.req.param("offset")) };
    backend.failLine(ref, parsed.output);
    return c.json({ ...backend.lineState(ref), fault: parsed.output });
  });
  return app;
}
