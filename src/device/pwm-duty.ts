// A level route's value as a PWM duty cycle and back. The range's minimum is the duty at
// `duty_min_pct` (off for a lamp, one end for a servo); any value above it is spread from
// `min_on_pct` (a lamp or fan that does not start lower) to `duty_max_pct`, along
// value^gamma (2.2 makes a lamp's steps look even). The way back inverts it exactly, so the
// report says what the channel really holds, in the route's values; a duty above off never
// reads as off.
import type { PwmRouteConfig } from "../config/schema.ts";
import { levelRange } from "../config/schema.ts";

/** The mapping of one route, resolved from its config. */
export interface DutyMapping {
  readonly periodNs: number;
  readonly min: number;
  readonly max: number;
  readonly decimals: number;
  /** Fractions of the period, 0 to 1. */
  readonly offDuty: number;
  readonly onDuty: number;
  readonly maxDuty: number;
  readonly gamma: number;
}

/** The mapping a PWM route's config gives. */
export function dutyMapping(config: PwmRouteConfig): DutyMapping {
  const { pwm } = config;
  const range = levelRange(config);
  return {
    periodNs: Math.max(1, Math.round(1e9 / pwm.frequency_hz)),
    ...range,
    offDuty: pwm.duty_min_pct / 100,
    onDuty: (pwm.min_on_pct ?? pwm.duty_min_pct) / 100,
    maxDuty: pwm.duty_max_pct / 100,
    gamma: pwm.gamma,
  };
}

/** The duty in nanoseconds for a value of the range (clamped into it). */
export function dutyFor(mapping: DutyMapping, value: number): number {
  const { min, max, offDuty, onDuty, maxDuty, gamma, periodNs } = mapping;
  const share = Math.min(1, Math.max(0, (value - min) / (max - min)));
  const duty = share === 0 ? offDuty : onDuty + (maxDuty - onDuty) * share ** gamma;
  return Math.min(periodNs, Math.max(0, Math.round(duty * periodNs)));
}

/** The value a channel's state stands for: a disabled channel drives no level we can name, so it is off. */
export function valueOfState(mapping: DutyMapping, state: { periodNs: number; dutyNs: number; enabled: boolean }): number {
  if (!state.enabled || state.periodNs <= 0) return mapping.min;
  return valueFor(mapping, Math.round(state.dutyNs * mapping.periodNs / state.periodNs));
}

/** The value of the range a duty stands for, rounded to the range's decimals. */
export function valueFor(mapping: DutyMapping, dutyNs: number): number {
  const { min, max, decimals, offDuty, onDuty, maxDuty, gamma, periodNs } = mapping;
  const step = 10 ** -decimals;
  const round = (value: number) => Math.round(value / step) * step;
  const duty = dutyNs / periodNs;
  // At or below the off duty: off.
  const offNs = Math.round(offDuty * periodNs);
  if (dutyNs <= offNs) return min;
  const share = maxDuty === onDuty ? 1 : Math.min(1, Math.max(0, (duty - onDuty) / (maxDuty - onDuty))) ** (1 / gamma);
  const value = round(min + share * (max - min));
  // A channel above its off duty is on, however little: it is never reported as off.
  return Number((value <= min ? min + step : Math.min(max, value)).toFixed(decimals));
}
