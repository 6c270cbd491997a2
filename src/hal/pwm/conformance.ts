// One conformance suite for every PWM backend: the mock, and the sysfs backend over a simulated
// kernel in unit tests (or a board's real chip). A target says how to see what the pin shows.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RealerError } from "../../errors.ts";
import type { PwmBackend, PwmRef, PwmState } from "./types.ts";

/** How the suite reaches one backend and what stands behind it. */
export interface PwmConformanceTarget {
  readonly name: string;
  /** A fresh backend over fresh hardware; the suite closes it. */
  open(): Promise<PwmBackend>;
  /** What the channel holds, seen from outside the backend. */
  state(ref: PwmRef): PwmState | undefined;
  /** Every state the channel took, oldest first. */
  history(ref: PwmRef): readonly PwmState[];
  /** Two channels free for the suite. */
  readonly channels: readonly [PwmRef, PwmRef];
  readonly missingChip: string;
  /** Makes the channel's next duty write fail with EIO. */
  failNextSet(ref: PwmRef): void;
}

/** One case: it gets a fresh backend, which is closed after it. */
interface PwmCase {
  readonly name: string;
  run(backend: PwmBackend, target: PwmConformanceTarget, channels: readonly [PwmRef, PwmRef]): Promise<void>;
}

const PERIOD = 1_000_000;

const CASES: readonly PwmCase[] = [
  {
    name: "claims a channel straight at its first duty: no other enabled state shows at the pin",
    run: async (backend, target, [a]) => {
      await using channel = await backend.request(a, { periodNs: PERIOD, dutyNs: 400_000 }, "conformance");
      assert.deepEqual(target.state(a), { periodNs: PERIOD, dutyNs: 400_000, polarity: "normal", enabled: true });
      for (const state of target.history(a).filter((state) => state.enabled)) {
        assert.deepEqual({ period: state.periodNs, duty: state.dutyNs }, { period: PERIOD, duty: 400_000 });
      }
      assert.equal((await channel.read()).dutyNs, 400_000);
    },
  },
  {
    name: "sets the duty and reads back what the channel holds",
    run: async (backend, target, [a]) => {
      await using channel = await backend.request(a, { periodNs: PERIOD, dutyNs: 0 }, "conformance");
      await channel.setDuty(750_000);
      assert.equal(target.state(a)?.dutyNs, 750_000);
      assert.deepEqual(await channel.read(), { periodNs: PERIOD, dutyNs: 750_000, polarity: "normal", enabled: true });
      await channel.setDuty(0);
      assert.deepEqual(
        target.state(a),
        { periodNs: PERIOD, dutyNs: 0, polarity: "normal", enabled: true },
        "off is a duty of 0, still enabled",
      );
    },
  },
  {
    name: "refuses a duty above the period and keeps what it held",
    run: async (backend, target, [a]) => {
      await using channel = await backend.request(a, { periodNs: PERIOD, dutyNs: 100 }, "conformance");
      await assert.rejects(channel.setDuty(PERIOD + 1), TypeError);
      await assert.rejects(channel.setDuty(-1), TypeError);
      await assert.rejects(channel.setDuty(0.5), TypeError);
      assert.equal(target.state(a)?.dutyNs, 100);
      await assert.rejects(backend.request(a, { periodNs: 0, dutyNs: 0 }, "conformance"), TypeError);
    },
  },
  {
    name: "a held channel is busy; released, it can be claimed again",
    run: async (backend, _target, [a]) => {
      const first = await backend.request(a, { periodNs: PERIOD, dutyNs: 0 }, "first");
      await assert.rejects(backend.request(a, { periodNs: PERIOD, dutyNs: 0 }, "second"), (error: unknown) => {
        assert.ok(error instanceof RealerError && error.kind === "busy", String(error));
        return true;
      });
      await first.release();
      await (await backend.request(a, { periodNs: PERIOD, dutyNs: 0 }, "second")).release();
    },
  },
  {
    name: "a missing chip or channel is not-found, named in one line",
    run: async (backend, target, [a]) => {
      for (const ref of [{ chip: target.missingChip, channel: 0 }, { chip: a.chip, channel: 99 }]) {
        await assert.rejects(backend.request(ref, { periodNs: PERIOD, dutyNs: 0 }, "conformance"), (error: unknown) => {
          assert.ok(error instanceof RealerError && error.kind === "not-found", String(error));
          assert.doesNotMatch(error.message, /\n/);
          return true;
        });
      }
    },
  },
  {
    name: "release leaves the channel running; the next claim takes it over without stopping it",
    run: async (backend, target, [a]) => {
      const first = await backend.request(a, { periodNs: PERIOD, dutyNs: 300_000 }, "conformance");
      await first.release();
      assert.deepEqual(target.state(a), { periodNs: PERIOD, dutyNs: 300_000, polarity: "normal", enabled: true });
      await assert.rejects(first.read(), (error: unknown) => error instanceof RealerError && error.kind === "released");
      const seen = target.history(a).length;
      await using again = await backend.request(a, { periodNs: PERIOD, dutyNs: 600_000 }, "conformance");
      const after = target.history(a).slice(seen);
      assert.ok(after.every((state) => state.enabled), "never disabled");
      assert.ok(after.every((state) => state.dutyNs === 300_000 || state.dutyNs === 600_000), JSON.stringify(after));
      assert.equal((await again.read()).dutyNs, 600_000);
    },
  },
  {
    name: "a shorter period on takeover brings the duty down first (never above the period)",
    run: async (backend, target, [a]) => {
      await (await backend.request(a, { periodNs: PERIOD, dutyNs: 900_000 }, "conformance")).release();
      await using channel = await backend.request(a, { periodNs: 500_000, dutyNs: 100_000 }, "conformance");
      assert.deepEqual(await channel.read(), { periodNs: 500_000, dutyNs: 100_000, polarity: "normal", enabled: true });
      assert.ok(target.history(a).every((state) => state.dutyNs <= state.periodNs || state.periodNs === 0));
    },
  },
  {
    name: "takes the inversed polarity in the claim",
    run: async (backend, target, [, b]) => {
      await using channel = await backend.request(b, { periodNs: PERIOD, dutyNs: 250_000, polarity: "inversed" }, "conformance");
      assert.equal(target.state(b)?.polarity, "inversed");
      assert.equal((await channel.read()).polarity, "inversed");
    },
  },
  {
    name: "a write the kernel fails is an io error, and the channel keeps working",
    run: async (backend, target, [a]) => {
      await using channel = await backend.request(a, { periodNs: PERIOD, dutyNs: 200_000 }, "conformance");
      target.failNextSet(a);
      await assert.rejects(channel.setDuty(500_000), (error: unknown) => {
        assert.ok(error instanceof RealerError && error.kind === "io", String(error));
        return true;
      });
      assert.equal(target.state(a)?.dutyNs, 200_000);
      await channel.setDuty(500_000);
      assert.equal(target.state(a)?.dutyNs, 500_000);
    },
  },
];

/** Registers the suite for `target` with node:test. */
export function describePwmConformance(target: PwmConformanceTarget): void {
  describe(`PWM conformance: ${target.name}`, () => {
    for (const testCase of CASES) {
      it(testCase.name, async () => {
        const backend = await target.open();
        try {
          await testCase.run(backend, target, target.channels);
        } finally {
          await backend.close();
        }
      });
    }
  });
}
