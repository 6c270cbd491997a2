import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatLineValue, parseDecimal, parseLineValue } from "./values.ts";

describe("parseLineValue()", () => {
  it("takes the catalog's two-state values in their decimal spellings", () => {
    for (const raw of ["1.0", "1", "1.00", 1]) assert.deepEqual(parseLineValue(raw), { ok: true, value: 1 });
    for (const raw of ["0.0", "0", 0, "-0", "-0.0"]) assert.deepEqual(parseLineValue(raw), { ok: true, value: 0 });
  });

  it("refuses what a two-state line cannot take, saying why", () => {
    assert.match((parseLineValue("0.5") as { reason: string }).reason, /outside what the line can take/);
    assert.match((parseLineValue("2") as { reason: string }).reason, /outside/);
    assert.match((parseLineValue("on") as { reason: string }).reason, /not a decimal number/);
    assert.match((parseLineValue("") as { reason: string }).reason, /not a decimal number/);
    assert.match((parseLineValue(" 1 ") as { reason: string }).reason, /not a decimal number/);
    assert.match((parseLineValue("1e0") as { reason: string }).reason, /not a decimal number/);
    assert.match((parseLineValue("0x1") as { reason: string }).reason, /not a decimal number/);
    assert.match((parseLineValue(null) as { reason: string }).reason, /got null/);
    assert.match((parseLineValue(true) as { reason: string }).reason, /got boolean/);
  });
});

describe("parseDecimal()", () => {
  // Every spelling made of these parts; the grammar's verdict is worked out part by part, not by a
  // second copy of its regular expression.
  const signs = [["", true], ["-", true], ["+", false], ["--", false]] as const;
  const wholes = [
    ["0", true],
    ["1", true],
    ["21", true],
    ["100", true],
    ["01", false],
    ["00", false],
    ["", false],
    ["0x1", false],
    [
      "0b1",
      false,
    ],
    ["0o7", false],
    ["1_000", false],
    ["١", false],
    ["１", false],
    ["Infinity", false],
    ["NaN", false],
  ] as const;
  const fractions = [["", true], [".0", true], [".5", true], [".25", true], [".", false], [".5.5", false], [",5", false]] as const;
  const exponents = [["", true], ["e0", false], ["E3", false], ["e-2", false]] as const;
  const pads = [["", true], [" ", false], ["\t", false], ["\n", false], ["\u00a0", false], ["\u2028", false]] as const;
  const table: { text: string; valid: boolean }[] = [];
  for (const [sign, s] of signs) {
    for (const [whole, w] of wholes) {
      for (const [fraction, f] of fractions) {
        for (const [exponent, e] of exponents) {
          for (const [pad, p] of pads) {
            table.push({ text: `${pad}${sign}${whole}${fraction}${exponent}`, valid: s && w && f && e && p });
            if (pad !== "") table.push({ text: `${sign}${whole}${fraction}${exponent}${pad}`, valid: false });
          }
        }
      }
    }
  }

  it(`judges ${table.length} generated spellings as the contract's decimal grammar does`, () => {
    assert.ok(table.length > 10_000);
    const wrong = table.filter(({ text, valid }) => parseDecimal(text).ok !== valid).map(({ text }) => JSON.stringify(text));
    assert.deepEqual(wrong.slice(0, 20), []);
  });

  it("reads a valid spelling as the number it writes", () => {
    for (const { text, valid } of table) {
      if (!valid) continue;
      const parsed = parseDecimal(text);
      assert.ok(parsed.ok && Object.is(parsed.value + 0, Number(text) + 0), text);
    }
  });

  it("takes finite JSON numbers, and refuses what no decimal is, saying why in one line", () => {
    assert.deepEqual(parseDecimal(21.5), { ok: true, value: 21.5 });
    assert.deepEqual(parseDecimal(Number.NaN), { ok: false, reason: "value NaN is not a finite number" });
    assert.deepEqual(parseDecimal("9".repeat(400)), { ok: false, reason: `value ${"9".repeat(64)}… is out of range` });
    assert.deepEqual(parseDecimal(["1.0"]), { ok: false, reason: "value must be a numeric string, got an array" });
  });
});

describe("formatLineValue()", () => {
  it("writes values as the spec does", () => {
    assert.equal(formatLineValue(1), "1.0");
    assert.equal(formatLineValue(0), "0.0");
  });
});
