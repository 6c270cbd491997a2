// What values an output takes and how they are written in reports: a line takes 0 and 1
// ("0.0", "1.0"); a level output (PWM) takes the decimals of its range, each value rounded to
// the range's step and reported with its digits.
import { levelRange, type RouteConfig } from "../config/schema.ts";
import { describeValue, formatLineValue, parseDecimal, parseLineValue } from "./values.ts";

/** The result of reading a desired value. */
export type ParsedValue = { ok: true; value: number } | { ok: false; reason: string };

/** The values one output takes. */
export interface ValueScale {
  /** The inactive value: 0 for a line, the range's minimum for a level. */
  readonly off: number;
  /** The highest value: 1 for a line, the range's maximum for a level. */
  readonly full: number;
  /** The value a desired value asks for, or why the output cannot take it. */
  parse(raw: unknown): ParsedValue;
  /** A value as the catalog writes it. */
  format(value: number): string;
}

/** A two-state line: 0 and 1 in any decimal spelling, nothing else. */
export const LINE_SCALE: ValueScale = {
  off: 0,
  full: 1,
  parse: parseLineValue,
  format: (value) => formatLineValue(value === 1 ? 1 : 0),
};

/**
 * A level output's values: any decimal from `min` to `max`, rounded to `decimals` digits (a
 * dimmer asked for 33.3 in whole steps takes 33), reported with exactly those digits.
 */
export function levelScale(range: { readonly min: number; readonly max: number; readonly decimals: number }): ValueScale {
  const { min, max, decimals } = range;
  const step = 10 ** decimals;
  const round = (value: number) => Math.round(value * step) / step;
  const format = (value: number) => round(value).toFixed(decimals);
  return {
    off: min,
    full: max,
    parse(raw) {
      const parsed = parseDecimal(raw);
      if (!parsed.ok) return parsed;
      if (parsed.value < min || parsed.value > max) {
        return { ok: false, reason: `value ${describeValue(String(raw))} is outside the route's range (${format(min)} to ${format(max)})` };
      }
      return { ok: true, value: Math.min(max, Math.max(min, round(parsed.value))) };
    },
    format,
  };
}

/** The scale of a route entry's output: its range for a PWM route, 0 and 1 for a line. */
export function scaleOf(config: RouteConfig): ValueScale {
  return config.pwm === undefined ? LINE_SCALE : levelScale(levelRange(config));
}
