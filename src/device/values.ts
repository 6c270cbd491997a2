import type { LineValue } from "../hal/types.ts";

/** A catalog value for a line value: "1.0" active, "0.0" inactive, as the spec writes them. */
export function formatLineValue(value: LineValue): string {
  return value === 1 ? "1.0" : "0.0";
}

/**
 * The line value a desired value asks for, or a reason it cannot be taken. A two-state line takes
 * the NumericRange values 0 and 1 ("0", "0.0", "1", "1.0", or those numbers), nothing else.
 */
export function parseLineValue(raw: unknown): { ok: true; value: LineValue } | { ok: false; reason: string } {
  if (typeof raw !== "string" && typeof raw !== "number") {
    return { ok: false, reason: `value must be a numeric string, got ${raw === null ? "null" : typeof raw}` };
  }
  const text = String(raw).trim();
  const number = text === "" ? Number.NaN : Number(text);
  if (!Number.isFinite(number)) return { ok: false, reason: `value "${text}" is not a number` };
  if (number === 1) return { ok: true, value: 1 };
  if (number === 0) return { ok: true, value: 0 };
  return { ok: false, reason: `value ${text} is outside what the line can take (0 or 1)` };
}
