import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { utf8Length } from "./utf8.ts";

describe("utf8Length()", () => {
  it("counts what TextEncoder writes, for every kind of character and for broken surrogates", () => {
    const samples = [
      "",
      "1.0",
      "°C",
      "℃",
      "温度 21,5 ℃",
      "🌡️ 21.5",
      "\u0000\u007f\u0080\u07ff\u0800\uffff",
      "\ud83c",
      "a\udc00b",
      "\ud83c\ud83c",
    ];
    for (const text of samples) assert.equal(utf8Length(text), new TextEncoder().encode(text).byteLength, JSON.stringify(text));
  });

  it("agrees with TextEncoder on 2,000 generated strings", () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 2000; n++) {
      const text = String.fromCharCode(...Array.from({ length: Math.floor(next() * 20) }, () => Math.floor(next() * 0x10000)));
      assert.equal(utf8Length(text), new TextEncoder().encode(text).byteLength);
    }
  });
});
