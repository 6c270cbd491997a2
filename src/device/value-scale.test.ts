import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { levelScale, LINE_SCALE } from "./value-scale.ts";

describe("value scales", () => {
  it("a line takes 0 and 1 in any decimal spelling and reports them as the spec writes them", () => {
    assert.deepEqual(["0", "1.00", 1].map((raw) => LINE_SCALE.parse(raw)), [{ ok: true, value: 0 }, { ok: true, value: 1 }, {
      ok: true,
      value: 1,
    }]);
    assert.equal(LINE_SCALE.parse("0.5").ok, false);
    assert.deepEqual([LINE_SCALE.format(0), LINE_SCALE.format(1)], ["0.0", "1.0"]);
  });

  it("a level takes its range, rounded to its decimals, and reports them with exactly those digits", () => {
    const scale = levelScale({ min: 0, max: 100, decimals: 0 });
    assert.deepEqual(scale.parse("33.3"), { ok: true, value: 33 });
    assert.deepEqual(scale.parse("100"), { ok: true, value: 100 });
    assert.deepEqual(scale.parse(0), { ok: true, value: 0 });
    assert.equal(scale.format(42), "42");
    const tenths = levelScale({ min: -10, max: 10, decimals: 1 });
    assert.deepEqual(tenths.parse("-2.25"), { ok: true, value: -2.2 });
    assert.equal(tenths.format(3), "3.0");
  });

  it("refuses what is outside the range or not a decimal, saying why in one line", () => {
    const scale = levelScale({ min: 0, max: 100, decimals: 0 });
    for (const raw of ["100.1", "-1", "1e2", " 5", "", "0x10", null, [5], "NaN"]) {
      const parsed = scale.parse(raw);
      assert.equal(parsed.ok, false, String(raw));
      if (!parsed.ok) assert.doesNotMatch(parsed.reason, /\n/);
    }
    const outside = scale.parse("150");
    assert.ok(!outside.ok && outside.reason === "value 150 is outside the route's range (0 to 100)", JSON.stringify(outside));
  });
});
