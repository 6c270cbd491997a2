// The one gate: type checks, then every test suite; prints "N passed, N failed" last.
import { spawnSync } from "node:child_process";

interface Step {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Counts from the step's output; undefined means the step counts as one check. */
  readonly count?: (output: string) => { passed: number; failed: number; skipped: number } | undefined;
}

const bin = (name: string) => `node_modules/.bin/${name}`;

function bunCounts(output: string) {
  const pass = /^\s*(\d+) pass$/m.exec(output);
  const fail = /^\s*(\d+) fail$/m.exec(output);
  const skip = /^\s*(\d+) skip$/m.exec(output);
  if (!pass && !fail) return undefined;
  return { passed: Number(pass?.[1] ?? 0), failed: Number(fail?.[1] ?? 0), skipped: Number(skip?.[1] ?? 0) };
}

const only = process.argv.slice(2);
const steps: Step[] = [
  { name: "tsc", command: bin("tsc"), args: ["-p", "."] },
  { name: "bun test", command: bin("bun"), args: ["test", ...(only.length > 0 ? only : ["src", "test"])], count: bunCounts },
];

let passed = 0;
let failed = 0;
let skipped = 0;
for (const step of steps) {
  const started = performance.now();
  console.log(`\n=== ${step.name}`);
  const result = spawnSync(step.command, [...step.args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" } });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  process.stdout.write(output);
  const counts = step.count?.(output);
  if (counts) {
    passed += counts.passed;
    failed += counts.failed;
    skipped += counts.skipped;
    if (result.status !== 0 && counts.failed === 0) failed += 1;
  } else if (result.status === 0) {
    passed += 1;
  } else {
    failed += 1;
  }
  console.log(`=== ${step.name}: exit ${result.status} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
console.log(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 ? 1 : 0);
