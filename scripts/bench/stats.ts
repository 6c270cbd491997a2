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
  readonly unit: "ms" | "msg/s" | "MiB" | "%";
  /** The goal, and whether the measure must stay at or below it (`max`) or reach it (`min`). */
  readonly goal?: { readonly value: number; readonly kind: "max" | "min"; readonly how: string };
}

const show = (
  value: number,
  unit: Row["unit"],
) =>
  unit === "ms"
    ? `${value.toFixed(3)} ms`
    : unit === "MiB"
    ? `${value.toFixed(1)} MiB`
    : unit === "%"
    ? `${Math.round(value)}%`
    : `${Math.round(value)} msg/s`;

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
