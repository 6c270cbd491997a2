// What a relay does around the network: claimed with its power-on value before the cloud
// answers, back in its last state after a restart, and a pulse output that ends by itself and
// tells the cloud. Real emulator and broker, mock GPIO.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { findFreePort } from "../../src/emulator/free-port.ts";
import { MockBackend } from "../../src/hal/mock.ts";
import { RELAY_LINE, startDevice, startEmulator, tempDir, waitFor } from "../helpers/harness.ts";

type Routes = Parameters<NonNullable<Parameters<typeof startDevice>[1]>["routes"] & object>[0];
const withRelay = (extra: Record<string, unknown>) => (routes: Routes): Routes =>
  routes.map((route) => (route.pin_port === "6" ? { ...route, ...extra } : route));

describe("outputs around the network (emulator + mosquitto + mock GPIO)", () => {
  let emulator: Emulator;
  let stop: () => Promise<void>;

  before(async () => {
    ({ emulator, stop } = await startEmulator());
  });
  after(async () => {
    await stop?.();
  });

  it("claims a relay with its power-on value before the API has answered once", async () => {
    const dev = await startDevice(emulator, {
      apiUrl: `https://127.0.0.1:${await findFreePort()}`,
      routes: withRelay({ direction: "output", power_on: "on" }),
      background: true,
    });
    try {
      await waitFor("the catalog to be retried", () => dev.log.some((line) => line.includes("catalog.retry")));
      assert.equal(dev.mock.getLevel(RELAY_LINE), 1, "the relay is on while the API is unreachable");
      assert.deepEqual(dev.mock.levelHistory(RELAY_LINE), [0, 1], "claimed on in one step");
    } finally {
      await dev.stop();
    }
  });

  it("brings a restore relay back in its last state after a restart, before it reconnects, without a glitch", async () => {
    const dir = tempDir("restore");
    const routes = withRelay({ power_on: "restore" });
    const first = await startDevice(emulator, { stateDir: dir.path, routes });
    const relay = first.device.routes.find((route) => route.source_type === "command")!.source_id;
    try {
      await waitFor("the device to come online", () => first.seen.online.length > 0);
      const desired = await emulator.setDesired(first.device.device_id, relay, "1.0");
      await waitFor(
        "the report accepted",
        () =>
          emulator.state.acksOf(first.device.device_id).find((ack) => ack.desired_id === desired.desiredId && ack.status === "accepted"),
      );
    } finally {
      await first.runtime.stop();
      first.store.close();
    }
    const mock = new MockBackend();
    const second = await startDevice(emulator, { device: first.device, stateDir: dir.path, routes, mock });
    try {
      assert.deepEqual(mock.levelHistory(RELAY_LINE), [0, 1], "claimed active in the same request");
      assert.ok(
        second.log.some((line) => line.includes("line.power_on") && line.includes("power_on restore: the last value")),
        second.log.join("\n"),
      );
      const boot = second.log.findIndex((line) => line.includes("line.power_on"));
      const online = second.log.findIndex((line) => line.includes("mqtt.connected"));
      assert.ok(online === -1 || boot < online, "the line was claimed before the connection");
    } finally {
      await second.stop();
      dir.remove();
    }
  });

  it("reports a file sensor scaled, outside its deadband only, and the cloud accepts it", { timeout: 30_000 }, async () => {
    const dir = tempDir("file-sensor");
    const path = join(dir.path, "temperature");
    writeFileSync(path, "21500\n");
    const dev = await startDevice(emulator, {
      routes: (routes) =>
        routes.map((
          route,
        ) => (route.pin_port === "5"
          ? {
            ...route,
            line: undefined,
            pwm: undefined,
            file: { path, scale: 0.001, offset: 0, decimals: 1 },
            sample_interval_s: 1,
            deadband: 0.5,
          }
          : route)
        ),
    });
    const sensor = dev.device.routes.find((route) => route.source_type === "sensor")!.source_id;
    const accepted = () =>
      emulator.state.feedOf(dev.device.device_id).filter((entry) => entry.sourceId === sensor && entry.status === "accepted").map((entry) =>
        (entry.payload as { value: string }).value
      );
    try {
      await waitFor("the first sample accepted", () => accepted().includes("21.5"));
      writeFileSync(path, "21800\n");
      await new Promise((resolve) => setTimeout(resolve, 1500));
      writeFileSync(path, "22600\n");
      await waitFor("the sample outside the deadband accepted", () => accepted().includes("22.6"));
      assert.deepEqual(accepted(), ["21.5", "22.6"], "21.8 was inside the deadband");
    } finally {
      await dev.stop();
      dir.remove();
    }
  });

  it("ends a pulse by itself and reports the end as a local change the cloud accepts", async () => {
    const dev = await startDevice(emulator, { routes: withRelay({ pulse_ms: 400 }) });
    const relay = dev.device.routes.find((route) => route.source_type === "command")!.source_id;
    try {
      await waitFor("the device to come online", () => dev.seen.online.length > 0);
      const desired = await emulator.setDesired(dev.device.device_id, relay, "1.0");
      await waitFor(
        "the report accepted",
        () => emulator.state.acksOf(dev.device.device_id).find((ack) => ack.desired_id === desired.desiredId && ack.status === "accepted"),
      );
      const local = await waitFor(
        "the pulse end accepted",
        () =>
          emulator.state.feedOf(dev.device.device_id).find((entry) =>
            entry.sourceId === relay && entry.status === "accepted" &&
            (entry.payload as { desired_id?: string }).desired_id === undefined && (entry.payload as { value: string }).value === "0.0"
          ),
      );
      assert.ok(local);
      assert.equal(dev.mock.getLevel(RELAY_LINE), 0);
      assert.deepEqual(dev.seen.local.map((change) => [change.value, change.cause]), [["0.0", "pulse"]]);
    } finally {
      await dev.stop();
    }
  });
});
