// Builds one self-contained binary per target into dist/, stamped with version and commit, with
// SHA-256 sums; prints the binary and bundle sizes. `npm run build`.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { BuildFault } from "../src/build-fault.ts";
import { VERSION } from "../src/version.ts";

/** The targets: Bun has no 32-bit ARM build. */
export const TARGETS = ["linux-arm64", "linux-x64"] as const;

const BUN = "node_modules/.bin/bun";
const POLL_WORKER = "src/platform/poll-worker.ts";
const ENTRY = "src/main.ts";

function run(args: string[]): string {
  const result = spawnSync(BUN, args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`bun ${args.join(" ")} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

function commit(): string {
  const result = spawnSync("git", ["rev-parse", "--short=12", "HEAD"], { encoding: "utf8" });
  const sha = result.status === 0 ? result.stdout.trim() : "unknown";
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" }).stdout.trim() !== "";
  return dirty ? `${sha}-dirty` : sha;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** A test build: a fault that fails on purpose (src/build-fault.ts), or a label that makes it another binary. Never shipped. */
export interface TestVariant {
  readonly fault?: BuildFault;
  readonly label?: string;
}

/** Builds the named targets (all by default) and returns their paths. */
export function build(targets: readonly string[] = TARGETS, outDir = "dist", variant: TestVariant = {}): string[] {
  mkdirSync(outDir, { recursive: true });
  const { fault, label } = variant;
  const stamp = [commit(), ...(label === undefined ? [] : [label]), ...(fault === undefined ? [] : [`fault-${fault}`])].join("-");
  const define = [
    "--define",
    `process.env.REALER_BUILD_COMMIT="${stamp}"`,
    ...(fault === undefined ? [] : ["--define", `REALER_BUILD_FAULT="${fault}"`]),
  ];
  // The JavaScript bundle alone, to watch for dead weight.
  const bundle = `${outDir}/.bundle.js`;
  run(["build", ENTRY, "--target=bun", "--minify", "--format=esm", ...define, "--outfile", bundle]);
  const bundleBytes = statSync(bundle).size;
  rmSync(bundle, { force: true });
  const outputs: string[] = [];
  const sums: string[] = [];
  for (const target of targets) {
    const out = `${outDir}/realer-edge-${target}`;
    // The poll thread's worker is an entrypoint of its own (Bun bundles workers only so): see src/platform/poll-thread.ts.
    run([
      "build",
      "--compile",
      "--minify",
      "--bytecode",
      "--format=esm",
      `--target=bun-${target}`,
      ...define,
      ENTRY,
      POLL_WORKER,
      "--outfile",
      out,
    ]);
    const bytes = readFileSync(out);
    sums.push(`${createHash("sha256").update(bytes).digest("hex")}  realer-edge-${target}`);
    console.log(`${out}: ${mib(bytes.byteLength)} (version ${VERSION}, commit ${stamp})`);
    outputs.push(out);
  }
  writeFileSync(`${outDir}/SHA256SUMS`, `${sums.join("\n")}\n`);
  console.log(`JavaScript bundle: ${(bundleBytes / 1024).toFixed(0)} KiB minified`);
  return outputs;
}

/** Runs each binary against a fresh emulator and prints its start-up time to the first CONNACK. */
async function measureStartup(binaries: readonly string[]): Promise<void> {
  const { startEmulator, tempDir } = await import("../test/helpers/harness.ts");
  const { canRunArm64, runBinaryScenario } = await import("../test/helpers/binary.ts");
  const { emulator, stop } = await startEmulator();
  const dir = tempDir("build-measure");
  try {
    for (const binary of binaries) {
      const arm64 = binary.endsWith("arm64");
      if (arm64 && !canRunArm64()) {
        console.log(`${binary}: start-up not measured (no qemu-user; scripts/setup.sh installs it)`);
        continue;
      }
      const result = await runBinaryScenario(emulator, binary, arm64, dir.path, 120_000);
      console.log(
        `${binary}: process start to CONNACK ${result.startToConnectedMs} ms${arm64 ? " under qemu-user (an emulation upper bound)" : ""}`,
      );
    }
  } finally {
    await stop();
    dir.remove();
  }
}

if (import.meta.main) {
  const binaries = build(process.argv.slice(2).length > 0 ? process.argv.slice(2) : TARGETS);
  await measureStartup(binaries);
  process.exit(0);
}
