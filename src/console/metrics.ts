// Counters, gauges and histograms, written out in the OpenMetrics text format
// (https://openmetrics.io): what Prometheus and most scrapers read. Small on purpose.

type Labels = Readonly<Record<string, string>>;

const escape = (value: string) => value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
const labelText = (labels: Labels) => {
  const entries = Object.entries(labels);
  return entries.length === 0 ? "" : `{${entries.map(([key, value]) => `${key}="${escape(value)}"`).join(",")}}`;
};
const number = (value: number) => (Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN");

interface Family {
  readonly name: string;
  readonly help: string;
  render(): string[];
}

/** A count that only goes up, per label set. */
export class Counter implements Family {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}

  /** Adds `by` (1) to the series with `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const entry = this.#values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.#values.set(key, entry);
  }

  /** The series' value, for tests and the page. */
  get(labels: Labels = {}): number {
    return this.#values.get(labelText(labels))?.value ?? 0;
  }

  render(): string[] {
    return [
      `# TYPE ${this.name} counter`,
      `# HELP ${this.name} ${this.help}`,
      ...[...this.#values.values()].map(({ labels, value }) => `${this.name}_total${labelText(labels)} ${number(value)}`),
    ];
  }
}

/** A count kept elsewhere (a status field), read when scraped. */
export class CounterReader implements Family {
  constructor(readonly name: string, readonly help: string, readonly read: () => readonly { labels: Labels; value: number }[]) {}

  render(): string[] {
    return [
      `# TYPE ${this.name} counter`,
      `# HELP ${this.name} ${this.help}`,
      ...this.read().map(({ labels, value }) => `${this.name}_total${labelText(labels)} ${number(value)}`),
    ];
  }
}

/** A value read when scraped. */
export class Gauge implements Family {
  constructor(readonly name: string, readonly help: string, readonly read: () => number | readonly { labels: Labels; value: number }[]) {}

  render(): string[] {
    const value = this.read();
    const series = typeof value === "number" ? [{ labels: {}, value }] : value;
    return [
      `# TYPE ${this.name} gauge`,
      `# HELP ${this.name} ${this.help}`,
      ...series.map((entry) => `${this.name}${labelText(entry.labels)} ${number(entry.value)}`),
    ];
  }
}

/** Observations in cumulative buckets, with their count and sum (seconds, by convention). */
export class Histogram implements Family {
  readonly #buckets: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(readonly name: string, readonly help: string, buckets: readonly number[]) {
    this.#buckets = [...buckets].sort((a, b) => a - b);
    this.#counts = this.#buckets.map(() => 0);
  }

  /** Records one observation. */
  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    this.#buckets.forEach((bound, index) => {
      if (value <= bound) this.#counts[index]!++;
    });
  }

  /** How many observations there were. */
  get count(): number {
    return this.#count;
  }

  render(): string[] {
    return [
      `# TYPE ${this.name} histogram`,
      `# HELP ${this.name} ${this.help}`,
      ...this.#buckets.map((bound, index) => `${this.name}_bucket{le="${number(bound)}"} ${this.#counts[index]}`),
      `${this.name}_bucket{le="+Inf"} ${this.#count}`,
      `${this.name}_count ${this.#count}`,
      `${this.name}_sum ${number(this.#sum)}`,
    ];
  }
}

/** A set of metric families, rendered in the order they were added. */
export class Registry {
  readonly #families: Family[] = [];

  /** Adds a family and returns it. */
  add<T extends Family>(family: T): T {
    this.#families.push(family);
    return family;
  }

  /** The OpenMetrics text, ending with `# EOF`. */
  render(): string {
    return `${this.#families.flatMap((family) => family.render()).join("\n")}\n# EOF\n`;
  }
}

/** The content type scrapers ask for. */
export const OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/** Latency buckets in seconds, from 1 ms to 30 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
