// The mock rig: the device runs the mock backend with its control port on loopback; the rig
// reads the mock's timeline (every level change and every claim, exactly, with its time) and
// pulls inputs through the same port.
import { RealerError } from "../../errors.ts";
import type { MockChange } from "../../hal/mock.ts";
import { type ChannelReading, type Level, type LevelObserver, type Rig, type RigLine, sleep } from "../rig.ts";

const POLL_MS = 10;

/** The mock rig on a device whose control port is `port`. */
export class MockRig implements Rig {
  readonly name = "mock";
  readonly exact = true;
  readonly gpio;
  readonly #base: string;
  #lines: readonly RigLine[] = [];
  #observe: LevelObserver = () => {};
  #after = 0;
  #polling: Promise<void> | undefined;
  #running = false;
  /** The pulls the rig set, put back after a restart: the switch stays where it was. */
  readonly #pulls = new Map<string, Level>();

  constructor(port: number) {
    this.gpio = { backend: "mock" as const, control_port: port };
    this.#base = `http://127.0.0.1:${port}`;
  }

  deviceLine(line: RigLine["line"]): RigLine["line"] {
    return line;
  }

  start(lines: readonly RigLine[], observe: LevelObserver): Promise<void> {
    this.#lines = lines;
    this.#observe = observe;
    return Promise.resolve();
  }

  async deviceStarted(): Promise<void> {
    this.#after = 0;
    this.#running = true;
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await this.#request("GET", "/lines");
        break;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new RealerError("network", `Cannot reach the mock control port at ${this.#base}: ${(error as Error).message}`);
        }
        await sleep(20);
      }
    }
    for (const [route, level] of this.#pulls) await this.drive(route, level);
    this.#polling = this.#poll();
  }

  beforeStop(): void {}

  deviceStopped(): void {
    this.#running = false;
  }

  async drive(route: string, level: Level): Promise<void> {
    const line = this.#line(route);
    await this.#request("PUT", `/lines/${line.chip}/${line.offset}`, { level });
    this.#pulls.set(route, level);
    this.#observe(route, level, Date.now());
  }

  async readChannel(channel: { readonly chip: string; readonly channel: number }): Promise<ChannelReading> {
    const state = await this.#request("GET", `/pwm/${channel.chip.replace(/^.*\//, "")}/${channel.channel}`) as Partial<ChannelReading>;
    return { periodNs: Number(state.periodNs), dutyNs: Number(state.dutyNs), enabled: state.enabled === true };
  }

  async failLine(route: string, fault: { get?: boolean | undefined; set?: boolean | undefined }): Promise<void> {
    const line = this.#line(route);
    await this.#request("PUT", `/lines/${line.chip}/${line.offset}/fault`, fault);
  }

  async close(): Promise<void> {
    this.#running = false;
    await this.#polling;
  }

  /** Reads the timeline until the device stops, handing each output's levels to the observer. */
  async #poll(): Promise<void> {
    while (this.#running) {
      try {
        const { changes } = await this.#request("GET", `/timeline?after=${this.#after}`) as { changes: MockChange[] };
        for (const change of changes) {
          this.#after = change.seq;
          const rigLine = this.#lines.find((candidate) =>
            candidate.direction === "output" && "chip" in candidate.line && candidate.line.chip === change.chip &&
            candidate.line.offset === change.offset
          );
          if (rigLine) this.#observe(rigLine.route, change.level, change.at);
        }
      } catch {
        // The device is going away; the next start finds it again.
      }
      await sleep(POLL_MS);
    }
  }

  #line(route: string): { chip: string; offset: number } {
    const line = this.#lines.find((candidate) => candidate.route === route)?.line;
    if (!line || !("chip" in line)) {
      throw new RealerError("config", `Cannot reach route ${route} on the mock rig: give its line as {chip, offset}`);
    }
    return line;
  }

  async #request(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${this.#base}${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
      signal: AbortSignal.timeout(5000),
    });
    const answer = await response.json() as { error?: string };
    if (!response.ok) {
      throw new RealerError("io", `The mock control port answered ${response.status} to ${method} ${path}: ${answer.error ?? ""}`);
    }
    return answer;
  }
}
