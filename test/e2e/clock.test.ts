// A board whose wall clock is not synchronised: readings observed before the cloud has told the
// time wait on disk, then leave stamped and in order; the console and /metrics say how many wait.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { startDevice, startEmulator, SWITCH_LINE, waitFor } from "../helpers/harness.ts";

describe("an unsynchronised clock (emulator + mosquitto + mock GPIO)", () => {
  let emulator: Emulator;
  let stop: () => Promise<void>;
  before(async () => {
    ({ emulator, stop } = await startEmulator());
  });
  after(async () => {
    await stop?.();
  });

  it(
    "holds readings while no answer has told the time, counts them, then sends them stamped and in order",
    { timeout: 60_000 },
    async () => {
      // The kernel says the clock is not synchronised (a board without an RTC, before NTP), and the
      // cloud's answers come without a Date header until the test lets it through.
      let dateHeaders = false;
      const start = performance.now();
      const dev = await startDevice(emulator, {
        time: { mono: () => performance.now() - start, kernelSynced: () => false, bootId: "boot-1" },
        wrapFetch: (inner) =>
          (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
            const response = await inner(input, init);
            if (dateHeaders) return response;
            const headers = new Headers(response.headers);
            headers.delete("date");
            return new Response(await response.arrayBuffer(), { status: response.status, headers });
          }) as typeof fetch,
      });
      try {
        await waitFor("online", () => dev.seen.online.length > 0, 20_000);
        assert.equal(dev.runtime.status().time, "unknown");
        const before = emulator.state.feedOf(dev.device.device_id).length;
        const observed: number[] = [];
        for (const level of [1, 0, 1] as const) {
          dev.mock.setPull(SWITCH_LINE, level);
          observed.push(Date.now());
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        // The start-up reading of the switch, and the three edges.
        await waitFor("four readings held", () => dev.runtime.status().outbox.stats.waitingForClock >= 4, 5000);
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(emulator.state.feedOf(dev.device.device_id).length, before, "none sent while the time is unknown, though connected");
        // The next answers carry the time: a revoked credential makes the device ask the API again.
        dateHeaders = true;
        await emulator.issuer.revoke(dev.device.device_id);
        const all = await waitFor("the four readings at the emulator", () => {
          const feed = emulator.state.feedOf(dev.device.device_id).slice(before);
          return feed.length >= 4 ? feed : undefined;
        }, 20_000);
        assert.deepEqual(all.map((entry) => (entry.payload as { value: string }).value), ["0.0", "1.0", "0.0", "1.0"], "in order");
        const readings = all.slice(1);
        readings.forEach((entry, i) => {
          const stamp = Date.parse((entry.payload as { value_received_at: string }).value_received_at);
          assert.ok(
            Math.abs(stamp - observed[i]!) < 1500,
            `stamped with the time of observation, within the Date header's second: ${stamp - observed[i]!} ms`,
          );
        });
        assert.equal(dev.runtime.status().time, "agrees with the cloud");
        assert.equal(dev.runtime.status().outbox.stats.waitingForClock, 0);
        assert.ok(
          dev.log.some((line) => line.includes("clock.restamped") && line.includes("messages=4")),
          dev.log.filter((line) => line.includes("clock")).join("\n"),
        );
      } finally {
        await dev.stop();
      }
    },
  );
});
