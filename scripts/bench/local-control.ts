// Press → relay: a device whose switch input toggles its relay on the board (controls), pressed
// through the mock's control port. The device logs, for each action, the time from the edge's
// arrival in its process to the relay's line written (`switched_ms`); the floor is one line read
// plus one line write on the same backend, measured in the same run. Then the same while a burst
// of desired states is being answered on the same relay (their synced commits in between), and
// both again with every fsync of the device made 20 ms slower (strace), as on a slow SD card.
import { SWITCH_LINE } from "../../test/helpers/harness.ts";
import type { Emulator } from "../../src/emulator/emulator.ts";
import { MockBackend } from "../../src/hal/mock.ts";
import { slowDisk } from "./device-process.ts";
import type { Row } from "./stats.ts";
import { summarize } from "./stats.ts";

/** The device process as the bench's `launch` gives it. */
interface Launched {
  readonly device: { readonly device_id: number; readonly routes: readonly { readonly source_type: string; readonly source_id: string }[] };
  readonly port: number;
  readonly proc: { lines(): readonly Record<string, unknown>[]; stop(): Promise<unknown> };
  readonly dir: { remove(): void };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One line read plus one line write on the mock backend, in this process: the floor of a local action. */
export async function lineFloor(rounds: number): Promise<number[]> {
  const mock = new MockBackend();
  const input = await mock.requestLine({ chip: "gpiochip0", offset: 5 }, { direction: "input", edge: "both" }, "floor");
  const output = await mock.requestLine({ chip: "gpiochip0", offset: 6 }, { direction: "output", outputValue: 0 }, "floor");
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    const value = await input.getValue();
    await output.setValue(value === 1 ? 0 : 1);
    samples.push(performance.now() - started);
    if (i % 50 === 0) await sleep(0);
  }
  await mock.close();
  return samples;
}

/** Presses the switch `rounds` times (a press and a release each), while `during` runs; returns each action's switched_ms. */
async function press(launched: Launched, rounds: number, during?: () => void): Promise<number[]> {
  const control = `http://127.0.0.1:${launched.port}/lines/${SWITCH_LINE.chip}/${SWITCH_LINE.offset}`;
  const actions = () => launched.proc.lines().filter((line) => line.event === "local.action");
  const before = actions().length;
  for (let i = 0; i < rounds; i++) {
    during?.();
    for (const level of [1, 0]) {
      await fetch(control, { method: "PUT", body: JSON.stringify({ level }) }).then((answer) => answer.arrayBuffer());
    }
    // Presses 20 ms apart, as a fast finger would not be, but a bounded run wants.
    await sleep(20);
  }
  for (let wait = 0; actions().length < before + rounds && wait < 200; wait++) await sleep(10);
  return actions().slice(before).map((line) => Number(line.switched_ms));
}

/** The delay a slow disk adds to every fsync, as an SD card under load can. */
const SLOW_SYNC_MS = 20;

/** Idle presses, then presses during a burst of desired states on the same relay: each phase's switched_ms. */
async function phases(emulator: Emulator, launched: Launched, rounds: number): Promise<{ idle: number[]; burst: number[] }> {
  await sleep(1000);
  const idle = await press(launched, rounds);
  const relay = launched.device.routes.find((route) => route.source_type === "command")!.source_id;
  let n = 0;
  // About 50 desired states a second on the same relay: each answer's synced commit competes with the presses.
  const burst = await press(launched, rounds, () => {
    void emulator.setDesired(launched.device.device_id, relay, n++ % 2 === 0 ? "1.0" : "0.0");
  });
  return { idle, burst };
}

/** The press → relay rows for one device kind: on this disk, then on a slow one. */
export async function pressToRelay(
  emulator: Emulator,
  launch: (configure: (routes: Record<string, unknown>[]) => Record<string, unknown>[], wrap?: readonly string[]) => Promise<Launched>,
  rounds: number,
): Promise<Row[]> {
  const floor = summarize(await lineFloor(rounds * 10));
  const withButton = (routes: Record<string, unknown>[]) =>
    routes.map((route) => (route.pin_port === "5" ? { ...route, controls: { output: "6", mode: "toggle" } } : route));
  const run = async (wrap?: readonly string[]) => {
    const launched = await launch(withButton, wrap);
    try {
      return await phases(emulator, launched, rounds);
    } finally {
      await launched.proc.stop();
      launched.dir.remove();
    }
  };
  const quick = await run();
  const slow = await run(slowDisk(SLOW_SYNC_MS));
  const goal = { value: floor.p99 + 2, kind: "max" as const, how: "floor p99 + 2 ms" };
  const rows = (label: string, samples: number[], withGoal: boolean): Row[] => {
    const s = summarize(samples);
    return [
      { figure: `${label}, p50`, measured: s.p50, unit: "ms" },
      { figure: `${label}, p99`, measured: s.p99, unit: "ms", ...(withGoal ? { goal } : {}) },
    ];
  };
  return [
    { figure: "floor: one line read + one write on the mock, p50", measured: floor.p50, unit: "ms" },
    { figure: "floor: the same, p99", measured: floor.p99, unit: "ms" },
    ...rows("input edge → relay switched (local control)", quick.idle, true),
    ...rows("  the same during a burst of desired states", quick.burst, true),
    ...rows(`  the same, every fsync ${SLOW_SYNC_MS} ms slower (slow disk)`, slow.idle, true),
    ...rows("  the same, slow disk and a burst of desired states", slow.burst, false),
  ];
}
