// The device under test as its own process (the CLI under Bun or Deno, or a compiled binary),
// with its log lines (read as the HIL runner reads them) and its resident memory sampled from /proc.
import { type ProcessCost, readCost } from "./process-cost.ts";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type DeviceLogLine, DeviceUnderTest } from "../../src/hil/device-under-test.ts";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));
export const BUN = fileURLToPath(new URL("../../node_modules/.bin/bun", import.meta.url));
export const DENO = fileURLToPath(new URL("../../node_modules/deno/deno", import.meta.url));

/** Which device to run: the source under a runtime, or a compiled binary. */
export type DeviceKind = { readonly runtime: "bun" | "deno" } | { readonly binary: string };

/**
 * A process's resident memory in MiB: all of it (`rss`), its private memory (`anon`: heaps,
 * buffers) and the pages of files it maps (`file`: mostly the runtime's own code, shared and
 * dropped by the kernel under memory pressure). NaN once the process has ended.
 */
export interface Memory {
  readonly rss: number;
  readonly anon: number;
  readonly file: number;
}

/** Reads `pid`'s {@linkcode Memory} from /proc. */
export function readMemory(pid: number): Memory {
  let status = "";
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    // Ended: NaN below.
  }
  const mib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: mib("VmRSS"), anon: mib("RssAnon"), file: mib("RssFile") };
}

/** A running device process. */
export interface DeviceProcess {
  /** Resident memory now (NaN once it has ended). */
  memory(): Memory;
  /** CPU time and bytes written so far (the device's own, not a wrapper's). */
  cost(): ProcessCost;
  /** Its JSON log lines so far. */
  lines(): readonly DeviceLogLine[];
  /** The last of what it printed, for an error message. */
  tail(): string;
  stop(): Promise<number | null>;
}

/**
 * A slow disk for the device: every fsync and fdatasync it makes takes `delayMs` longer, as on an
 * SD card under load (strace injects the delay; the rest of its system calls run as they are).
 */
export function slowDisk(delayMs: number): readonly string[] {
  const sync = "fsync,fdatasync";
  return [
    "strace",
    "-f",
    "-qq",
    "-o",
    "/dev/null",
    "--seccomp-bpf",
    "-e",
    `trace=${sync}`,
    "-e",
    `inject=${sync}:delay_exit=${delayMs * 1000}`,
    "--",
  ];
}

/** The processes `pid` started (a wrapper's child: the device itself). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter((s) => s !== "").map(Number);
  } catch {
    return [];
  }
}

/**
 * Starts `realer-edge run --config CONFIG` as `kind`, with `env` added. Deno gets only what the
 * deployed service has. With `profileDir`, a device under Bun writes a CPU profile there (markdown)
 * when it stops; with `wrap` (see `slowDisk`), it runs under that command (its memory is then the wrapper's).
 */
export function startDevice(
  kind: DeviceKind,
  configPath: string,
  env: Readonly<Record<string, string>>,
  profileDir?: string,
  wrap: readonly string[] = [],
): DeviceProcess {
  const command = "binary" in kind
    ? [kind.binary]
    : kind.runtime === "bun"
    ? [BUN, ...(profileDir === undefined ? [] : ["--cpu-prof-md", `--cpu-prof-dir=${profileDir}`]), MAIN]
    : [DENO, "run", "--allow-net", "--allow-read", "--allow-write", "--allow-env", MAIN];
  const device = DeviceUnderTest.start([...wrap, ...command], configPath, env);
  return {
    memory: () => readMemory(device.pid),
    cost: () => readCost(wrap.length > 0 ? childrenOf(device.pid)[0] ?? device.pid : device.pid),
    lines: () => device.lines(),
    tail: () => device.tail(),
    stop: async () => {
      // A wrapper that is told to stop lets its child run on: the device is stopped first.
      for (const child of wrap.length > 0 ? childrenOf(device.pid) : []) {
        try {
          process.kill(child, "SIGTERM");
        } catch {
          // Gone already.
        }
      }
      return await device.stop();
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
