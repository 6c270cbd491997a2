import type { LineValue } from "../hal/types.ts";

/** A catalog value for a line value: "1.0" active, "0.0" inactive, as the spec writes them. */
export function formatLineValue(value: LineValue): string {
  return value === 1 ? "1.0" : "0.0";
}

/** The contract's numeric strings: an optional minus, digits without a leading zero, an optional fraction. */
const DECIMAL = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/;

/**
 * The number a desired value spells, or why it spells none. A string must be a plain decimal
 * ("1.0", "0", "-2.5", "21.50"): no blanks, no sign but a minus, no exponent, no radix prefix,
 * no leading zeros, no lone point, nothing empty. A JSON number is taken when it is finite.
 */
export function parseDecimal(raw: unknown): { ok: true; value: number } | { ok: false; reason: string } {
  if (typeof raw === "number") {
    return Number.isFinite(raw) ? { ok: true, value: raw } : { ok: false, reason: `value ${String(raw)} is not a finite number` };
  }
  if (typeof raw !== "string") {
    return {
      ok: false,
      reason: `value must be a numeric string, got ${raw === null ? "null" : Array.isArray(raw) ? "an array" : typeof raw}`,
    };
  }
  if (!DECIMAL.test(raw)) return { ok: false, reason: `value "${describeValue(raw)}" is not a decimal number` };
  const value = Number(raw);
  // Past about 1e308 digits do not make a finite double.
  return Number.isFinite(value) ? { ok: true, value } : { ok: false, reason: `value ${describeValue(raw)} is out of range` };
}

/**
 * The line value a desired value asks for, or a reason it cannot be taken. A two-state line takes
 * the NumericRange values 0 and 1 in any decimal spelling ("0", "0.0", "1", "1.00", or those
 * numbers), nothing else.
 */
export function parseLineValue(raw: unknown): { ok: true; value: LineValue } | { ok: false; reason: string } {
  const parsed = parseDecimal(raw);
  if (!parsed.ok) return parsed;
  if (parsed.value === 1) return { ok: true, value: 1 };
  if (parsed.value === 0) return { ok: true, value: 0 };
  return { ok: false, reason: `value ${describeValue(String(raw))} is outside what the line can take (0 or 1)` };
}

/**
 * A desired value as a short text for logs and the console, whatever it is: a string (cut to
 * 64 characters), a number, or the kind of thing it is. Never walks into the value, so a value
 * nested thousands deep costs nothing.
 */
export function describeValue(raw: unknown): string {
  if (typeof raw === "string") return raw.length <= 64 ? raw : `${raw.slice(0, 64)}…`;
  if (typeof raw === "number" || typeof raw === "boolean") return String(raw);
  if (raw === null) return "null";
  if (raw === undefined) return "(missing)";
  return Array.isArray(raw) ? "(an array)" : `(${typeof raw})`;
}
