// The gpio-sim chip as the guests read and drive it, from the outside of the device under test:
// a line's value as the pin shows it, its pull (what an input is driven to, and where a released
// line falls), and a tight sampler of a pin for glitch checks.
import { readFileSync, writeFileSync } from "node:fs";

/** The chip's folder in sysfs, from the guest's init. */
export const simDir = process.env.SIM_DIR!;

/** What the pin at `offset` shows now. */
export const simValue = (offset: number): 0 | 1 => (readFileSync(`${simDir}/sim_gpio${offset}/value`, "utf8").trim() === "1" ? 1 : 0);

/** Pulls the pin at `offset` up (1) or down (0). */
export const simPull = (offset: number, level: 0 | 1): void =>
  writeFileSync(`${simDir}/sim_gpio${offset}/pull`, level === 1 ? "pull-up" : "pull-down");

/** Reads the pin at `offset` in a tight loop until `stop()`, which returns every sample with its time. */
export function samplePin(offset: number): { stop(): Promise<{ t: number; value: 0 | 1 }[]> } {
  const samples: { t: number; value: 0 | 1 }[] = [];
  let sampling = true;
  const loop = (async () => {
    while (sampling) {
      samples.push({ t: performance.now(), value: simValue(offset) });
      if (samples.length % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
  })();
  return {
    stop: async () => {
      sampling = false;
      await loop;
      return samples;
    },
  };
}
