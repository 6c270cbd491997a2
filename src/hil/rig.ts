// What a HIL rig does: drives the device's inputs and watches its lines, through the mock's
// control port, gpio-sim's attributes or jumper wires. The runner records what the rig reports.
import type { Config } from "../config/schema.ts";

/** A pin level: 1 high, 0 low. */
export type Level = 0 | 1;

/** A line of the scenario, as the device configures it on this rig. */
export interface RigLine {
  /** The route's name in the scenario. */
  readonly route: string;
  readonly line: { readonly chip: string; readonly offset: number } | { readonly name: string };
  /** The device's direction: an output the rig watches, an input the rig drives. */
  readonly direction: "input" | "output";
}

/** What a rig reads of a PWM channel. */
export interface ChannelReading {
  readonly periodNs: number;
  readonly dutyNs: number;
  readonly enabled: boolean;
}

/** Called with each level a line shows: every change (mock, wires) or every changed sample (gpio-sim). */
export type LevelObserver = (route: string, level: Level, at: number) => void;

/** A rig: how the runner reaches the device's lines. */
export interface Rig {
  readonly name: string;
  /** The device config's gpio section on this rig. */
  readonly gpio: Config["gpio"];
  /** Whether this rig watches every change exactly (true) or samples (false); reports say which. */
  readonly exact: boolean;
  /** The line the device config names for a scenario line (gpio-sim swaps in its chip). */
  deviceLine(line: RigLine["line"]): RigLine["line"];
  /** Starts reading the lines; the device process may not be running yet. */
  start(lines: readonly RigLine[], observe: LevelObserver): Promise<void>;
  /** A device process (re)started: find it again. */
  deviceStarted(): Promise<void>;
  /** The device process is about to be stopped or killed. */
  beforeStop(): void;
  /** The device process has exited. */
  deviceStopped(): void;
  /** Pulls a device input's pin to `level`. */
  drive(route: string, level: Level): Promise<void>;
  /**
   * What a PWM channel of the device holds (the mock's, through its control port); absent on rigs
   * with no PWM chip to read (gpio-sim has none, and jumper wires cannot measure a duty cycle).
   */
  readChannel?(channel: { readonly chip: string; readonly channel: number }): Promise<ChannelReading>;
  /** Makes a line fail with EIO (mock only); throws on rigs that cannot. */
  failLine(route: string, fault: { get?: boolean | undefined; set?: boolean | undefined }): Promise<void>;
  close(): Promise<void>;
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
