import { type Clock, systemClock, type Timer } from "../clock.ts";
import { RealerError } from "../errors.ts";
import { LevelHistory, type MockChange, MockTimeline } from "./mock-timeline.ts";
import { checkSettings } from "./settings.ts";
import {
  type ChipInfo,
  describeLine,
  type EdgeEvent,
  type GpioBackend,
  type LineInfo,
  type LineRef,
  type LineRequest,
  type LineSettings,
  type LineValue,
} from "./types.ts";

/** A physical level at a pin: 1 high, 0 low. */
export type Level = 0 | 1;

/** The shape of one simulated chip. */
export interface MockChipSpec {
  readonly name: string;
  readonly label?: string;
  readonly lines: number;
  /** Line names by offset; lines without one are called `GPIO<offset>`. */
  readonly names?: readonly string[];
}

export type { MockChange } from "./mock-timeline.ts";

/** What the simulator knows of one line, for tests and the control interface. */
export interface MockLineState {
  readonly chip: string;
  readonly offset: number;
  readonly name: string;
  readonly consumer: string;
  readonly direction: "input" | "output";
  readonly activeLow: boolean;
  /** The level at the pin: the driven level of an output, the pull of an input. */
  readonly level: Level;
}

interface Line {
  readonly chip: string;
  /** The chip's place in the backend's list, as the timeline records it. */
  readonly chipIndex: number;
  readonly offset: number;
  readonly name: string;
  /** The level something outside pulls the pin to (a switch, a sensor). */
  pull: Level;
  /** The level the line drives while it is an output. */
  driven: Level;
  holder: MockRequest | undefined;
  direction: "input" | "output";
  activeLow: boolean;
  /** How an output drives: open-drain lets go of high, open-source of low (the pull decides). */
  drive: "push-pull" | "open-drain" | "open-source";
  /** Operations that fail with an I/O error, as a line on a failing expander or a loose wire would. */
  faults: MockFault;
}

/** Which operations on a line fail with an I/O error (EIO), for failure-path tests and rigs. */
export interface MockFault {
  readonly get?: boolean | undefined;
  readonly set?: boolean | undefined;
}

/**
 * How many level changes a line's history and the timeline keep: plenty for a test's glitch
 * check, in rings fixed at the start (about 1 MiB for the timeline, 10 KiB a line that changed),
 * so a rig or a soak running for days uses what it used after its first minute.
 */
const HISTORY_MAX = 10_000;
const TIMELINE_MAX = 50_000;

const DEFAULT_CHIPS: readonly MockChipSpec[] = [{ name: "gpiochip0", label: "realer-mock", lines: 32 }];

const toLevel = (value: LineValue, activeLow: boolean): Level => (activeLow ? (1 - value) as Level : value);
const toValue = (level: Level, activeLow: boolean): LineValue => (activeLow ? (1 - level) as LineValue : level);

/**
 * GPIO in memory, with the semantics of the kernel's: a held line is busy, an output cannot be
 * edge-watched, active-low inverts, debounce holds back edges until the level is stable.
 * Tests and rigs drive inputs with `setPull()` and read outputs with `getLevel()`.
 */
export class MockBackend implements GpioBackend {
  readonly name = "mock" as const;
  readonly #chips: readonly (ChipInfo & { readonly lineList: Line[] })[];
  readonly #history = new Map<Line, LevelHistory>();
  readonly #timeline: MockTimeline;
  readonly #clock: Clock;

  /** `clock` times debounce and stamps edges; the system's by default. */
  constructor(chips: readonly MockChipSpec[] = DEFAULT_CHIPS, options: { readonly clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#chips = chips.map((spec, chipIndex) => ({
      name: spec.name,
      label: spec.label ?? spec.name,
      path: `/dev/${spec.name}`,
      lines: spec.lines,
      lineList: Array.from({ length: spec.lines }, (_, offset) => ({
        chip: spec.name,
        chipIndex,
        offset,
        name: spec.names?.[offset] ?? `GPIO${offset}`,
        pull: 0 as Level,
        driven: 0 as Level,
        holder: undefined,
        direction: "input" as const,
        activeLow: false,
        faults: {},
        drive: "push-pull" as const,
      })),
    }));
    this.#timeline = new MockTimeline(TIMELINE_MAX, this.#chips.map((chip) => chip.name));
  }

  listChips(): Promise<ChipInfo[]> {
    return Promise.resolve(
      this.#chips.map(({ name, label, path, lines }) => ({ name, label, path, lines })),
    );
  }

  // async, so that a failure rejects the promise as the contract says, rather than throwing
  async getLineInfo(ref: LineRef): Promise<LineInfo> {
    const line = this.#find(ref, "describe");
    return {
      chip: line.chip,
      offset: line.offset,
      name: line.name,
      consumer: line.holder?.consumer ?? "",
      used: line.holder !== undefined,
      direction: line.direction,
      activeLow: line.activeLow,
      drive: line.holder !== undefined && line.direction === "output" ? line.drive : "push-pull",
    };
  }

  // async, so that a failure rejects the promise as the contract says, rather than throwing
  async requestLine(ref: LineRef, settings: LineSettings, consumer: string): Promise<LineRequest> {
    const line = this.#find(ref, "request");
    if (line.holder) {
      throw new RealerError(
        "busy",
        `Cannot request line ${line.offset} on ${line.chip}: line is busy (held by ${line.holder.consumer})`,
      );
    }
    const request = new MockRequest(line, consumer, this, this.#clock);
    line.holder = request;
    try {
      request.apply(settings, "request");
    } catch (error) {
      line.holder = undefined;
      throw error;
    }
    this.record(line, true);
    return request;
  }

  /** Pulls the pin of an input to `level`, as a switch or sensor would. */
  setPull(ref: LineRef, level: Level): void {
    const line = this.#find(ref, "drive");
    const before = this.#levelOf(line);
    line.pull = level;
    const after = this.#levelOf(line);
    this.record(line);
    if (before !== after) line.holder?.levelChanged(after);
  }

  /**
   * Makes reads and/or writes of a line fail with EIO until cleared (`{}`), as the kernel answers
   * for a line on an I²C expander that stopped answering.
   */
  failLine(ref: LineRef, faults: MockFault): void {
    this.#find(ref, "fail").faults = { ...faults };
  }

  /** Whether a consumer holds the line as an input with edge detection, so a pull is seen as an edge. */
  isWatched(ref: LineRef): boolean {
    const line = this.#find(ref, "read");
    return line.holder !== undefined && line.direction === "input" && (line.holder.settings.edge ?? "none") !== "none";
  }

  /** The level at the pin now. */
  getLevel(ref: LineRef): Level {
    return this.#levelOf(this.#find(ref, "read"));
  }

  /**
   * Every level the pin of a line has shown, in order, since the backend was made (it starts at
   * the pull, 0), up to the last 10,000. A glitch at claim or restart shows here as an extra entry.
   */
  levelHistory(ref: LineRef): Level[] {
    const line = this.#find(ref, "read");
    return this.#history.get(line)?.levels() ?? [line.pull];
  }

  /** Every change of any pin's level and every claim, in the order they happened; `after` a seq. */
  timeline(after = 0): MockChange[] {
    return this.#timeline.since(after);
  }

  /** @internal Notes the pin's level after a change (or a claim); the oldest entries go past the bounds. */
  record(line: Line, claimed = false): void {
    const level = this.#levelOf(line);
    let history = this.#history.get(line);
    const changed = (history?.last ?? 0) !== level;
    if (changed) {
      if (history === undefined) {
        history = new LevelHistory(HISTORY_MAX, 0);
        this.#history.set(line, history);
      }
      history.push(level);
    }
    if (!changed && !claimed) return;
    this.#timeline.append(line.chipIndex, line.offset, level, claimed, Date.now());
  }

  /** The state of every line, for the control interface. */
  snapshot(): MockLineState[] {
    return this.#chips.flatMap((chip) => chip.lineList.map((line) => this.#state(line)));
  }

  /** The state of one line. */
  lineState(ref: LineRef): MockLineState {
    return this.#state(this.#find(ref, "read"));
  }

  close(): Promise<void> {
    for (const chip of this.#chips) for (const line of chip.lineList) line.holder?.forget();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @internal The pin level of a line, given who drives it. */
  levelOf(line: Line): Level {
    return this.#levelOf(line);
  }

  #levelOf(line: Line): Level {
    if (line.holder === undefined || line.direction !== "output") return line.pull;
    if (line.drive === "open-drain" && line.driven === 1) return line.pull;
    if (line.drive === "open-source" && line.driven === 0) return line.pull;
    return line.driven;
  }

  #state(line: Line): MockLineState {
    return {
      chip: line.chip,
      offset: line.offset,
      name: line.name,
      consumer: line.holder?.consumer ?? "",
      direction: line.direction,
      activeLow: line.activeLow,
      level: this.#levelOf(line),
    };
  }

  #find(ref: LineRef, action: string): Line {
    if ("name" in ref) {
      for (const chip of this.#chips) {
        const line = chip.lineList.find((candidate) => candidate.name === ref.name);
        if (line) return line;
      }
      throw new RealerError("not-found", `Cannot ${action} ${describeLine(ref)}: no line has that name`);
    }
    const chip = this.#chips.find((c) => c.name === ref.chip || c.label === ref.chip || c.path === ref.chip);
    if (!chip) throw new RealerError("not-found", `Cannot ${action} ${describeLine(ref)}: no such chip`);
    const line = chip.lineList[ref.offset];
    if (!line) {
      throw new RangeError(`Cannot ${action} ${describeLine(ref)}: the chip has ${chip.lines} lines`);
    }
    return line;
  }
}

class MockRequest implements LineRequest {
  readonly consumer: string;
  readonly #line: Line;
  readonly #backend: MockBackend;
  readonly #listeners = new Set<(event: EdgeEvent) => void>();
  #settings: LineSettings = { direction: "input" };
  #released = false;
  #debounce: Timer | undefined;
  /** The last logical value reported through an edge, so debounced bounces cancel out. */
  #reported: LineValue = 0;
  readonly #clock: Clock;

  constructor(line: Line, consumer: string, backend: MockBackend, clock: Clock) {
    this.#line = line;
    this.consumer = consumer;
    this.#backend = backend;
    this.#clock = clock;
  }

  get chip(): string {
    return this.#line.chip;
  }
  get offset(): number {
    return this.#line.offset;
  }
  get settings(): Readonly<LineSettings> {
    return this.#settings;
  }

  apply(settings: LineSettings, action: string): void {
    checkSettings(settings, `Cannot ${action} line ${this.offset} on ${this.chip}`);
    // A bias pulls an input the way the kernel's simulator does: it sets the level nothing else drives.
    if (settings.direction === "input" && (settings.bias === "pull-up" || settings.bias === "pull-down")) {
      this.#backend.setPull(this.#line, settings.bias === "pull-up" ? 1 : 0);
    }
    const activeLow = settings.activeLow ?? false;
    if (settings.direction === "output") {
      const keep = this.#line.direction === "output" && this.#line.holder === this ? toValue(this.#line.driven, this.#line.activeLow) : 0;
      this.#line.driven = toLevel(settings.outputValue ?? keep, activeLow);
    }
    this.#line.direction = settings.direction;
    this.#line.activeLow = activeLow;
    this.#line.drive = settings.direction === "output" ? settings.drive ?? "push-pull" : "push-pull";
    this.#settings = { ...settings };
    this.#reported = toValue(this.#backend.levelOf(this.#line), activeLow);
  }

  async getValue(): Promise<LineValue> {
    this.#assertHeld("read");
    this.#assertWorking("read", this.#line.faults.get);
    return toValue(this.#backend.levelOf(this.#line), this.#line.activeLow);
  }

  async setValue(value: LineValue): Promise<void> {
    this.#assertHeld("set");
    if (this.#line.direction !== "output") {
      throw new RealerError("config", `Cannot set line ${this.offset} on ${this.chip}: it is an input`);
    }
    this.#assertWorking("set", this.#line.faults.set);
    this.#line.driven = toLevel(value, this.#line.activeLow);
    this.#backend.record(this.#line);
  }

  async reconfigure(settings: LineSettings): Promise<void> {
    this.#assertHeld("reconfigure");
    this.apply(settings, "reconfigure");
    this.#backend.record(this.#line);
  }

  onEdge(listener: (event: EdgeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  levelChanged(level: Level): void {
    const edge = this.#settings.edge ?? "none";
    if (this.#line.direction !== "input" || edge === "none") return;
    const debounceMs = this.#settings.debounceMs ?? 0;
    this.#debounce?.cancel();
    if (debounceMs > 0) {
      this.#debounce = this.#clock.after(debounceMs, () => this.#emit(toValue(this.#backend.levelOf(this.#line), this.#line.activeLow)));
    } else {
      this.#emit(toValue(level, this.#line.activeLow));
    }
  }

  #emit(value: LineValue): void {
    if (this.#released || value === this.#reported) return;
    this.#reported = value;
    const kind = value === 1 ? "rising" : "falling";
    const edge = this.#settings.edge ?? "none";
    if (edge !== "both" && edge !== kind) return;
    const event: EdgeEvent = { chip: this.chip, offset: this.offset, kind, value, observedAt: this.#clock.now() };
    for (const listener of this.#listeners) listener(event);
  }

  release(): Promise<void> {
    if (this.#released) return Promise.resolve();
    this.forget();
    return Promise.resolve();
  }

  forget(): void {
    this.#released = true;
    this.#debounce?.cancel();
    this.#listeners.clear();
    if (this.#line.holder === this) {
      this.#line.holder = undefined;
      this.#line.direction = "input";
      this.#line.activeLow = false;
      this.#backend.record(this.#line);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  #assertHeld(action: string): void {
    if (this.#released) {
      throw new RealerError("released", `Cannot ${action} line ${this.offset} on ${this.chip}: the request was released`);
    }
  }

  #assertWorking(action: string, failing: boolean | undefined): void {
    if (failing) throw new RealerError("io", `Cannot ${action} line ${this.offset} on ${this.chip}: input/output error (EIO)`);
  }
}
