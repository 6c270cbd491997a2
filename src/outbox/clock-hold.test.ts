import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "../log.ts";
import { ManualClock } from "../manual-clock.ts";
import { ClockHold } from "./clock-hold.ts";
import { emptyOutboxStats } from "./types.ts";
import { TimeKeeper } from "../device/time-keeper.ts";

const REAL_NOW = Date.UTC(2026, 10, 30, 12);

describe("ClockHold", () => {
  it("holds a reading while the time is unknown, and keeps holding it while the store cannot restamp", () => {
    // A board booted in 1970 that has not heard the cloud yet.
    const clock = new ManualClock(60_000);
    const keeper = new TimeKeeper(clock, createLogger({ sink: () => {} }), { mono: () => clock.now(), kernelSynced: () => false });
    const lines: string[] = [];
    let failing = true;
    const restamps: string[] = [];
    const counted = emptyOutboxStats();
    const hold = new ClockHold({
      time: { keeper, bootId: "boot-a" },
      table: {
        clockHeldCount: () => 0,
        restampClockHeld: (bootId) => {
          if (failing) throw new Error("disk I/O error");
          restamps.push(bootId);
          return { restamped: 1, otherBoot: 0 };
        },
      },
      clock,
      logger: createLogger({ format: "json", sink: (line) => lines.push(line) }),
      stats: counted,
    });
    const stamped = hold.stamp({ message_id: "s-1", value: "1.0", value_received_at: new Date(clock.now()).toISOString() });
    assert.deepEqual(stamped.clock, { mono: 60_000, bootId: "boot-a" }, "kept with its monotonic moment");
    assert.equal(hold.holding, true);
    assert.equal(hold.release(), false, "the time is still unknown");
    keeper.serverDate(new Date(REAL_NOW).toUTCString(), clock.now(), clock.now());
    assert.equal(hold.release(), false, "the store refused the restamp");
    assert.match(lines.join("\n"), /clock\.restamp_failed.*disk I\/O error/);
    assert.equal(hold.holding, true, "still held back, not sent with a 1970 time");
    failing = false;
    assert.equal(hold.release(), true);
    assert.deepEqual(restamps, ["boot-a"]);
    assert.equal(counted.waitingForClock, 0);
  });

  it("counts what an earlier run held, and starts from none when the store cannot say", () => {
    const clock = new ManualClock();
    const keeper = new TimeKeeper(clock, createLogger({ sink: () => {} }), { mono: () => clock.now(), kernelSynced: () => false });
    const logger = createLogger({ sink: () => {} });
    const earlier = emptyOutboxStats();
    new ClockHold({
      time: { keeper, bootId: "b" },
      table: { clockHeldCount: () => 3, restampClockHeld: () => ({ restamped: 0, otherBoot: 0 }) },
      clock,
      logger,
      stats: earlier,
    });
    assert.equal(earlier.waitingForClock, 3);
    const failing = emptyOutboxStats();
    new ClockHold({
      time: { keeper, bootId: "b" },
      table: {
        clockHeldCount: () => {
          throw new Error("disk I/O error");
        },
        restampClockHeld: () => ({ restamped: 0, otherBoot: 0 }),
      },
      clock,
      logger,
      stats: failing,
    });
    assert.equal(failing.waitingForClock, 0);
  });
});
