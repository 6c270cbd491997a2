// Renewals, broker restarts, revoked credentials and server faults, while desired states and
// readings keep flowing: nothing lost, nothing applied twice, no tight retry loop.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../src/emulator/emulator.ts";
import {
  DEMO_ROUTES,
  RELAY_LINE,
  type RunningDevice,
  startDevice,
  startEmulator,
  SWITCH_LINE,
  tempDir,
  waitFor,
} from "../helpers/harness.ts";
import { stream, verifyStream } from "../helpers/stream.ts";

// 15 s in the gate; `npm run test:long` soaks for 10 minutes.
const SOAK_S = Number(process.env.REALER_SOAK_S ?? 15);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until no request has reached the emulator for 300 ms: an aborted request of a stopped device may still arrive. */
const quiet = async (emulator: Emulator) => {
  await waitFor("the emulator to be quiet", () => (emulator.requests.at(-1)?.at ?? 0) < Date.now() - 300);
};

describe("resilience (emulator fault switches, real mosquitto)", () => {
  let emulator: Emulator;
  let stop: () => Promise<void>;

  before(async () => {
    ({ emulator, stop } = await startEmulator());
  });

  after(async () => {
    await stop?.();
  });

  const withDevice = async (body: (dev: RunningDevice) => Promise<void>, options: Parameters<typeof startDevice>[1] = {}) => {
    const dev = await startDevice(emulator, options);
    try {
      await waitFor("online", () => dev.seen.online.length > 0);
      await body(dev);
    } finally {
      await dev.stop();
    }
  };

  it(`renews the credential every 2 s for ${SOAK_S} s while states and readings flow: nothing lost, nothing applied twice`, {
    timeout: (SOAK_S + 60) * 1000,
  }, async () => {
    emulator.faults.credentialLifetimeS = 3;
    try {
      await withDevice(async (dev) => {
        const sent = await stream(emulator, dev, SOAK_S * 1000, 200);
        const report = await verifyStream(emulator, dev, sent);
        const renewals = dev.runtime.linkStatus?.renewals ?? 0;
        console.log(
          `renewal soak: ${SOAK_S} s, ${renewals} renewals, ${report.desired} desired states, ${report.readings} readings, lost ${report.lost}, applied twice ${report.appliedTwice}`,
        );
        assert.ok(renewals >= Math.floor(SOAK_S / 3), `renewed ${renewals} times in ${SOAK_S} s`);
      });
    } finally {
      emulator.faults.credentialLifetimeS = undefined;
    }
  });

  it("keeps every event through a broker stop and restart, in order per route", { timeout: 90_000 }, async () => {
    await withDevice(async (dev) => {
      const sent = await stream(emulator, dev, 1500);
      await emulator.controlBroker("stop");
      await waitFor("the device to notice", () => dev.seen.offline.length > 0);
      const offline = dev.seen.reading.length;
      await stream(emulator, dev, 2000, 150, sent); // readings recorded offline; desired states wait to be published
      assert.ok(dev.seen.reading.length > offline, "readings are recorded while offline");
      await emulator.controlBroker("start");
      await stream(emulator, dev, 1500, 150, sent);
      const report = await verifyStream(emulator, dev, sent);
      console.log(
        `broker restart: ${report.desired} desired states, ${report.readings} readings, lost ${report.lost}, applied twice ${report.appliedTwice}, reconnects ${dev.runtime.linkStatus?.reconnects}`,
      );
    });
  });

  it("applies a desired state the broker queued while the device was down, once, when it starts again", { timeout: 30_000 }, async () => {
    const dir = tempDir("queued");
    try {
      const first = await startDevice(emulator, { stateDir: dir.path });
      await waitFor("online", () => first.seen.online.length > 0);
      const relay = first.device.routes.find((route) => route.source_type === "command")!.source_id;
      await first.stop();
      const desired = await emulator.setDesired(first.device.device_id, relay, "1.0");
      const second = await startDevice(emulator, { device: first.device, stateDir: dir.path });
      try {
        await waitFor("the queued desired state to be answered", () => emulator.state.desired.get(desired.desiredId)?.answer, 10_000);
        assert.equal(second.mock.getLevel(RELAY_LINE), 1);
        assert.equal(
          second.seen.desired.filter((outcome) => outcome.desiredId === desired.desiredId && outcome.status === "applied").length,
          1,
        );
      } finally {
        await second.stop();
      }
    } finally {
      dir.remove();
    }
  });

  it("logs a refused subscription as a configuration error naming the topic, and serves the rest", { timeout: 30_000 }, async () => {
    emulator.faults.credentialScopes = ["iot:mqtt:connect", "iot:mqtt:ack:read", "iot:mqtt:feed-data:write"];
    try {
      await withDevice(async (dev) => {
        const desiredTopic = dev.device.routes.find((route) => route.source_type === "command")!.desired_topic!;
        const denied = dev.log.find((line) => line.includes("mqtt.subscribe_denied")) ?? "";
        assert.ok(denied.includes(desiredTopic) && denied.includes("not authorized") && denied.includes("configuration error"), denied);
        assert.match(denied, / error /, "logged at error level");
        dev.mock.setPull(SWITCH_LINE, 1 - dev.mock.getLevel(SWITCH_LINE) as 0 | 1);
        await waitFor("the reading accepted all the same", () => dev.runtime.outboxDepth === 0);
      });
    } finally {
      emulator.faults.credentialScopes = undefined;
    }
  });

  it("answers a desired state set before its very first session, read over HTTPS after connecting", { timeout: 30_000 }, async () => {
    const device = emulator.provision(DEMO_ROUTES);
    const relay = device.routes.find((route) => route.source_type === "command")!.source_id;
    // No session exists yet: the broker has nowhere to queue this.
    const early = await emulator.setDesired(device.device_id, relay, "1.0");
    const dev = await startDevice(emulator, { device });
    try {
      await waitFor("the early desired state to be answered", () => emulator.state.desired.get(early.desiredId)?.answer, 10_000);
      assert.equal(dev.mock.getLevel(RELAY_LINE), 1);
      assert.equal(dev.seen.desired.filter((o) => o.desiredId === early.desiredId && o.status === "applied").length, 1);
    } finally {
      await dev.stop();
    }
  });

  it("recovers by itself when its credential is revoked while connected", async () => {
    await withDevice(async (dev) => {
      const relay = dev.device.routes.find((route) => route.source_type === "command")!.source_id;
      assert.ok((await emulator.issuer.revoke(dev.device.device_id)) >= 1);
      await waitFor("the kick to be noticed", () => dev.seen.offline.length > 0);
      await waitFor("a reconnect", () => dev.seen.online.length > 1);
      const desired = await emulator.setDesired(dev.device.device_id, relay, "1.0");
      await waitFor("the report to be accepted", () => emulator.state.desired.get(desired.desiredId)?.answer);
      assert.equal(dev.mock.getLevel(RELAY_LINE), 1);
    });
  });

  it("waits at least Retry-After between requests during a 429 burst", { timeout: 30_000 }, async () => {
    await quiet(emulator);
    const from = emulator.requests.length;
    emulator.faults.httpBurst = { status: 429, remaining: 3, retryAfterS: 1 };
    await withDevice(async () => {
      const limited = emulator.requests.slice(from).filter((request) => request.status === 429);
      assert.equal(limited.length, 3);
      const next = emulator.requests.slice(from).find((request) => request.status !== 429)!;
      const times = [...limited.map((request) => request.at), next.at];
      for (let i = 1; i < times.length; i++) {
        assert.ok(times[i]! - times[i - 1]! >= 950, `gap ${times[i]! - times[i - 1]!} ms honours Retry-After: 1`);
      }
    });
  });

  it("backs off exponentially through a 503 burst instead of looping", { timeout: 30_000 }, async () => {
    await quiet(emulator);
    const from = emulator.requests.length;
    emulator.faults.httpBurst = { status: 503, remaining: 5, retryAfterS: undefined };
    // The top of each jitter range: waits of 100, 200, 400, 800, 1600 ms.
    await withDevice(async () => {
      const seen = emulator.requests.slice(from);
      const failed = seen.filter((request) => request.status === 503);
      assert.equal(failed.length, 5);
      const times = [...failed.map((request) => request.at), seen.find((request) => request.status !== 503)!.at];
      const gaps = times.slice(1).map((at, i) => at - times[i]!);
      const trail = seen.map((request) => `${request.at - seen[0]!.at} ${request.method} ${request.path} ${request.status}`).join("; ");
      gaps.forEach((gap, i) => assert.ok(gap >= 100 * 2 ** i - 20, `gap ${i} is ${gap} ms, at least ${100 * 2 ** i} ms (${trail})`));
    }, { backoff: { baseMs: 100, capMs: 5000, slowMs: 3000, random: () => 1 } });
  });

  it("retries slowly while the subscription is inactive (4002), then comes back", { timeout: 30_000 }, async () => {
    await withDevice(async (dev) => {
      emulator.faults.subscriptionInactive = true;
      const from = emulator.requests.length;
      await emulator.issuer.revoke(dev.device.device_id);
      await waitFor("the kick to be noticed", () => dev.seen.offline.length > 0);
      dev.mock.setPull(SWITCH_LINE, 1 - dev.mock.getLevel(SWITCH_LINE) as 0 | 1);
      await sleep(4000);
      const refused = emulator.requests.slice(from).filter((request) => request.status === 403);
      assert.ok(refused.length >= 1 && refused.length <= 3, `${refused.length} requests in 4 s with a 3 s floor`);
      emulator.faults.subscriptionInactive = false;
      await waitFor("a reconnect", () => dev.seen.online.length > 1, 10_000);
      await waitFor("the reading made while refused to be accepted", () => dev.runtime.outboxDepth === 0, 10_000);
    });
  });

  it("resends a reading with the same id and payload while acks say error, retryable", { timeout: 30_000 }, async () => {
    await withDevice(async (dev) => {
      await waitFor("the start-up reading", () => dev.runtime.outboxDepth === 0);
      emulator.faults.ackMode = "error-retryable";
      dev.mock.setPull(SWITCH_LINE, 1 - dev.mock.getLevel(SWITCH_LINE) as 0 | 1);
      const messageId = dev.seen.reading.at(-1)!.messageId;
      const copies = () =>
        emulator.state.feedOf(dev.device.device_id).filter((entry) => (entry.payload as { message_id?: string }).message_id === messageId);
      await waitFor("two deliveries answered error", () => copies().filter((entry) => entry.status === "error").length >= 2, 10_000);
      emulator.faults.ackMode = "normal";
      await waitFor("acceptance", () => copies().some((entry) => entry.status === "accepted"), 10_000);
      assert.equal(new Set(copies().map((entry) => JSON.stringify(entry.payload))).size, 1, "every copy has the same payload");
    });
  });

  it("resends when acks are withheld and stops at the replayed answer", { timeout: 30_000 }, async () => {
    await withDevice(async (dev) => {
      await waitFor("the start-up reading", () => dev.runtime.outboxDepth === 0);
      emulator.faults.ackMode = "withhold";
      dev.mock.setPull(SWITCH_LINE, 1 - dev.mock.getLevel(SWITCH_LINE) as 0 | 1);
      const messageId = dev.seen.reading.at(-1)!.messageId;
      const copies = () =>
        emulator.state.feedOf(dev.device.device_id).filter((entry) => (entry.payload as { message_id?: string }).message_id === messageId);
      await waitFor("a resend after the ack timeout", () => copies().length >= 2, 10_000);
      emulator.faults.ackMode = "normal";
      await waitFor("the outbox to empty", () => dev.runtime.outboxDepth === 0, 10_000);
      assert.deepEqual(copies().map((entry) => entry.status).slice(0, 1), ["accepted"]);
      assert.ok(copies().slice(1).every((entry) => entry.status === "replayed"));
    }, { ackTimeoutMs: 1000 });
  });

  it(
    "starts no request and handles nothing once stop() returns, even when stopped the moment it came online",
    { timeout: 30_000 },
    async () => {
      for (let round = 0; round < 5; round++) {
        const started: number[] = [];
        const dev = await startDevice(emulator, {
          wrapFetch: (inner) =>
            ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
              started.push(Date.now());
              return inner(input, init);
            }) as typeof fetch,
        });
        await waitFor("online", () => dev.seen.online.length > 0);
        await dev.stop(); // the reconciliation read that follows every connect is still under way here
        const stoppedAt = Date.now();
        const handled = dev.seen.desired.length + dev.seen.settled.length;
        await sleep(300);
        assert.deepEqual(started.filter((at) => at > stoppedAt), [], `round ${round}: requests started after stop()`);
        assert.equal(dev.seen.desired.length + dev.seen.settled.length, handled, `round ${round}: handled after stop()`);
      }
    },
  );
});
