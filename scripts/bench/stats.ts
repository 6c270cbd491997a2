// Percentiles and the table the benchmark prints.

/** p50, p99 and the mean of samples in milliseconds. */
export interface Summary {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly n: number;
}

/** Summarises samples; NaN throughout when there are none. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
  const mean = sorted.length === 0 ? Number.NaN : sorted.reduce((sum, x) => sum + x, 0) / sorted.length;
  return { p50: at(50), p99: at(99), mean, n: sorted.length };
}

/** One line of the verdict table. */
export interface Row {
  readonly figure: string;
  readonly measured: number;
  readonly unit: Unit;
  /** The goal, and whether the measure must stay at or below it (`max`) or reach it (`min`). */
  readonly goal?: { readonly value: number; readonly kind: "max" | "min"; readonly how: string };
}

/** How each unit's figures are written. */
const FORMATS = {
  ms: (value: number) => `${value.toFixed(3)} ms`,
  "msg/s": (value: number) => `${Math.round(value)} msg/s`,
  MiB: (value: number) => `${value.toFixed(1)} MiB`,
  "%": (value: number) => `${Math.round(value)}%`,
  KiB: (value: number) => `${value.toFixed(1)} KiB`,
  "ms/s": (value: number) => `${value.toFixed(2)} ms/s`,
  years: (value: number) => `${value < 10 ? value.toFixed(1) : Math.round(value)} years`,
  "×": (value: number) => `${value.toFixed(2)}×`,
} as const;

/** The units a figure is measured in. */
export type Unit = keyof typeof FORMATS;

const show = (value: number, unit: Unit) => FORMATS[unit](value);

/** The table as text: figure, measured, goal (and how it was derived), verdict. */
export function renderTable(title: string, rows: readonly Row[]): string {
  const lines = [title];
  for (const row of rows) {
    const goal = row.goal;
    const verdict = goal === undefined
      ? ""
      : (goal.kind === "max" ? row.measured <= goal.value : row.measured >= goal.value)
      ? "MET"
      : "MISSED";
    const goalText = goal === undefined ? "" : `${goal.kind === "max" ? "≤" : "≥"} ${show(goal.value, row.unit)} (${goal.how})`;
    lines.push(`  ${row.figure.padEnd(46)} ${show(row.measured, row.unit).padStart(14)}  ${goalText.padEnd(58)} ${verdict}`);
  }
  return lines.join("\n");
}

/** A sample of memory (MiB) at `t` hours into a run. */
export interface MemorySample {
  readonly t: number;
  readonly mib: number;
}

/** Least-squares slope of `mib` over `t`: MiB per hour; NaN with fewer than two distinct times. */
export function slopePerHour(samples: readonly MemorySample[]): number {
  const n = samples.length;
  if (n < 2) return Number.NaN;
  const mt = samples.reduce((sum, s) => sum + s.t, 0) / n;
  const mm = samples.reduce((sum, s) => sum + s.mib, 0) / n;
  const spread = samples.reduce((sum, s) => sum + (s.t - mt) ** 2, 0);
  return spread === 0 ? Number.NaN : samples.reduce((sum, s) => sum + (s.t - mt) * (s.mib - mm), 0) / spread;
}

/**
 * What a leak would raise: the low of each `windowHours` window (what is left after the collector
 * has run, not how much garbage waits for it), from `warmupHours` on (the heap first grows to its
 * working size under load, then saws up and down around it).
 */
export function retainedLows(samples: readonly MemorySample[], warmupHours: number, windowHours: number): MemorySample[] {
  const lows = new Map<number, MemorySample>();
  for (const sample of samples) {
    if (sample.t < warmupHours) continue;
    const window = Math.floor((sample.t - warmupHours) / windowHours);
    const low = lows.get(window);
    if (low === undefined || sample.mib < low.mib) lows.set(window, sample);
  }
  return [...lows.values()];
}
