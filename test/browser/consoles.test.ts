// Both consoles in a real browser (Debian's Chromium through playwright-core), against the real
// emulator and broker: a relay set from the emulator console shows on the device console, line
// active and ack accepted, live; the device console's toggle reaches the emulator as a local
// change; the token page; /metrics. Screenshots of each page go to test-results/screenshots/.
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { type RunningConsole, startDeviceConsole } from "../../src/console/serve-console.ts";
import { systemClock } from "../../src/clock.ts";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { runtimeName } from "../../src/platform/index.ts";
import { Secret } from "../../src/secret.ts";
import { startCli } from "../helpers/cli.ts";
import { browserUnavailable, CHROMIUM, chromiumArgs, screenshotPath, spkiPin } from "../helpers/browser.ts";
import { RELAY_LINE, type RunningDevice, startDevice, startEmulator, waitFor } from "../helpers/harness.ts";

const unavailable = browserUnavailable();
const skip = runtimeName === "deno"
  ? "playwright drives Chromium from one runtime; bun test runs the browser suite"
  : unavailable
  ? `SKIPPED loudly: ${unavailable}`
  : false;
if (unavailable) console.warn(`\n*** The browser tests are SKIPPED: ${unavailable} ***\n`);

describe("consoles in Chromium (emulator + mosquitto + mock GPIO)", { skip }, () => {
  let emulator: Emulator;
  let stopEmulator: () => Promise<void>;
  let dev: RunningDevice;
  let web: RunningConsole;
  let browser: Browser;
  let devicePage: Page;
  let emulatorPage: Page;
  let relay: string;

  before(async () => {
    ({ emulator, stop: stopEmulator } = await startEmulator());
    dev = await startDevice(emulator, {
      beforeStart: (runtime, device) => {
        web = startDeviceConsole({ runtime, deviceId: device.device_id, host: "127.0.0.1", port: 0, token: undefined, clock: systemClock });
      },
    });
    relay = dev.device.routes.find((route) => route.source_type === "command")!.source_id;
    await waitFor("the device to come online", () => dev.seen.online.length > 0);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs(spkiPin(emulator.serverCertPem)) });
    devicePage = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    emulatorPage = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
  });

  after(async () => {
    await browser?.close();
    await web?.stop();
    await dev?.stop();
    await stopEmulator?.();
  });

  const relayRow = (page: Page, key: string) => page.locator(`tr[data-route="${key}"]`);

  it("shows the device's connection, credentials and routes", { timeout: 60_000 }, async () => {
    await devicePage.goto(web.url);
    await devicePage.locator("#connection", { hasText: "connected over mqtt" }).waitFor({ timeout: 10_000 });
    assert.equal(await devicePage.locator("#routes tr").count(), 2);
    // Countdowns run in the page: a renewal time in the future reads m:ss or h mm.
    await devicePage.locator('[data-field="credential_renew_at"] span', { hasText: /^\d+h \d\dm$|^\d+:\d\d$/ }).waitFor({ timeout: 5_000 });
    const html = await devicePage.content();
    const secrets = [dev.device.client_secret, ...emulator.issuedPasswords(dev.device.device_id).map((secret) => secret.reveal())];
    for (const secret of secrets) assert.ok(!html.includes(secret), "a secret reached the device page");
    await devicePage.screenshot({ path: screenshotPath("device-console"), fullPage: true });
  });

  it(
    "sets the relay from the emulator console; the device console shows the line active and the ack accepted, live",
    { timeout: 60_000 },
    async () => {
      await emulatorPage.goto(`${emulator.url}/_emulator/console`);
      await emulatorPage.locator("#live", { hasText: "live" }).waitFor({ timeout: 10_000 });
      const key = (await dev.runtime.routeViews()).find((view) => view.type === "command")!.key;
      await emulatorPage.locator(`form[data-desired="${relay}"] button[data-set="1.0"]`).click();
      const row = relayRow(devicePage, key);
      await row.locator('[data-cell="physical"] .level.active').waitFor({ timeout: 10_000 });
      await row.locator('[data-cell="ack"] .badge.accepted').waitFor({ timeout: 10_000 });
      assert.equal(await row.locator('[data-cell="desired"]').textContent(), "1.0");
      assert.equal(dev.mock.getLevel(RELAY_LINE), 1);
      await emulatorPage.locator(`tr[data-route="${relay}"] [data-cell="ack"] .badge.accepted`).waitFor({ timeout: 10_000 });
      await devicePage.screenshot({ path: screenshotPath("device-console-relay-on"), fullPage: true });
      await emulatorPage.screenshot({ path: screenshotPath("emulator-console"), fullPage: true });
    },
  );

  it("turns the relay off with the device console's toggle; the emulator gets a local change", { timeout: 60_000 }, async () => {
    const key = (await dev.runtime.routeViews()).find((view) => view.type === "command")!.key;
    const before = emulator.state.feedOf(dev.device.device_id).length;
    await relayRow(devicePage, key).locator("button[data-toggle]", { hasText: "Turn off" }).click();
    await waitFor("the line to go inactive", () => dev.mock.getLevel(RELAY_LINE) === 0);
    const local = await waitFor(
      "the local change accepted by the emulator",
      () =>
        emulator.state.feedOf(dev.device.device_id).slice(before).find((entry) =>
          entry.sourceId === relay && entry.status === "accepted" && (entry.payload as { desired_id?: string }).desired_id === undefined &&
          (entry.payload as { value: string }).value === "0.0"
        ),
    );
    assert.ok(local);
    await emulatorPage.locator("#feed li", { hasText: `${relay} = 0.0 (no desired_id)` }).first().waitFor({ timeout: 10_000 });
    await relayRow(devicePage, key).locator('[data-cell="physical"] .level:not(.active)').waitFor({ timeout: 10_000 });
    await devicePage.locator("#events li", { hasText: "local change to 0.0 (local)" }).first().waitFor({ timeout: 10_000 });
    await emulatorPage.screenshot({ path: screenshotPath("emulator-console-local-change"), fullPage: true });
  });

  it("switches a fault and provisions a runnable demo device from the emulator console", { timeout: 60_000 }, async () => {
    await emulatorPage.selectOption("#ack_mode", "withhold");
    await emulatorPage.click('#faults button[type="submit"]');
    await emulatorPage.locator("#faults-now", { hasText: "ack_mode withhold" }).waitFor({ timeout: 5_000 });
    assert.equal(emulator.faults.ackMode, "withhold");
    await emulatorPage.selectOption("#ack_mode", "normal");
    await emulatorPage.click('#faults button[type="submit"]');
    await emulatorPage.locator("#faults-now", { hasText: "no fault" }).waitFor({ timeout: 5_000 });
    assert.equal(emulator.faults.ackMode, "normal");

    const before = emulator.state.devices.size;
    await emulatorPage.click("#provision");
    const notice = emulatorPage.locator("#provisioned .notice");
    await notice.waitFor({ timeout: 5_000 });
    const command = (await notice.locator("code").textContent()) ?? "";
    const configPath = /--config (\S+)$/.exec(command)?.[1];
    assert.ok(configPath, command);
    assert.equal(emulator.state.devices.size, before + 1);
    const config = JSON.parse(readFileSync(configPath, "utf8")) as { device_id: number; client_secret: { file: string } };
    assert.equal(statSync(config.client_secret.file).mode & 0o777, 0o600, "the secret file is the owner's alone");
    const secret = readFileSync(config.client_secret.file, "utf8").trim();
    assert.ok(!(await emulatorPage.content()).includes(secret), "the page never shows the secret");
    await emulatorPage.screenshot({ path: screenshotPath("emulator-console-provisioned"), fullPage: true });
    await emulatorPage.click("#show-new");
    await emulatorPage.locator(`[data-device-card="${config.device_id}"]`).waitFor({ timeout: 10_000 });
    // The command the page gave runs the device as it stands.
    const provisioned = startCli(["run", "--config", configPath]);
    try {
      await waitFor("the provisioned device to connect", () => provisioned.output().stdout.includes("mqtt.connected"), 20_000);
    } finally {
      provisioned.kill("SIGTERM");
    }
    assert.equal(await provisioned.exited, 0);
  });

  it("serves /metrics in the OpenMetrics format with what the runtime did", async () => {
    const text = await (await fetch(`${web.url}metrics`)).text();
    assert.match(text, /^realer_acks_total\{status="accepted"\} [1-9]\d*$/m);
    assert.match(text, /^realer_desired_states_total\{outcome="applied"\} 1$/m);
    assert.match(text, /^realer_desired_apply_seconds_count 1$/m);
    assert.match(text, /^realer_desired_ack_seconds_count 1$/m);
    assert.match(text, /^realer_input_publish_seconds_bucket\{le="\+Inf"\} [1-9]\d*$/m);
    assert.match(text, /^process_resident_memory_bytes \d+$/m);
    assert.ok(text.endsWith("# EOF\n"));
  });

  it("asks for the access token on the page when one is configured, once", { timeout: 60_000 }, async () => {
    const guarded = startDeviceConsole({
      runtime: dev.runtime,
      deviceId: dev.device.device_id,
      host: "127.0.0.1",
      port: 0,
      token: new Secret("open-sesame-42"),
      clock: systemClock,
    });
    try {
      const page = await browser.newPage({ viewport: { width: 420, height: 800 } });
      await page.goto(guarded.url);
      await page.getByText("Access token needed").waitFor();
      await page.screenshot({ path: screenshotPath("device-console-token"), fullPage: true });
      await page.fill('input[name="token"]', "wrong");
      await page.click('button[type="submit"]');
      await page.getByText("That token is not the one configured.").waitFor();
      await page.fill('input[name="token"]', "open-sesame-42");
      await page.click('button[type="submit"]');
      await page.locator("#routes tr").first().waitFor();
      await page.reload();
      await page.locator("#routes tr").first().waitFor({ timeout: 5_000 });
      assert.ok(!(await page.content()).includes("open-sesame-42"), "the token is not written into the page");
      await page.screenshot({ path: screenshotPath("device-console-phone"), fullPage: true });
      const api = await fetch(`${guarded.url}api/status`);
      assert.equal(api.status, 401);
      const bearer = await fetch(`${guarded.url}api/status`, { headers: { authorization: "Bearer open-sesame-42" } });
      assert.equal(bearer.status, 200);
    } finally {
      await guarded.stop();
    }
  });

  it(
    "says on the page what keeps the device from its cloud, live, and clears it once the secret is fixed",
    { timeout: 60_000 },
    async () => {
      const device = emulator.provision([{ source_type: "command", kind: "relay", pin_port: "6" }]);
      let secret = "not-the-secret";
      let troubled: RunningConsole | undefined;
      const refused = await startDevice(emulator, {
        device,
        background: true,
        clientSecret: () => new Secret(secret),
        beforeStart: (runtime) => {
          troubled = startDeviceConsole({
            runtime,
            deviceId: device.device_id,
            host: "127.0.0.1",
            port: 0,
            token: undefined,
            clock: systemClock,
          });
        },
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
        await page.goto(troubled!.url);
        const banner = page.locator("#trouble");
        await banner.filter({ hasText: "the OAuth client was refused" }).waitFor({ timeout: 20_000 });
        assert.ok(!(await page.content()).includes("not-the-secret"), "the page never shows a secret");
        await page.screenshot({ path: screenshotPath("device-console-trouble"), fullPage: true });
        secret = device.client_secret;
        await waitFor("the device to come online", () => refused.seen.online.length > 0, 30_000);
        await banner.waitFor({ state: "hidden", timeout: 10_000 });
      } finally {
        await troubled?.stop();
        await refused.stop();
      }
    },
  );
});
