import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemClock } from "../clock.ts";
import { parseConfig } from "../config/load.ts";
import { DeviceRuntime } from "../device/runtime.ts";
import { DeviceStore } from "../device/store.ts";
import { MockBackend } from "../hal/mock.ts";
import { silentLogger } from "../log.ts";
import { Secret } from "../secret.ts";
import { deviceConsoleApp } from "./device-app.ts";
import { DeviceMonitor } from "./device-monitor.ts";

async function consoleApp(token?: string) {
  const config = parseConfig(JSON.stringify({
    api_url: "https://127.0.0.1:9",
    device_id: 42,
    client_id: "cdv_x",
    client_secret: { env: "X" },
    gpio: { backend: "mock" },
    routes: [{ pin_port: "6", line: { chip: "gpiochip0", offset: 6 } }],
  }), "device.json");
  const runtime = new DeviceRuntime({
    config,
    clientSecret: new Secret("the-client-secret"),
    backend: new MockBackend(),
    store: await DeviceStore.open(":memory:"),
    fetch: (() => Promise.reject(new Error("offline"))) as unknown as typeof fetch,
    ca: undefined,
    clock: systemClock,
    logger: silentLogger,
  });
  const monitor = new DeviceMonitor(runtime, systemClock);
  return deviceConsoleApp({ runtime, monitor, deviceId: 42, clock: systemClock, token: token === undefined ? undefined : new Secret(token) });
}

describe("device console app", () => {
  it("answers the status as JSON without any secret, and /metrics as OpenMetrics", async () => {
    const app = await consoleApp();
    const status = await app.request("/api/status");
    assert.equal(status.status, 200);
    const body = await status.text();
    assert.equal((JSON.parse(body) as { device_id: string }).device_id, "42");
    assert.ok(!body.includes("the-client-secret"));
    const metrics = await app.request("/metrics");
    assert.match(metrics.headers.get("content-type") ?? "", /^application\/openmetrics-text; version=1\.0\.0/);
    assert.ok((await metrics.text()).endsWith("# EOF\n"));
  });

  it("takes local changes as JSON only, and says a route is unknown without repeating it", async () => {
    const app = await consoleApp();
    const form = await app.request("/api/routes/local", { method: "POST", body: "route=x&value=1", headers: { "content-type": "application/x-www-form-urlencoded" } });
    assert.equal(form.status, 415, "a cross-site form cannot switch a relay");
    const unknown = await app.request("/api/routes/local", { method: "POST", body: JSON.stringify({ route: "<script>nope</script>", value: 1 }), headers: { "content-type": "application/json" } });
    assert.equal(unknown.status, 404);
    const text = await unknown.text();
    assert.match(text, /no command route with a line has that key/);
    assert.ok(!text.includes("nope"), "the answer does not reflect the request");
  });

  it("asks for the token: the page for browsers, 401 with WWW-Authenticate for the API", async () => {
    const app = await consoleApp("s3cret-token");
    const page = await app.request("/");
    assert.equal(page.status, 401);
    assert.match(await page.text(), /Access token needed/);
    const api = await app.request("/api/status");
    assert.equal(api.status, 401);
    assert.equal(api.headers.get("www-authenticate"), "Bearer");
    assert.equal((await app.request("/api/status", { headers: { authorization: "Bearer s3cret-token" } })).status, 200);
    assert.equal((await app.request("/api/status", { headers: { authorization: "Bearer s3cret-tokeN" } })).status, 401);
  });

  it("remembers the token entered once on the page in an HttpOnly, SameSite=Strict cookie", async () => {
    const app = await consoleApp("s3cret-token");
    const form = (token: string) => app.request("/login", { method: "POST", body: new URLSearchParams({ token }).toString(), headers: { "content-type": "application/x-www-form-urlencoded" } });
    assert.equal((await form("wrong")).status, 401);
    const ok = await form("s3cret-token");
    assert.equal(ok.status, 303);
    const cookie = ok.headers.get("set-cookie") ?? "";
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const page = await app.request("/", { headers: { cookie: cookie.split(";")[0]! } });
    assert.equal(page.status, 200);
    assert.ok(!(await page.text()).includes("s3cret-token"), "the page does not echo the token");
  });
});
