import { RealerError } from "../errors.ts";
import type { LineSettings } from "./types.ts";

/** What every backend refuses before it asks the kernel. */
export function checkSettings(settings: LineSettings, prefix: string): void {
  if (settings.direction === "output" && (settings.edge ?? "none") !== "none") {
    throw new RealerError("config", `${prefix}: edge detection needs an input line`);
  }
  if (settings.debounceMs !== undefined && (settings.debounceMs < 0 || !Number.isFinite(settings.debounceMs))) {
    throw new RangeError(`${prefix}: debounce must be a non-negative number of milliseconds`);
  }
  if (settings.direction === "input" && settings.drive !== undefined && settings.drive !== "push-pull") {
    throw new RealerError("config", `${prefix}: drive ${settings.drive} needs an output line`);
  }
}
