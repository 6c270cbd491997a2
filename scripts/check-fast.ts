// The developer's quick gate: types (tsc and deno check), lint, format and the unit tests beside
// the code, under Bun, in well under a minute. No broker, no VM, no browser: `npm test` runs those.
// Stops at the first step that fails and names it; prints each step's time.
import { spawnSync } from "node:child_process";

const DENO = "node_modules/deno/deno";
const steps: readonly (readonly [name: string, command: string, args: readonly string[]])[] = [
  ["tsc", "node_modules/.bin/tsc", ["-p", "."]],
  ["deno check", DENO, ["check", "--quiet", "src", "scripts", "test"]],
  ["deno lint", DENO, ["lint", "--quiet", "src", "scripts", "test"]],
  ["deno fmt", DENO, ["fmt", "--check", "--quiet"]],
  ["unit tests", "node_modules/.bin/bun", ["test", "--timeout", "60000", "src"]],
];

const started = performance.now();
for (const [name, command, args] of steps) {
  const begun = performance.now();
  const result = spawnSync(command, [...args], { stdio: "inherit", env: { ...process.env, NO_COLOR: "1" } });
  const seconds = ((performance.now() - begun) / 1000).toFixed(1);
  if (result.status !== 0) {
    console.error(`check:fast: ${name} failed (exit ${result.status ?? result.signal}) after ${seconds} s`);
    process.exit(1);
  }
  console.log(`check:fast: ${name} ok in ${seconds} s`);
}
console.log(`check:fast: all ok in ${((performance.now() - started) / 1000).toFixed(1)} s`);
