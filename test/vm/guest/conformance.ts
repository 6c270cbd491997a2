// Runs inside the arm64 VM: the GPIO conformance suite against the cdev and sysfs backends on a
// gpio-sim chip, then a few measurements. Prints one line per case for the host test to read:
//   CASE <backend> ok|fail <name>[: <why>]
//   MEASURE <what> <number> <unit>
import { readFileSync, writeFileSync } from "node:fs";
import { CdevBackend } from "../../../src/hal/cdev.ts";
import { CONFORMANCE_CASES, type ConformanceTarget, runCase } from "../../../src/hal/conformance.ts";
import { SysfsBackend } from "../../../src/hal/sysfs.ts";
import type { GpioBackend, LineRef } from "../../../src/hal/types.ts";
import { loadLibc } from "../../../src/platform/libc.ts";

const simDir = process.env.SIM_DIR!; // /sys/devices/platform/gpio-sim.0/gpiochipN
const label = process.env.SIM_LABEL!;
const offsetOf = (ref: LineRef) => ("offset" in ref ? ref.offset : 4);
const pull = (ref: LineRef, level: 0 | 1) => {
  writeFileSync(`${simDir}/sim_gpio${offsetOf(ref)}/pull`, level === 1 ? "pull-up" : "pull-down");
  return Promise.resolve();
};
const level = (ref: LineRef) =>
  Promise.resolve(readFileSync(`${simDir}/sim_gpio${offsetOf(ref)}/value`, "utf8").trim() === "1" ? 1 as const : 0 as const);

async function suite(name: string, open: () => Promise<GpioBackend>, extra: Partial<ConformanceTarget>): Promise<void> {
  const target: ConformanceTarget = {
    name,
    open,
    pull,
    level,
    lines: [{ chip: label, offset: 0 }, { chip: label, offset: 1 }],
    missingChip: "gpiochip99",
    bias: false,
    ...extra,
  };
  for (const testCase of CONFORMANCE_CASES) {
    const started = performance.now();
    try {
      await runCase(target, testCase);
      console.log(`CASE ${name} ok ${testCase.name} (${(performance.now() - started).toFixed(0)} ms)`);
    } catch (error) {
      const why = (error instanceof Error ? error.message : String(error)).replaceAll("\n", " ");
      console.log(`CASE ${name} fail ${testCase.name}: ${why}`);
    }
  }
}

async function measure(): Promise<void> {
  const backend = await CdevBackend.open();
  try {
    const line = await backend.requestLine({ chip: label, offset: 2 }, { direction: "output", outputValue: 0 }, "measure");
    const rounds = 2000;
    const started = performance.now();
    for (let index = 0; index < rounds; index++) {
      await line.setValue((index & 1) as 0 | 1);
      await line.getValue();
    }
    console.log(`MEASURE cdev-set-get-pairs ${(rounds / ((performance.now() - started) / 1000)).toFixed(0)} per-second`);
    await line.release();
    const input = await backend.requestLine({ chip: label, offset: 3 }, { direction: "input", edge: "both" }, "measure");
    const latencies: number[] = [];
    let seen: (() => void) | undefined;
    input.onEdge(() => seen?.());
    for (let index = 0; index < 40; index++) {
      const edge = new Promise<void>((resolve) => (seen = resolve));
      const pulled = performance.now();
      writeFileSync(`${simDir}/sim_gpio3/pull`, index % 2 === 0 ? "pull-up" : "pull-down");
      await edge;
      latencies.push(performance.now() - pulled);
    }
    latencies.sort((a, b) => a - b);
    console.log(`MEASURE cdev-edge-to-listener-p50 ${latencies[20]!.toFixed(1)} ms`);
    console.log(`MEASURE cdev-edge-to-listener-max ${latencies.at(-1)!.toFixed(1)} ms`);
    await input.release();
  } finally {
    await backend.close();
  }
}

/** Cases that need both backends at once. */
async function crossBackend(libc: Awaited<ReturnType<typeof loadLibc>>): Promise<void> {
  const name = "names sysfs as the holder of a line exported there";
  const sysfs = new SysfsBackend(libc);
  const cdev = new CdevBackend(libc);
  try {
    await sysfs.requestLine({ chip: label, offset: 5 }, { direction: "input" }, "exporter");
    const message = await cdev.requestLine({ chip: label, offset: 5 }, { direction: "input" }, "second").then(
      () => "no error",
      (error: Error) => error.message,
    );
    const expected = `Cannot request line 5 on ${process.env.SIM_CHIP}: line is busy (held by sysfs)`;
    console.log(message === expected ? `CASE cdev ok ${name}` : `CASE cdev fail ${name}: got "${message}", expected "${expected}"`);
  } finally {
    await sysfs.close();
    await cdev.close();
  }
}

const libc = await loadLibc();
await crossBackend(libc);
await suite("cdev", () => Promise.resolve(new CdevBackend(libc)), {
  bias: true,
  letGoFollowsPull: false,
  named: { name: "SIM_NAMED", offset: 4 },
});
await suite("sysfs", () => Promise.resolve(new SysfsBackend(libc)), {});
await measure();
console.log("CONFORMANCE DONE");
process.exit(0);
