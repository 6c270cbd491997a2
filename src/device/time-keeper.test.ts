import { LINE_SCALE } from "./value-scale.ts";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { testLogger } from "../../test/helpers/harness.ts";
import { ManualClock } from "../manual-clock.ts";
import { silentLogger } from "../log.ts";
import { Outbox } from "../outbox/outbox.ts";
import { DeviceStore } from "../state/store.ts";
import { TimeKeeper } from "./time-keeper.ts";
import { parseRoute } from "../config/schema.ts";
import type { Binding } from "./bindings.ts";
import { DesiredHandler, type DesiredOutcome } from "./desired-handler.ts";
import { deviceLedger } from "./ledger.ts";

const YEAR_MS = 365 * 86_400_000;
const REAL_NOW = Date.UTC(2026, 10, 30, 12);

/** A board that booted with its clock in 1970 + a little; the monotonic clock runs with the manual one. */
function board(wall = 60_000) {
  const clock = new ManualClock(wall);
  const start = clock.now();
  let synced: boolean | undefined = false;
  const sources = { mono: () => 5000 + (clock.now() - start) - jumped, kernelSynced: () => synced };
  let jumped = 0;
  return {
    clock,
    sources,
    setSynced: (value: boolean | undefined) => (synced = value),
    /** NTP sets the wall clock: it jumps, the monotonic clock does not. */
    setWall: async (to: number) => {
      const by = to - clock.now();
      jumped += by;
      await clock.advance(by);
    },
  };
}

describe("time keeper", () => {
  it("knows no time on a board whose clock is unsynchronised and that has not heard the cloud", () => {
    const { clock, sources } = board();
    const keeper = new TimeKeeper(clock, silentLogger, sources);
    assert.equal(keeper.now(), undefined);
    assert.equal(keeper.status().source, "unknown");
  });

  it("takes the cloud's time from a Date header while ours is 56 years behind, and logs how far off ours is", () => {
    const { clock, sources } = board();
    const log: string[] = [];
    const keeper = new TimeKeeper(clock, testLogger("time", log), sources);
    keeper.serverDate(new Date(REAL_NOW).toUTCString(), clock.now() - 40, clock.now());
    const now = keeper.now()!;
    assert.ok(Math.abs(now - REAL_NOW) <= 1000, `${new Date(now).toISOString()}`);
    assert.equal(keeper.status().source, "the cloud's clock");
    assert.ok(log.some((line) => line.includes("clock.trusted") && /ours_off_by_s=-?\d{10}/.test(line)), log.join("\n"));
  });

  it("believes our own clock when it agrees with the cloud's, and the kernel's word above all", async () => {
    const { clock, sources, setSynced } = board(REAL_NOW);
    const keeper = new TimeKeeper(clock, silentLogger, sources);
    keeper.serverDate(new Date(REAL_NOW).toUTCString(), clock.now(), clock.now());
    assert.equal(keeper.status().source, "agrees with the cloud");
    setSynced(true);
    await clock.advance(1500);
    assert.equal(keeper.status().source, "kernel");
    assert.equal(keeper.now(), clock.now());
  });

  it("keeps the cloud's time right when NTP then sets our clock, and logs the jump", async () => {
    const { clock, sources, setWall } = board();
    const log: string[] = [];
    const keeper = new TimeKeeper(clock, testLogger("time", log), sources);
    keeper.serverDate(new Date(REAL_NOW).toUTCString(), clock.now(), clock.now());
    await setWall(REAL_NOW + 200);
    const now = keeper.now()!;
    assert.ok(Math.abs(now - (REAL_NOW + 200)) <= 1000);
    assert.ok(log.some((line) => line.includes("clock.moved")), log.join("\n"));
    assert.equal(keeper.status().source, "agrees with the cloud");
  });
});

describe("outbox with an unknown time", () => {
  it("holds readings observed before the time was known, on disk, and stamps them with the right wall time once it is", async () => {
    const { clock, sources } = board();
    const store = await DeviceStore.open(":memory:");
    const keeper = new TimeKeeper(clock, silentLogger, sources);
    const box = new Outbox({ store, clock, logger: silentLogger, ackTimeoutMs: 60_000, time: { keeper, bootId: "boot-a" } });
    const sent: { value_received_at: string }[] = [];
    box.attach({ publish: (_topic, payload) => Promise.resolve(void sent.push(JSON.parse(payload))) });
    box.enqueue("t", 1, { message_id: "sensor-1", value: "1.0", value_received_at: new Date(clock.now()).toISOString() });
    await clock.advance(10_000);
    box.enqueue("t", 1, { message_id: "sensor-2", value: "0.0", value_received_at: new Date(clock.now()).toISOString() });
    await clock.advance(0);
    assert.equal(sent.length, 0, "nothing leaves while the time is unknown");
    assert.equal(box.stats.waitingForClock, 2);
    assert.equal(store.outbox.clockHeldCount(), 2, "held on disk");
    await clock.advance(5000);
    // The cloud answers: it is REAL_NOW there.
    keeper.serverDate(new Date(REAL_NOW).toUTCString(), clock.now(), clock.now());
    box.pump();
    await clock.advance(0);
    assert.equal(sent.length, 2);
    const at = sent.map((payload) => Date.parse(payload.value_received_at));
    assert.ok(Math.abs(at[0]! - (REAL_NOW - 15_000)) <= 1000, `first observed 15 s before: ${sent[0]!.value_received_at}`);
    assert.ok(Math.abs(at[1]! - (REAL_NOW - 5000)) <= 1000, `second 5 s before: ${sent[1]!.value_received_at}`);
    assert.equal(box.stats.waitingForClock, 0);
    assert.equal(store.outbox.clockHeldCount(), 0);
    // Observed now, with the cloud's clock in use: corrected as it is queued.
    box.enqueue("t", 1, { message_id: "sensor-3", value: "1.0", value_received_at: new Date(clock.now()).toISOString() });
    await clock.advance(0);
    assert.ok(Math.abs(Date.parse(sent[2]!.value_received_at) - REAL_NOW) <= 1000);
    assert.ok(Math.abs(Date.parse(sent[2]!.value_received_at) - clock.now()) > 50 * YEAR_MS, "not our 1970 clock");
  });

  it("keeps a message held in an earlier boot as it was written, and sends it once the time is known", async () => {
    const { clock, sources } = board();
    const dir = (await import("../../test/helpers/harness.ts")).tempDir("clock");
    try {
      const first = await DeviceStore.open(dir.path);
      const keeper = new TimeKeeper(clock, silentLogger, sources);
      const box = new Outbox({ store: first, clock, logger: silentLogger, ackTimeoutMs: 60_000, time: { keeper, bootId: "boot-a" } });
      const stamp = new Date(clock.now()).toISOString();
      box.enqueue("t", 1, { message_id: "sensor-1", value: "1.0", value_received_at: stamp });
      await clock.advance(0);
      box.close();
      first.close();
      // Power cut; the board boots again, the clock still wrong, then hears the cloud.
      const second = await DeviceStore.open(dir.path);
      const again = new TimeKeeper(clock, silentLogger, sources);
      const next = new Outbox({
        store: second,
        clock,
        logger: silentLogger,
        ackTimeoutMs: 60_000,
        time: { keeper: again, bootId: "boot-b" },
      });
      assert.equal(next.stats.waitingForClock, 1, "still waiting after the restart");
      const sent: { value_received_at: string }[] = [];
      next.attach({ publish: (_topic, payload) => Promise.resolve(void sent.push(JSON.parse(payload))) });
      await clock.advance(0);
      assert.equal(sent.length, 0);
      again.serverDate(new Date(REAL_NOW).toUTCString(), clock.now(), clock.now());
      next.pump();
      await clock.advance(0);
      assert.deepEqual(sent.map((payload) => payload.value_received_at), [stamp]);
      next.close();
      second.close();
    } finally {
      dir.remove();
    }
  });

  it("judges a desired state's expiry by the cloud's time, not by a clock 56 years behind, and says when it cannot judge", async () => {
    const route = parseRoute({ pin_port: "6", line: { chip: "gpiochip0", offset: 6 } });
    const binding: Binding = {
      route: { source_type: "command", source_id: "cmd_1", mqtt: { feed_data_topic: "f", desired_topic: "d" } },
      config: route,
      key: "f",
      name: "cmd_1",
    };
    const run = async (keeper: TimeKeeper | undefined, clock: ManualClock, log: string[]) => {
      const store = await DeviceStore.open(":memory:");
      const outbox = new Outbox({ store, clock, logger: silentLogger, ackTimeoutMs: 60_000 });
      const writes: number[] = [];
      const line = {
        key: "pin_port:6",
        scale: LINE_SCALE,
        written: 0,
        read: () => Promise.resolve(0),
        apply: (value: number, _cause: "desired", settle?: (observed: number) => void) =>
          Promise.resolve(void writes.push(value)).then(() => {
            settle?.(value);
            return value;
          }),
      };
      const outcomes: DesiredOutcome[] = [];
      const handler = new DesiredHandler(
        {
          ledger: deviceLedger(store, outbox),
          clock,
          logger: testLogger("desired", log),
          onOutcome: (outcome) => outcomes.push(outcome),
          ...(keeper ? { time: keeper } : {}),
        },
        binding,
        line,
      );
      await handler.handle({
        desired_id: "des_1",
        value: "1.0",
        sequence_number: 1,
        expires_at: new Date(REAL_NOW - 60_000).toISOString(),
      });
      return { status: outcomes[0]?.status, writes };
    };
    const told = board();
    const keeper = new TimeKeeper(told.clock, silentLogger, told.sources);
    keeper.serverDate(new Date(REAL_NOW).toUTCString(), told.clock.now(), told.clock.now());
    assert.deepEqual(await run(keeper, told.clock, []), { status: "stale", writes: [] }, "expired a minute ago by the cloud's clock");
    const untold = board();
    const log: string[] = [];
    const blind = new TimeKeeper(untold.clock, silentLogger, untold.sources);
    assert.deepEqual(await run(blind, untold.clock, log), { status: "applied", writes: [1] });
    assert.ok(log.some((line) => line.includes("desired.expiry_not_judged")), "said so, not silently");
  });
});
