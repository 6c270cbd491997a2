// The GPIO contract every backend implements (cdev, sysfs, mock), in libgpiod's words.
// Values are logical: 1 is active, 0 inactive; active-low in the settings maps them to levels.

/** A logical line value: 1 active, 0 inactive. */
export type LineValue = 0 | 1;
/** Which way a line works. */
export type Direction = "input" | "output";
/** Which transitions of an input produce edge events. */
export type Edge = "none" | "rising" | "falling" | "both";
/** The internal bias of a line. */
export type Bias = "as-is" | "disabled" | "pull-up" | "pull-down";
/** How an output drives its line. */
export type Drive = "push-pull" | "open-drain" | "open-source";

/** The settings a line is requested or reconfigured with. */
export interface LineSettings {
  readonly direction: Direction;
  readonly activeLow?: boolean;
  readonly bias?: Bias;
  readonly drive?: Drive;
  readonly edge?: Edge;
  /** Debounce period for edge detection, in milliseconds. */
  readonly debounceMs?: number;
  /** The value an output takes in the same request that claims it, so it never glitches. */
  readonly outputValue?: LineValue;
}

/** A line named by its chip (name, label or path) and offset, or by the line's own name. */
export type LineRef =
  | { readonly chip: string; readonly offset: number }
  | { readonly name: string };

/** What a chip says about itself. */
export interface ChipInfo {
  readonly name: string;
  readonly label: string;
  readonly path: string;
  readonly lines: number;
}

/** What a chip says about one of its lines. */
export interface LineInfo {
  readonly chip: string;
  readonly offset: number;
  readonly name: string;
  /** Who holds the line, or "" when nobody does. */
  readonly consumer: string;
  readonly used: boolean;
  readonly direction: Direction;
  readonly activeLow: boolean;
  /** How an output drives, as the kernel reports it (push-pull when it cannot say). */
  readonly drive: Drive;
}

/** One edge on a watched input; `kind` is in logical terms (rising = became active). */
export interface EdgeEvent {
  readonly chip: string;
  readonly offset: number;
  readonly kind: "rising" | "falling";
  /** The logical value after the edge. */
  readonly value: LineValue;
  /** Wall-clock milliseconds when the edge was seen. */
  readonly observedAt: number;
}

/** A claimed line. Release it, or let `await using` release it. */
export interface LineRequest extends AsyncDisposable {
  readonly chip: string;
  readonly offset: number;
  readonly settings: Readonly<LineSettings>;
  /** Reads the logical value. */
  getValue(): Promise<LineValue>;
  /** Sets the logical value of an output. */
  setValue(value: LineValue): Promise<void>;
  /** Changes the settings without releasing the line. */
  reconfigure(settings: LineSettings): Promise<void>;
  /** Calls `listener` for each edge event; returns a function that stops it. */
  onEdge(listener: (event: EdgeEvent) => void): () => void;
  /** Gives the line back to the kernel. */
  release(): Promise<void>;
}

/**
 * The names `createBackend()` accepts: the character device (`libgpiod` is another name for it,
 * since that is the interface libgpiod wraps), sysfs for old kernels, and the in-memory mock.
 */
export const BACKEND_NAMES = ["cdev", "libgpiod", "sysfs", "mock"] as const;
/** One of {@linkcode BACKEND_NAMES}. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** A GPIO backend: the chips of one board, reached one way. */
export interface GpioBackend extends AsyncDisposable {
  readonly name: "cdev" | "sysfs" | "mock";
  /** Lists the chips. */
  listChips(): Promise<ChipInfo[]>;
  /** Describes one line. */
  getLineInfo(ref: LineRef): Promise<LineInfo>;
  /** Claims a line with `settings` for `consumer`. Throws a `busy` error when it is held. */
  requestLine(ref: LineRef, settings: LineSettings, consumer: string): Promise<LineRequest>;
  /** Releases every line this backend still holds. */
  close(): Promise<void>;
}

// A line is described here and nowhere else, in two forms: a phrase for messages, a word for log
// fields and tables.

/** A line reference as one short phrase for messages: "line 17 on gpiochip0" or "line \"RELAY1\"". */
export function describeLine(ref: LineRef): string {
  return "name" in ref ? `line "${ref.name}"` : `line ${ref.offset} on ${ref.chip}`;
}

/** A line reference as one word for log fields and tables: "gpiochip0:17" or "RELAY1". */
export function lineWord(ref: LineRef): string {
  return "name" in ref ? ref.name : `${ref.chip}:${ref.offset}`;
}
