// Registers the conformance cases with node:test, for `bun test` and `deno test`.
import { describe, it } from "node:test";
import { CONFORMANCE_CASES, type ConformanceTarget, runCase } from "./conformance.ts";

/** Registers the suite for `target`. */
export function describeConformance(target: ConformanceTarget): void {
  describe(`GPIO conformance: ${target.name}`, () => {
    for (const testCase of CONFORMANCE_CASES) it(testCase.name, () => runCase(target, testCase));
  });
}
