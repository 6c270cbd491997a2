import { BACKEND_NAMES, type BackendName, type GpioBackend } from "./types.ts";

/** Builds the named backend, loading its code only when chosen (the mock never loads FFI). */
export async function createBackend(name: BackendName): Promise<GpioBackend> {
  switch (name) {
    case "mock": {
      const { MockBackend } = await import("./mock.ts");
      return new MockBackend();
    }
    default: {
      const unknown: never = name;
      throw new TypeError(`Unknown GPIO backend "${String(unknown)}"; valid names: ${BACKEND_NAMES.join(", ")}`);
    }
  }
}
