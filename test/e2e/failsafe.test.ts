// Fail-safes end to end: the emulator's fault switches take the cloud away (a stopped broker,
// 4002, failing HTTPS polls) and the relay with a fail-safe goes to its safe value when, and
// only when, its configuration says; the change reaches the cloud once the link returns.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { RELAY_LINE, type RunningDevice, startDevice, startEmulator, waitFor } from "../helpers/harness.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("fail-safes (emulator + mosquitto + mock GPIO)", () => {
  let emulator: Emulator;
  let stop: () => Promise<void>;
  before(async () => {
    ({ emulator, stop } = await startEmulator());
  });
  after(async () => {
    await stop?.();
  });

  const withRelay = async (
    failsafe: { value: 0 | 1; after_s: number; on_subscription_inactive?: boolean },
    body: (dev: RunningDevice, relay: string) => Promise<void>,
    before?: (deviceId: number) => void,
  ) => {
    const device = emulator.provision([{ source_type: "command", kind: "relay", pin_port: "6" }, {
      source_type: "sensor",
      kind: "switch",
      pin_port: "5",
    }]);
    before?.(device.device_id);
    const dev = await startDevice(emulator, {
      device,
      routes: (routes) =>
        routes.map((
          route,
        ) => (route.pin_port === "6"
          ? { ...route, direction: "output" as const, failsafe: { on_subscription_inactive: true, ...failsafe } }
          : route)
        ),
    });
    try {
      await waitFor("online", () => dev.seen.online.length > 0 || dev.runtime.transport === "https");
      const relay = device.routes.find((route) => route.source_type === "command")!.source_id;
      const on = await emulator.setDesired(device.device_id, relay, "1.0");
      await waitFor("the relay on, answered", () => emulator.state.desired.get(on.desiredId)?.answer);
      assert.equal(dev.mock.getLevel(RELAY_LINE), 1);
      await body(dev, relay);
    } finally {
      await dev.stop();
      Object.assign(emulator.faults, { subscriptionInactive: false, httpBurst: undefined });
      if (!emulator.broker.running) await emulator.controlBroker("start");
    }
  };

  it(
    "sets the relay safe after after_s with the broker down, not before, reports it when the link returns, and lets a later desired state win",
    { timeout: 60_000 },
    async () => {
      await withRelay({ value: 0, after_s: 2 }, async (dev, relay) => {
        await emulator.controlBroker("stop");
        await waitFor("offline", () => dev.seen.offline.length > 0);
        const downAt = Date.now();
        await sleep(1200);
        assert.equal(dev.mock.getLevel(RELAY_LINE), 1, "still on before after_s");
        assert.equal(dev.runtime.status().failsafes[0]?.state, "armed");
        await waitFor("the fail-safe", () => dev.mock.getLevel(RELAY_LINE) === 0, 5000);
        const firedAfter = Date.now() - downAt;
        assert.ok(firedAfter >= 1900, `fired ${firedAfter} ms after the link went down`);
        assert.equal(dev.runtime.status().failsafes[0]?.state, "fired");
        assert.ok(dev.log.some((line) => line.includes("failsafe.fired")), "logged");
        await emulator.controlBroker("start");
        const report = await waitFor(
          "the safe value reported",
          () =>
            emulator.state.feedOf(dev.device.device_id).find((entry) =>
              entry.sourceId === relay && (entry.payload as { value?: string; desired_id?: string }).value === "0.0" &&
              !(entry.payload as { desired_id?: string }).desired_id
            ),
          20_000,
        );
        assert.equal(report.status, "accepted");
        assert.equal(dev.runtime.status().failsafes[0]?.state, "idle", "disarmed once the link works");
        const again = await emulator.setDesired(dev.device.device_id, relay, "1.0");
        await waitFor("the later desired state applied", () => emulator.state.desired.get(again.desiredId)?.answer);
        assert.equal(dev.mock.getLevel(RELAY_LINE), 1, "a desired state after the fail-safe wins");
      });
    },
  );

  it("goes safe at once on 4002 (subscription inactive), long before after_s", { timeout: 60_000 }, async () => {
    await withRelay({ value: 0, after_s: 600 }, async (dev) => {
      emulator.faults.subscriptionInactive = true;
      const from = Date.now();
      await emulator.issuer.revoke(dev.device.device_id); // the device must ask the API again, and hears 4002
      await waitFor("the fail-safe on 4002", () => dev.mock.getLevel(RELAY_LINE) === 0, 10_000);
      assert.ok(Date.now() - from < 10_000);
      assert.match(dev.runtime.status().failsafes[0]?.reason ?? "", /subscription is inactive \(4002\)/);
    });
  });

  it("leaves the relay alone on 4002 when the policy says so, and fires on its timer instead", { timeout: 60_000 }, async () => {
    await withRelay({ value: 0, after_s: 3, on_subscription_inactive: false }, async (dev) => {
      emulator.faults.subscriptionInactive = true;
      await emulator.issuer.revoke(dev.device.device_id);
      await waitFor("the kick", () => dev.seen.offline.length > 0);
      await waitFor("the 4002 noticed", () => dev.runtime.status().trouble?.includes("4002"), 10_000);
      assert.equal(dev.mock.getLevel(RELAY_LINE), 1, "not at once");
      await waitFor("the timer", () => dev.mock.getLevel(RELAY_LINE) === 0, 6000);
    });
  });

  it(
    "counts the HTTPS runtime's answered polls as a working link, and goes safe once they fail for after_s",
    { timeout: 60_000 },
    async () => {
      await withRelay({ value: 0, after_s: 2 }, async (dev) => {
        assert.equal(dev.runtime.transport, "https");
        await sleep(3000);
        assert.equal(dev.mock.getLevel(RELAY_LINE), 1, "polls answered: no fail-safe");
        emulator.faults.httpBurst = { status: 503, remaining: 10_000, retryAfterS: undefined };
        await waitFor("the fail-safe after failing polls", () => dev.mock.getLevel(RELAY_LINE) === 0, 10_000);
      }, (deviceId) => emulator.mqttWithheld.add(deviceId));
    },
  );
});
