// A dimmer on a PWM channel against the real emulator and mosquitto, on mock GPIO and a mock PWM
// chip: the cloud sets levels and hears what the channel holds, a level outside the route's
// range is rejected with the level held, a wall button toggles between off and the last level
// with no cloud, and a restart brings the level back.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseRoute } from "../../src/config/schema.ts";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { MockPwmBackend } from "../../src/hal/pwm/mock.ts";
import { systemClock } from "../../src/clock.ts";
import { deviceConsoleApp } from "../../src/console/device-app.ts";
import { DeviceMonitor } from "../../src/console/device-monitor.ts";
import { startDevice, startEmulator, SWITCH_LINE, tempDir, waitFor } from "../helpers/harness.ts";

type Payload = { message_id: string; value: string; desired_id?: string; report_status?: string };

const CHANNEL = { chip: "pwmchip0", channel: 0 };
const ROUTES = () => [
  parseRoute({
    pin_port: "7",
    pwm: { ...CHANNEL, frequency_hz: 2_000, min_on_pct: 10 },
    range: { min: 0, max: 100, decimals: 0 },
    power_on: "restore",
  }),
  parseRoute({ pin_port: "5", line: { ...SWITCH_LINE }, debounce_ms: 5, controls: { output: "7", mode: "toggle" } }),
];

describe("a dimmer on a PWM channel (emulator + mosquitto + mock GPIO and PWM)", () => {
  let emulator: Emulator;
  let stopEmulator: () => Promise<void>;

  before(async () => {
    ({ emulator, stop: stopEmulator } = await startEmulator());
  });
  after(async () => {
    await stopEmulator?.();
  });

  const acceptedOf = (deviceId: number, sourceId: string) =>
    emulator.state.feedOf(deviceId).filter((entry) => entry.sourceId === sourceId && entry.status === "accepted").map((entry) =>
      entry.payload as Payload
    );

  it(
    "takes levels from the cloud and the console, rejects one outside its range, toggles to its last level offline, and restores it after a restart",
    {
      timeout: 60_000,
    },
    async () => {
      const device = emulator.provision([
        { source_type: "command", kind: "dimmer", pin_port: "7", min: 0, max: 100 },
        { source_type: "sensor", kind: "switch", pin_port: "5" },
      ]);
      const dimmer = device.routes.find((route) => route.pin_port === "7")!.source_id;
      const state = tempDir("dimmer");
      const pwm = new MockPwmBackend();
      const duty = () => pwm.channelState(CHANNEL).dutyNs;
      // 10 % + 90 % × 0.7 of 500 µs.
      const dutyAt70 = 365_000;
      let dev = await startDevice(emulator, { device, pwm, stateDir: state.path, routes: ROUTES });
      try {
        await waitFor("online", () => dev.seen.online.length > 0);
        const answer = async (value: string) => {
          const desired = await emulator.setDesired(device.device_id, dimmer, value);
          await waitFor(
            `the answer to ${value}`,
            () => acceptedOf(device.device_id, dimmer).some((p) => p.desired_id === desired.desiredId),
          );
          return acceptedOf(device.device_id, dimmer).find((p) => p.desired_id === desired.desiredId)!;
        };
        const forty = await answer("40");
        assert.deepEqual([forty.value, forty.report_status], ["40", undefined]);
        // 2 kHz: a 500 µs period; 40 of 100 from the 10 % minimum: 10 + 90 × 0.4 = 46 %.
        assert.deepEqual([pwm.channelState(CHANNEL).periodNs, duty()], [500_000, 230_000]);
        const tooHigh = await answer("150");
        assert.deepEqual([tooHigh.value, tooHigh.report_status], ["40", "rejected"], "rejected with the level held");
        const notANumber = await answer("forty");
        assert.deepEqual([notANumber.value, notANumber.report_status], ["40", "rejected"]);
        assert.equal(duty(), 230_000);

        await emulator.controlBroker("stop");
        await waitFor("offline", () => dev.seen.offline.length > 0);
        for (const expected of [0, 230_000]) {
          dev.mock.setPull(SWITCH_LINE, 1);
          await waitFor(`the dimmer at duty ${expected}`, () => duty() === expected);
          dev.mock.setPull(SWITCH_LINE, 0);
          await new Promise((resolve) => setTimeout(resolve, 30));
        }
        assert.deepEqual(dev.seen.control.map((action) => action.value), ["0", "40"], "off, then back to its last level");
        await emulator.controlBroker("start");
        await waitFor(
          "the presses' changes at the cloud",
          () => acceptedOf(device.device_id, dimmer).filter((p) => p.desired_id === undefined).length >= 2,
          20_000,
        );
        assert.deepEqual(acceptedOf(device.device_id, dimmer).filter((p) => p.desired_id === undefined).map((p) => p.value), ["0", "40"]);

        // The console's slider: a level within the range is set and reported as a local change; one outside is refused, nothing written.
        const monitor = new DeviceMonitor(dev.runtime, systemClock);
        const app = deviceConsoleApp({
          runtime: dev.runtime,
          monitor,
          deviceId: device.device_id,
          clock: systemClock,
          token: undefined,
          host: "127.0.0.1",
          allowedHosts: [],
        });
        const post = (value: number) =>
          app.request("/api/routes/local", {
            method: "POST",
            body: JSON.stringify({ route: dev.device.routes.find((r) => r.pin_port === "7")!.feed_data_topic, value }),
            headers: { "content-type": "application/json" },
          });
        const set = await post(70);
        assert.deepEqual([set.status, (await set.json() as { value: string }).value], [200, "70"]);
        const refused = await post(101);
        assert.equal(refused.status, 400);
        assert.match((await refused.json() as { error: string }).error, /outside the route's range \(0 to 100\)$/);
        assert.equal(duty(), dutyAt70);
        const rows = await (await app.request("/api/routes")).json() as {
          routes: { pinPort?: string; source: string; physical: string; range: unknown }[];
        };
        assert.deepEqual(rows.routes.filter((row) => row.source.startsWith("pwm")).map((row) => [row.physical, row.range]), [["70", {
          min: 0,
          max: 100,
          step: 1,
        }]]);
        assert.match(await (await app.request("/metrics")).text(), /^realer_output_value\{route="pin_port:7"\} 70$/m);
        monitor.close();
        await dev.mock.setPull(SWITCH_LINE, 1);
        await waitFor("off by the button", () => duty() === 0);
        dev.mock.setPull(SWITCH_LINE, 0);
        await new Promise((resolve) => setTimeout(resolve, 30));
        dev.mock.setPull(SWITCH_LINE, 1);
        await waitFor("back on at the console's level", () => duty() === dutyAt70);
        dev.mock.setPull(SWITCH_LINE, 0);

        await dev.stop();
        dev = await startDevice(emulator, { device, pwm: new MockPwmBackend(), stateDir: state.path, routes: ROUTES });
        assert.equal(dev.pwm.channelState(CHANNEL).dutyNs, dutyAt70, "power_on restore: the last level, in the claim");
        assert.deepEqual(dev.pwm.history(CHANNEL).map((s) => s.dutyNs), [dutyAt70], "no other duty shown first");
      } finally {
        await dev.stop();
        state.remove();
      }
    },
  );
});
