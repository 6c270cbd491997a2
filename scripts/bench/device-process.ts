// The device under test as its own process (the CLI under Bun or Deno, or a compiled binary),
// with its log lines and its resident memory sampled from /proc.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type ChildProcessHandle, spawnProcess } from "../../src/runtime/index.ts";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));
const BUN = fileURLToPath(new URL("../../node_modules/.bin/bun", import.meta.url));
const DENO = fileURLToPath(new URL("../../node_modules/deno/deno", import.meta.url));

/** Which device to run: the source under a runtime, or a compiled binary. */
export type DeviceKind = { readonly runtime: "bun" | "deno" } | { readonly binary: string };

/** A running device process. */
export interface DeviceProcess {
  readonly handle: ChildProcessHandle;
  /** `performance.now()` when it was spawned. */
  readonly spawnedAt: number;
  /** Resident memory now, in MiB (NaN once it has ended). */
  rssMiB(): number;
  /** Its JSON log lines so far. */
  lines(): Record<string, unknown>[];
  stop(): Promise<number | null>;
}

/** Starts `realer-edge run --config CONFIG` as `kind`, with `env` added. */
export function startDevice(kind: DeviceKind, configPath: string, env: Readonly<Record<string, string>>): DeviceProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const [command, args] = "binary" in kind
    ? [kind.binary, ["run", "--config", configPath]]
    : kind.runtime === "bun"
    ? [BUN, [MAIN, "run", "--config", configPath]]
    : [DENO, ["run", "--allow-net", "--allow-read", "--allow-write", "--allow-env", MAIN, "run", "--config", configPath]];
  const spawnedAt = performance.now();
  const handle = spawnProcess(command, args, { ...base, ...env, NO_COLOR: "1" });
  let parsed = 0;
  const cache: Record<string, unknown>[] = [];
  return {
    handle,
    spawnedAt,
    rssMiB: () => {
      try {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${handle.pid}/status`, "utf8"))?.[1]);
        return kb / 1024;
      } catch {
        return Number.NaN;
      }
    },
    lines: () => {
      const text = handle.output().stdout;
      const all = text.split("\n");
      for (; parsed < all.length - 1; parsed++) {
        try {
          cache.push(JSON.parse(all[parsed]!) as Record<string, unknown>);
        } catch {
          // Not a JSON line (a runtime's own warning): not ours to read.
        }
      }
      return cache;
    },
    stop: () => {
      handle.kill("SIGTERM");
      return handle.exited;
    },
  };
}

/** Samples `read()` every `everyMs` until stopped; returns the samples. */
export function sampler(read: () => number, everyMs = 100): { stop(): number[] } {
  const samples: number[] = [];
  const timer = setInterval(() => {
    const value = read();
    if (Number.isFinite(value)) samples.push(value);
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return samples;
    },
  };
}
