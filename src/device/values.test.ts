import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatLineValue, parseLineValue } from "./values.ts";

describe("parseLineValue()", () => {
  it("takes the catalog's two-state values in their usual spellings", () => {
    for (const raw of ["1.0", "1", " 1 ", 1, "1e0"]) assert.deepEqual(parseLineValue(raw), { ok: true, value: 1 });
    for (const raw of ["0.0", "0", 0, "-0"]) assert.deepEqual(parseLineValue(raw), { ok: true, value: 0 });
  });

  it("refuses what a two-state line cannot take, saying why", () => {
    assert.match((parseLineValue("0.5") as { reason: string }).reason, /outside what the line can take/);
    assert.match((parseLineValue("2") as { reason: string }).reason, /outside/);
    assert.match((parseLineValue("on") as { reason: string }).reason, /not a number/);
    assert.match((parseLineValue("") as { reason: string }).reason, /not a number/);
    assert.match((parseLineValue(null) as { reason: string }).reason, /got null/);
    assert.match((parseLineValue(true) as { reason: string }).reason, /got boolean/);
  });
});

describe("formatLineValue()", () => {
  it("writes values as the spec does", () => {
    assert.equal(formatLineValue(1), "1.0");
    assert.equal(formatLineValue(0), "0.0");
  });
});
