// An input that drives an output on the board itself: a wall button that switches its light with
// the Internet down, before any network at boot, during a reconnect and while the disk refuses
// writes. The output is switched first, from the edge, through the same actuator as a desired
// state (interlock and dead time, read-back, restore memory, pulse); both changes are reported
// afterwards by their own routes as local physical changes.
import type { ControlMode } from "../config/schema.ts";
import { describeError } from "../errors.ts";
import type { EdgeEvent, LineRequest, LineValue } from "../hal/types.ts";
import type { Logger } from "../log.ts";
import type { Actuator } from "./actuator.ts";

/** What one local action did, for the console, /metrics and the bench. */
export interface LocalAction {
  /** The input's and the output's route keys (from the config: known before any catalog). */
  readonly input: string;
  readonly output: string;
  readonly mode: ControlMode;
  /** What the output reads back after the write. */
  readonly value: string;
  /** When the edge was seen (wall clock, ms). */
  readonly at: number;
  /** From the edge's arrival in this process to the output's line written (the relay switched), in ms. */
  readonly switchedMs: number;
  /** From the edge's arrival to the output written, read back and remembered, in ms. */
  readonly tookMs: number;
}

/** What {@linkcode LocalControl} works with. */
export interface LocalControlOptions {
  /** The input's route key, for logs and events. */
  readonly input: string;
  readonly line: LineRequest;
  readonly output: Actuator;
  readonly mode: ControlMode;
  readonly logger: Logger;
  readonly onAction?: (action: LocalAction) => void;
}

/**
 * What a mode does to the output for an edge to `value`: toggle flips on each press (an edge to
 * active), flip on every change, follow and momentary turn it on (a dimmer: to its last level)
 * while the input is active and off when not; undefined: no action.
 */
export function actionFor(mode: ControlMode, value: LineValue): "on" | "off" | "flip" | undefined {
  switch (mode) {
    case "toggle":
      return value === 1 ? "flip" : undefined;
    case "flip":
      return "flip";
    case "follow":
    case "momentary":
      return value === 1 ? "on" : "off";
  }
}

/** One input driving one output (see the file's opening comment). */
export class LocalControl {
  readonly #options: LocalControlOptions;
  #unwatch: (() => void) | undefined;

  constructor(options: LocalControlOptions) {
    this.#options = options;
  }

  /**
   * Starts acting on the input's edges. Call it before anything else listens to the line: the
   * output's write is then queued ahead of the edge's reading, and of the commit that stores it.
   */
  start(): void {
    this.#unwatch = this.#options.line.onEdge((event) => this.#act(event));
  }

  /** Stops acting on edges. */
  stop(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  #act(event: EdgeEvent): void {
    const { output, mode, logger, input } = this.#options;
    const action = actionFor(mode, event.value);
    if (action === undefined) return;
    // Latencies on the same monotonic clock as the actuator's `switchedAt`: measured, never waited on.
    const arrived = performance.now();
    let changed = false;
    output.apply(action, "control", () => (changed = true)).then((observed) => {
      if (!changed) return; // The output already held it (a desired state put it there): nothing was done.
      const round = (ms: number) => Math.round(ms * 1000) / 1000;
      const tookMs = round(performance.now() - arrived);
      const switchedMs = round(output.switchedAt - arrived);
      const value = output.scale.format(observed);
      logger.info("local.action", { input, output: output.key, mode, value, switched_ms: switchedMs, took_ms: tookMs });
      this.#options.onAction?.({ input, output: output.key, mode, value, at: event.observedAt, switchedMs, tookMs });
    }, (error: unknown) => {
      // The line failed: nothing else to do here; the actuator's read-back and the next press tell.
      logger.error("local.failed", { input, output: output.key, mode, error: describeError(error) });
    });
  }
}
