// The whole device runtime with no network and no waiting: the emulator's HTTPS app answers in
// process (MQTT withheld, so the runtime works over the HTTPS runtime), the mock backend holds the
// lines, the store is in memory, and a manual clock moves the polls.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { MockBackend } from "../hal/mock.ts";
import { silentLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import { Secret } from "../secret.ts";
import { IN_PROCESS_URL, inProcessCloud, turnsUntil } from "../../test/helpers/in-process-cloud.ts";
import { unitConfig } from "../../test/helpers/unit-config.ts";
import { buildRuntime } from "./compose.ts";
import { DeviceStore } from "../state/store.ts";

const RELAY = { chip: "gpiochip0", offset: 6 };
const SWITCH = { chip: "gpiochip0", offset: 5 };
const { emulator, fetch: inProcess, remove } = inProcessCloud("runtime");
after(remove);

/** Moves the clock a second at a time (each poll's requests let finish) until `check` holds. */
async function pollUntil(clock: ManualClock, what: string, check: () => boolean): Promise<void> {
  for (let second = 0; second < 30; second++) {
    for (let turn = 0; turn < 50 && !check(); turn++) await new Promise((resolve) => setTimeout(resolve, 0));
    if (check()) return;
    await clock.advance(1000);
  }
  assert.fail(`never: ${what}`);
}

async function setup(store?: DeviceStore, fetch: typeof globalThis.fetch = inProcess) {
  const device = emulator.provision([{ source_type: "command", kind: "relay", pin_port: "6" }, {
    source_type: "sensor",
    kind: "switch",
    pin_port: "5",
  }]);
  emulator.mqttWithheld.add(device.device_id);
  const config = unitConfig({
    api_url: IN_PROCESS_URL,
    device_id: device.device_id,
    client_id: device.client_id,
    https: { poll_interval_s: 1, catalog_check_s: 60 },
    routes: [{ pin_port: "6", line: RELAY, direction: "output", power_on: "restore" }, { pin_port: "5", line: SWITCH }],
  });
  const clock = new ManualClock(Date.now());
  const backend = new MockBackend();
  const state = store ?? await DeviceStore.open(":memory:");
  const runtime = buildRuntime({
    config,
    clientSecret: new Secret(device.client_secret),
    backend,
    store: state,
    fetch,
    ca: undefined,
    clock,
    logger: silentLogger,
  });
  return { device, clock, backend, store: state, runtime };
}

describe("DeviceRuntime", () => {
  it("works over the HTTPS runtime when MQTT is not offered: applies a polled desired state and sends an edge as a reading", async () => {
    const { device, clock, backend, runtime } = await setup();
    await runtime.start();
    assert.equal(runtime.transport, "https");
    const relay = emulator.state.devices.get(device.device_id)!.routes.find((route) => route.sourceType === "command")!;
    emulator.state.addDesired({
      desiredId: "des_rt_1",
      deviceId: device.device_id,
      routeId: relay.routeId,
      value: "1.0",
      sequenceNumber: 1,
      requestedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 300_000).toISOString(),
      answer: undefined,
    });
    await pollUntil(clock, "the relay's report at the server", () => emulator.state.desired.get("des_rt_1")?.answer !== undefined);
    assert.equal(backend.getLevel(RELAY), 1);
    assert.equal(emulator.state.desired.get("des_rt_1")?.answer?.value, "1.0");
    backend.setPull(SWITCH, 1);
    await pollUntil(
      clock,
      "the edge at the server",
      () =>
        emulator.state.feedOf(device.device_id).some((entry) =>
          (entry.payload as { value?: string }).value === "1.0" && entry.sourceId !== relay.sourceId
        ),
    );
    const scopes = [...emulator.state.tokens.values()].filter((token) => token.deviceId === device.device_id).map((token) => token.scopes);
    assert.ok(!scopes[0]?.includes("iot:feed-data:write"), "the first token asks for no HTTPS write access");
    assert.ok(scopes.at(-1)?.includes("iot:feed-data:write"), "the HTTPS runtime asked for it once it was used");
    runtime.requestStop();
    await runtime.stop();
  });

  it("claims a known output at its restored value before any network, and holds it while the cloud stays away", async () => {
    const store = await DeviceStore.open(":memory:");
    store.lines.saveDirection("pin_port:6", "output");
    store.lines.saveValue("pin_port:6", 1, Date.now() - 60_000);
    const unreachable = (() => Promise.reject(new TypeError("fetch failed: network unreachable"))) as unknown as typeof fetch;
    const { backend, clock, runtime } = await setup(store, unreachable);
    const starting = runtime.start().catch(() => {});
    await turnsUntil("the relay claimed", () => backend.getLevel(RELAY) === 1, 1000);
    for (let minute = 0; minute < 10; minute++) await clock.advance(60_000);
    assert.equal(runtime.transport, undefined, "still no catalog");
    assert.equal(backend.getLevel(RELAY), 1, "held through ten minutes of retries");
    runtime.requestStop();
    await clock.advance(60_000);
    await starting;
    await runtime.stop();
  });
});
