// The one gate: type checks under tsc and Deno, lint and format checks, then every test suite under Bun and under Deno,
// each step's output shown as it comes. Prints "N passed, N failed" last; each `it` counts once
// per runtime.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

interface Step {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Counts from the step's output; a step without counts is one check. */
  readonly count?: (output: string) => Counts | undefined;
}

const bin = (name: string) => `node_modules/.bin/${name}`;
const DENO = "node_modules/deno/deno";
const DENO_JUNIT = "test-results/deno-junit.xml";

function bunCounts(output: string): Counts | undefined {
  const number = (word: string) => Number(new RegExp(`^\\s*(\\d+) ${word}$`, "m").exec(output)?.[1] ?? 0);
  if (!/^\s*\d+ (pass|fail)$/m.test(output)) return undefined;
  return { passed: number("pass"), failed: number("fail"), skipped: number("skip") };
}

/** Deno's JUnit report lists describe blocks as test cases too; count only the leaves. */
function denoCounts(): Counts | undefined {
  let xml: string;
  try {
    xml = readFileSync(DENO_JUNIT, "utf8");
  } catch {
    return undefined;
  }
  const unescape = (text: string) =>
    text.replace(/&gt;/g, ">").replace(/&lt;/g, "<").replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, "&");
  const cases = [...xml.matchAll(/<testcase name="([^"]*)"[^>]*>([\s\S]*?)<\/testcase>/g)].map((match) => ({
    name: unescape(match[1] ?? ""),
    body: match[2] ?? "",
  }));
  const leaves = cases.filter((c) => !cases.some((other) => other.name.startsWith(`${c.name} > `)));
  const counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  for (const leaf of leaves) {
    if (/<failure/.test(leaf.body)) counts.failed++;
    else if (/<skipped/.test(leaf.body)) counts.skipped++;
    else counts.passed++;
  }
  return counts;
}

const only = process.argv.slice(2);
const targets = only.length > 0 ? only : ["src", "test"];
rmSync(DENO_JUNIT, { force: true });
mkdirSync("test-results", { recursive: true });
const steps: Step[] = [
  { name: "tsc", command: bin("tsc"), args: ["-p", "."] },
  { name: "deno check", command: DENO, args: ["check", "--quiet", "src", "scripts", "test"] },
  // Deno's recommended rules (no-empty, no-unsafe-finally, no-unused-vars…), less require-await:
  // the GPIO backends are async on purpose, so that a failure rejects as the contract says.
  { name: "deno lint", command: DENO, args: ["lint", "--quiet", "src", "scripts", "test"] },
  // deno fmt with the width in deno.json: `node_modules/deno/deno fmt` rewrites, this only checks.
  { name: "deno fmt", command: DENO, args: ["fmt", "--check", "--quiet"] },
  // --timeout reaches hooks too (bunfig's timeout does not: they keep bun's 5 s default).
  { name: "bun test", command: bin("bun"), args: ["test", "--timeout", "60000", ...targets], count: bunCounts },
  { name: "deno test", command: DENO, args: ["test", "--allow-all", `--junit-path=${DENO_JUNIT}`, ...targets], count: () => denoCounts() },
];

/** Runs one step, showing its output as it comes (a long suite is never silent), and returns all of it. */
function run(step: Step): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(step.command, [...step.args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" },
    });
    let output = "";
    const take = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      output += text;
      process.stdout.write(text);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", (error) => {
      output += `\n${error.message}\n`;
      resolve({ status: 1, output });
    });
    child.on("close", (status) => resolve({ status, output }));
  });
}

const total: Counts = { passed: 0, failed: 0, skipped: 0 };
for (const step of steps) {
  const started = performance.now();
  console.log(`\n=== ${step.name}`);
  const result = await run(step);
  const counts = step.count?.(result.output);
  if (counts) {
    total.passed += counts.passed;
    total.failed += counts.failed;
    total.skipped += counts.skipped;
    if (result.status !== 0 && counts.failed === 0) total.failed += 1;
    console.log(`=== ${step.name}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  } else if (result.status === 0) {
    total.passed += 1;
  } else {
    total.failed += 1;
  }
  console.log(`=== ${step.name}: exit ${result.status} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
console.log(`\n${total.passed} passed, ${total.failed} failed${total.skipped > 0 ? `, ${total.skipped} skipped` : ""}`);
process.exit(total.failed > 0 ? 1 : 0);
