import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Clock, systemClock } from "../clock.ts";
import { ManualClock } from "../manual-clock.ts";
import { unitConfig } from "../../test/helpers/unit-config.ts";
import { buildRuntime } from "../device/compose.ts";
import type { DeviceRuntime } from "../device/runtime.ts";
import { DeviceStore } from "../state/store.ts";
import { MockBackend } from "../hal/mock.ts";
import { silentLogger } from "../log.ts";
import { Secret } from "../secret.ts";
import { deviceConsoleApp } from "./device-app.ts";
import { DeviceMonitor } from "./device-monitor.ts";

/** Device 42 with `routes` on `backend`, whose cloud never answers. */
async function offlineRuntime(routes: unknown[], clock: Clock = systemClock, backend = new MockBackend()): Promise<DeviceRuntime> {
  return buildRuntime({
    config: unitConfig({ routes }),
    clientSecret: new Secret("the-client-secret"),
    backend,
    store: await DeviceStore.open(":memory:"),
    fetch: (() => Promise.reject(new Error("offline"))) as unknown as typeof fetch,
    ca: undefined,
    clock,
    logger: silentLogger,
  });
}

async function consoleApp(token?: string, clock: Clock = systemClock) {
  const runtime = await offlineRuntime([{ pin_port: "6", line: { chip: "gpiochip0", offset: 6 } }]);
  const monitor = new DeviceMonitor(runtime, systemClock);
  return deviceConsoleApp({
    runtime,
    monitor,
    deviceId: 42,
    clock,
    token: token === undefined ? undefined : new Secret(token),
    host: "127.0.0.1",
    allowedHosts: ["switch.local"],
  });
}

describe("device console app", () => {
  it("stops following the runtime's events once its monitor is closed", async () => {
    const runtime = await offlineRuntime([]);
    const monitor = new DeviceMonitor(runtime, systemClock);
    const ack = { messageId: "m1", topic: "t", status: "accepted" as const, errorType: undefined, payload: undefined };
    runtime.events.emit("settled", ack);
    assert.equal(monitor.recent().length, 1);
    monitor.close();
    runtime.events.emit("settled", { ...ack, messageId: "m2" });
    assert.equal(monitor.recent().length, 1, "nothing more after close");
  });

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

  it("shows the updater on the page and in /metrics: the slot, the trial, the last refusal, escaped", async () => {
    const runtime = await offlineRuntime([]);
    const update = {
      slot: "b" as const,
      committed: { version: "0.2.0", release: 4 },
      trial: { slot: "b" as const, version: "0.3.0", release: 5, attempts: 1 },
      last_refusal: { at: 1_700_000_000_000, text: "https://ch/<x>: refused (hash): realer-edge-linux-arm64 is 3 bytes" },
    };
    const monitor = new DeviceMonitor(runtime, systemClock, () => update);
    const app = deviceConsoleApp({ runtime, monitor, deviceId: 42, clock: systemClock, token: undefined, host: "127.0.0.1" });
    // (deno fmt lays html`` templates out over lines: the page's whitespace is collapsed, as a browser does)
    const page = (await (await app.request("/")).text()).replace(/\s+/g, " ");
    assert.match(page, /slot b · on trial: release 5 \(0\.3\.0\), start 1 · last: https:\/\/ch\/&lt;x&gt;: refused \(hash\)/);
    const metrics = await (await app.request("/metrics")).text();
    assert.match(metrics, /^realer_update_info\{version="[\d.]+",slot="b"\} 1$/m);
    assert.match(metrics, /^realer_update_trial\{release="5",version="0\.3\.0"\} 1$/m);
    assert.match(metrics, /^realer_update_last_refusal_timestamp_seconds\{check="hash"\} 1700000000$/m);
    // Without an updater: no slot, no trial, no refusal.
    const bare = await (await consoleApp()).request("/metrics");
    const text = await bare.text();
    assert.match(text, /^realer_update_info\{version="[\d.]+",slot="none"\} 1$/m);
    assert.match(text, /^realer_update_trial 0$/m);
    assert.doesNotMatch(text, /^realer_update_last_refusal_timestamp_seconds\{/m);
  });

  it("takes local changes as JSON only, and says a route is unknown without repeating it", async () => {
    const app = await consoleApp();
    const form = await app.request("/api/routes/local", {
      method: "POST",
      body: "route=x&value=1",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(form.status, 415, "a cross-site form cannot switch a relay");
    const unknown = await app.request("/api/routes/local", {
      method: "POST",
      body: JSON.stringify({ route: "<script>nope</script>", value: 1 }),
      headers: { "content-type": "application/json" },
    });
    assert.equal(unknown.status, 404);
    const text = await unknown.text();
    assert.match(text, /no command route with an output has that key/);
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
    const form = (token: string) =>
      app.request("/login", {
        method: "POST",
        body: new URLSearchParams({ token }).toString(),
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
    assert.equal((await form("wrong")).status, 401);
    const ok = await form("s3cret-token");
    assert.equal(ok.status, 303);
    const cookie = ok.headers.get("set-cookie") ?? "";
    assert.ok(!cookie.includes("s3cret-token"), "the cookie holds a session id, not the token");
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const page = await app.request("/", { headers: { cookie: cookie.split(";")[0]! } });
    assert.equal(page.status, 200);
    assert.ok(!(await page.text()).includes("s3cret-token"), "the page does not echo the token");
  });

  it("refuses a request whose Host is a foreign name (DNS rebinding), token or not", async () => {
    const app = await consoleApp();
    const rebound = await app.request("http://rebind.attacker.example:8480/api/routes/local", {
      method: "POST",
      body: JSON.stringify({ route: "x", value: 1 }),
      headers: { "content-type": "application/json", host: "rebind.attacker.example:8480", origin: "http://rebind.attacker.example:8480" },
    });
    assert.equal(rebound.status, 421);
    assert.equal(
      (await app.request("http://rebind.attacker.example/api/status", { headers: { host: "rebind.attacker.example" } })).status,
      421,
      "reads too: the page holds the device's state",
    );
    for (const host of ["127.0.0.1:8480", "localhost:8480", "[::1]:8480", "192.168.1.20:8480", "switch.local:8480"]) {
      assert.equal((await app.request(`http://${host}/api/status`, { headers: { host } })).status, 200, host);
    }
  });

  it("takes a change only from its own page: a foreign Origin or a cross-site fetch is refused", async () => {
    const app = await consoleApp();
    const post = (headers: Record<string, string>) =>
      app.request("http://127.0.0.1:8480/api/routes/local", {
        method: "POST",
        body: JSON.stringify({ route: "x", value: 1 }),
        headers: { "content-type": "application/json", host: "127.0.0.1:8480", ...headers },
      });
    assert.equal((await post({ origin: "https://evil.example" })).status, 403);
    assert.equal((await post({ origin: "null" })).status, 403);
    assert.equal((await post({ origin: "null", "sec-fetch-site": "cross-site" })).status, 403);
    assert.equal((await post({ origin: "null", "sec-fetch-site": "same-origin" })).status, 404, "the browser vouches for its own page");
    assert.equal((await post({ "sec-fetch-site": "cross-site" })).status, 403);
    assert.equal(
      (await post({ origin: "http://127.0.0.1:8480", "sec-fetch-site": "same-origin" })).status,
      404,
      "its own page gets through (to an unknown route)",
    );
  });

  it("refuses a body over 4 KiB unread and never echoes what it was sent", async () => {
    const app = await consoleApp();
    const marker = "ECHO-MARKER-";
    const big = await app.request("/api/routes/local", {
      method: "POST",
      body: JSON.stringify({ route: marker.repeat(100_000), value: 1 }),
      headers: { "content-type": "application/json" },
    });
    assert.equal(big.status, 413);
    const bad = await app.request("/api/routes/local", {
      method: "POST",
      body: `{"route": "${marker}", "value": "7"}`,
      headers: { "content-type": "application/json" },
    });
    assert.equal(bad.status, 400);
    for (const answer of [big, bad]) assert.ok(!(await answer.text()).includes(marker), "no echo");
  });

  it("sends CSP without inline script, nosniff, no framing and no referrer to other sites; the page loads its script from itself", async () => {
    const app = await consoleApp();
    const page = await app.request("/");
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    assert.equal(page.headers.get("referrer-policy"), "same-origin");
    const html = await page.text();
    assert.doesNotMatch(html, /<script>|<style>/, "no inline script or style");
    assert.match(html, /<script src="app\.js" defer><\/script>/);
    assert.equal((await app.request("/app.js")).status, 200);
  });

  it("locks out token guessing: after five wrong tokens every try is refused for a minute", async () => {
    const clock = new ManualClock();
    const app = await consoleApp("s3cret-token", clock);
    const bearer = (token: string) => app.request("/api/status", { headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 5; i++) assert.equal((await bearer(`guess-${i}`)).status, 401);
    const locked = await bearer("s3cret-token");
    assert.equal(locked.status, 429, "even the right token waits out the lockout");
    assert.ok(Number(locked.headers.get("retry-after")) > 0);
    await clock.advance(61_000);
    assert.equal((await bearer("s3cret-token")).status, 200);
  });
});

describe("device console: fail-safes", () => {
  it("shows a fail-safe armed while the cloud is away, then fired, on the page, in the status and in /metrics", async () => {
    const clock = new ManualClock();
    const backend = new MockBackend();
    const runtime = await offlineRuntime(
      [{
        pin_port: "6",
        line: { chip: "gpiochip0", offset: 6 },
        direction: "output",
        power_on: "on",
        failsafe: { value: 0, after_s: 60 },
      }],
      clock,
      backend,
    );
    const monitor = new DeviceMonitor(runtime, clock);
    const app = deviceConsoleApp({ runtime, monitor, deviceId: 42, clock, token: undefined, host: "127.0.0.1", allowedHosts: [] });
    const started = runtime.start().catch(() => {});
    await clock.advance(0);
    const status = async () =>
      (await (await app.request("/api/status")).json()) as { failsafes: { state: string; route: string; value: number }[] };
    assert.deepEqual((await status()).failsafes.map((failsafe) => failsafe.state), ["armed"]);
    assert.match(await (await app.request("/")).text(), /Fail-safe armed: pin_port:6 goes to 0 if the cloud stays away/);
    await clock.advance(60_000);
    assert.equal(backend.getLevel({ chip: "gpiochip0", offset: 6 }), 0);
    assert.deepEqual((await status()).failsafes.map((failsafe) => failsafe.state), ["fired"]);
    assert.match(await (await app.request("/")).text(), /Fail-safe fired: pin_port:6 set to 0 \(no working link to the cloud for 60 s\)/);
    assert.match(await (await app.request("/metrics")).text(), /^realer_failsafes_fired 1$/m);
    runtime.requestStop();
    await clock.advance(300_000);
    await started;
    await runtime.stop();
  });
});
