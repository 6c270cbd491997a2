import type { Clock } from "../clock.ts";
import { BACKEND_NAMES, type BackendName, type GpioBackend } from "./types.ts";

/** Options for {@linkcode createBackend}; tests and rigs point them elsewhere. */
export interface BackendOptions {
  /** Where the character devices are (`/dev`). */
  readonly devDir?: string;
  /** Where the sysfs GPIO class is (`/sys/class/gpio`). */
  readonly sysfsRoot?: string;
  /** Times debounce and stamps edges (the mock's and sysfs's software debounce); the system's by default. */
  readonly clock?: Clock;
}

/** Builds the named backend, loading its code only when chosen (the mock never loads FFI). */
export async function createBackend(name: BackendName, options: BackendOptions = {}): Promise<GpioBackend> {
  switch (name) {
    case "mock": {
      const { MockBackend } = await import("./mock.ts");
      return new MockBackend(undefined, options.clock ? { clock: options.clock } : {});
    }
    case "cdev":
    case "libgpiod": {
      const { CdevBackend } = await import("./cdev.ts");
      return await CdevBackend.open(options.devDir);
    }
    case "sysfs": {
      const { SysfsBackend } = await import("./sysfs.ts");
      return await SysfsBackend.open(options.sysfsRoot, options.clock);
    }
    default: {
      const unknown: never = name;
      throw new TypeError(`Unknown GPIO backend "${String(unknown)}"; valid names: ${BACKEND_NAMES.join(", ")}`);
    }
  }
}
