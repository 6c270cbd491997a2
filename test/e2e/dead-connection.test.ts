// A connection that looks alive but is not: the TCP connection stays open and carries nothing.
// The device must notice by itself (keepalive), reconnect, and lose nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RELAY_LINE, startDevice, startEmulator, waitFor } from "../helpers/harness.ts";

const KEEPALIVE_S = 5;

describe("dead connection (frozen TCP, real broker)", () => {
  it(
    "notices a silent connection within its keepalive, reconnects, and gets the desired state sent into the void",
    { timeout: 60_000 },
    async () => {
      const { emulator, stop } = await startEmulator({ keepalive_seconds: KEEPALIVE_S }, true);
      const dev = await startDevice(emulator);
      try {
        await waitFor("online", () => dev.seen.online.length > 0);
        await waitFor("the start-up reading accepted", () => dev.runtime.outboxDepth === 0);
        const relay = dev.device.routes.find((route) => route.source_type === "command")!.source_id;
        assert.ok(emulator.freezeConnections() >= 1);
        const frozenAt = Date.now();
        // The broker still believes in the old connection and sends this into it.
        const desired = await emulator.setDesired(dev.device.device_id, relay, "1.0");
        await waitFor("the device to give up on the silent connection", () => dev.seen.offline.length > 0, 4 * KEEPALIVE_S * 1000);
        const detectedMs = Date.now() - frozenAt;
        await waitFor("a new connection", () => dev.seen.online.length > 1, 10_000);
        await waitFor("the desired state redelivered and answered", () => emulator.state.desired.get(desired.desiredId)?.answer, 10_000);
        assert.equal(dev.mock.getLevel(RELAY_LINE), 1);
        console.log(`dead connection: noticed after ${detectedMs} ms with keepalive ${KEEPALIVE_S} s`);
        assert.ok(detectedMs <= 2 * KEEPALIVE_S * 1000 + 2000, `noticed within two keepalive periods (${detectedMs} ms)`);
      } finally {
        await dev.stop();
        await stop();
      }
    },
  );
});
