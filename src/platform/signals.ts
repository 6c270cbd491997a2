// SIGINT and SIGTERM on both runtimes, in a module light enough to load first: a stop that comes
// while the rest of the program is still loading must be a clean stop, not a kill.
import { denoGlobal } from "./globals.ts";

/** Calls `handler` once on SIGINT or SIGTERM; returns a function that removes it. */
export function onShutdownSignal(handler: (signal: "SIGINT" | "SIGTERM") => void): () => void {
  let fired = false;
  const listeners = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const listener = () => {
      if (fired) return;
      fired = true;
      handler(signal);
    };
    if (denoGlobal) {
      denoGlobal.addSignalListener(signal, listener);
      return () => denoGlobal?.removeSignalListener(signal, listener);
    }
    process.on(signal, listener);
    return () => process.off(signal, listener);
  });
  return () => listeners.forEach((remove) => remove());
}

/**
 * Catches the first stop signal from the moment it is made and remembers it, so whoever starts
 * listening later still hears of a signal that came before.
 */
export class ShutdownLatch {
  #signal: "SIGINT" | "SIGTERM" | undefined;
  readonly #listeners = new Set<(signal: "SIGINT" | "SIGTERM") => void>();

  /** `listen` is where signals come from: the process's, unless a test brings its own. */
  constructor(listen: typeof onShutdownSignal = onShutdownSignal) {
    listen((signal) => {
      this.#signal = signal;
      for (const listener of this.#listeners) listener(signal);
    });
  }

  /** The signal that came, if one did. */
  get signal(): "SIGINT" | "SIGTERM" | undefined {
    return this.#signal;
  }

  /** Calls `listener` on the signal, at once when it already came. */
  on(listener: (signal: "SIGINT" | "SIGTERM") => void): void {
    this.#listeners.add(listener);
    if (this.#signal) listener(this.#signal);
  }
}
