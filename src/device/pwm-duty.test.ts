import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRoute, type PwmRouteConfig } from "../config/schema.ts";
import { dutyFor, dutyMapping, valueFor } from "./pwm-duty.ts";

const dimmer = (pwm: Record<string, unknown> = {}, range?: Record<string, number>): PwmRouteConfig =>
  parseRoute({ pin_port: "6", pwm: { chip: "pwmchip0", channel: 0, ...pwm }, ...(range ? { range } : {}) }) as PwmRouteConfig;

describe("PWM duty mapping", () => {
  it("maps 0–100 linearly onto the whole period by default, at 1 kHz", () => {
    const mapping = dutyMapping(dimmer());
    assert.equal(mapping.periodNs, 1_000_000);
    assert.deepEqual([0, 1, 50, 100].map((value) => dutyFor(mapping, value)), [0, 10_000, 500_000, 1_000_000]);
  });

  it("keeps off at the off duty and starts every other value at the minimum-on duty", () => {
    const mapping = dutyMapping(dimmer({ min_on_pct: 10 }));
    assert.equal(dutyFor(mapping, 0), 0);
    assert.equal(dutyFor(mapping, 1), 109_000);
    assert.equal(dutyFor(mapping, 100), 1_000_000);
  });

  it("spreads values along value^gamma, so a lamp's steps look even", () => {
    const mapping = dutyMapping(dimmer({ gamma: 2 }));
    assert.equal(dutyFor(mapping, 50), 250_000);
  });

  it("drives a servo between its two ends: 5 % to 10 % of 20 ms at 50 Hz", () => {
    const mapping = dutyMapping(dimmer({ frequency_hz: 50, duty_min_pct: 5, duty_max_pct: 10 }, { min: 0, max: 180, decimals: 0 }));
    assert.deepEqual([0, 90, 180].map((value) => dutyFor(mapping, value)), [1_000_000, 1_500_000, 2_000_000]);
  });

  it("reads every value of the range back as itself, whatever the gamma and minimum", () => {
    for (const pwm of [{}, { gamma: 2.2 }, { min_on_pct: 8, gamma: 2.2 }, { duty_min_pct: 5, duty_max_pct: 10, frequency_hz: 50 }]) {
      for (const range of [{ min: 0, max: 100, decimals: 0 }, { min: -50, max: 50, decimals: 1 }]) {
        const mapping = dutyMapping(dimmer(pwm, range));
        const step = 10 ** -range.decimals;
        for (let value = range.min; value <= range.max + 1e-9; value += step * 7) {
          const rounded = Number(value.toFixed(range.decimals));
          assert.equal(
            valueFor(mapping, dutyFor(mapping, rounded)),
            rounded,
            `${JSON.stringify(pwm)} ${JSON.stringify(range)} at ${rounded}`,
          );
        }
      }
    }
  });

  it("never reads a channel above its off duty as off, however little it runs", () => {
    const mapping = dutyMapping(dimmer({ gamma: 2.2 }));
    assert.equal(valueFor(mapping, 1), 1);
    assert.equal(valueFor(mapping, 0), 0);
  });

  it("reads a duty a driver rounded to its clock as the nearest value it stands for", () => {
    const mapping = dutyMapping(dimmer());
    const rounded = dutyFor(mapping, 37) - (dutyFor(mapping, 37) % 52);
    assert.equal(valueFor(mapping, rounded), 37);
  });
});
