// The wired rig, for a real board: each device line is wired to a spare line of the rig (the
// scenario's `wiring`). The rig claims the spare lines with a GPIO backend (cdev on a board):
// a device output is watched through an input with edge events (every change, with the
// kernel's time), a device input is driven through an output.
import { RealerError } from "../../errors.ts";
import type { GpioBackend, LineRef, LineRequest } from "../../hal/types.ts";
import type { Level, LevelObserver, Rig, RigLine } from "../rig.ts";

/** The wired rig: `wiring` maps each route to its spare line; `backend` claims them. */
export class WiredRig implements Rig {
  readonly name = "wired";
  readonly exact = true;
  readonly gpio = { backend: "cdev" as const };
  readonly #backend: GpioBackend;
  readonly #wiring: Readonly<Record<string, LineRef>>;
  readonly #claims = new Map<string, LineRequest>();
  readonly #stops: (() => void)[] = [];
  #observe: LevelObserver = () => {};

  constructor(backend: GpioBackend, wiring: Readonly<Record<string, LineRef>>) {
    this.#backend = backend;
    this.#wiring = wiring;
  }

  deviceLine(line: RigLine["line"]): RigLine["line"] {
    return line;
  }

  async start(lines: readonly RigLine[], observe: LevelObserver): Promise<void> {
    this.#observe = observe;
    for (const line of lines) {
      const spare = this.#wiring[line.route];
      if (!spare) {
        throw new RealerError(
          "config",
          `Cannot run on the wired rig: wiring.${line.route} is missing; wire a spare line to the device's line and name it there`,
        );
      }
      if (line.direction === "output") {
        // Watched with both edges and no bias: the device's output drives the wire.
        const request = await this.#backend.requestLine(spare, { direction: "input", edge: "both", bias: "disabled" }, "realer-hil");
        this.#claims.set(line.route, request);
        this.#stops.push(request.onEdge((edge) => observe(line.route, edge.value, edge.observedAt)));
        observe(line.route, await request.getValue(), Date.now());
      } else {
        // Starts low, as a released switch: the first drive step decides.
        this.#claims.set(line.route, await this.#backend.requestLine(spare, { direction: "output", outputValue: 0 }, "realer-hil"));
        observe(line.route, 0, Date.now());
      }
    }
  }

  deviceStarted(): Promise<void> {
    return Promise.resolve();
  }

  beforeStop(): void {}

  deviceStopped(): void {}

  async drive(route: string, level: Level): Promise<void> {
    const claim = this.#claims.get(route);
    if (!claim) throw new RealerError("config", `Cannot drive route ${route} on the wired rig: it is not wired`);
    await claim.setValue(level);
    this.#observe(route, level, Date.now());
  }

  failLine(route: string): Promise<void> {
    return Promise.reject(new RealerError("config", `Cannot fail line ${route} on the wired rig: line faults need the mock rig`));
  }

  async close(): Promise<void> {
    for (const stop of this.#stops) stop();
    for (const claim of this.#claims.values()) await claim.release();
    this.#claims.clear();
  }
}
