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
    return {
      ok: false,
      reason: `value must be a numeric string, got ${raw === null ? "null" : Array.isArray(raw) ? "an array" : typeof raw}`,
    };
  }
  const text = String(raw).trim();
  const number = text === "" ? Number.NaN : Number(text);
  if (!Number.isFinite(number)) return { ok: false, reason: `value "${describeValue(text)}" is not a number` };
  if (number === 1) return { ok: true, value: 1 };
  if (number === 0) return { ok: true, value: 0 };
  return { ok: false, reason: `value ${describeValue(text)} is outside what the line can take (0 or 1)` };
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
