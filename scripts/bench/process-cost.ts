// What a process has cost so far, from /proc: CPU time (user + system, every thread) and the bytes
// it handed to the disk (`write_bytes`: what reaches the block layer, WAL checkpoints included; not
// `wchar`, which counts every write call, cached or not). The difference between two readings over
// a number of events is what one event costs.
import { readdirSync, readFileSync } from "node:fs";

/** Linux's USER_HZ: /proc/PID/stat counts CPU time in 1/100 s. */
const TICKS_PER_SECOND = 100;

/** A process's cost so far. */
export interface ProcessCost {
  readonly cpuMs: number;
  /** Of which the main thread's (JavaScript, SQLite, the sockets): the rest is JIT, GC and runtime threads. */
  readonly mainCpuMs: number;
  /** Bytes handed to the disk. */
  readonly diskBytes: number;
  /** Bytes passed to write calls (the page cache included). */
  readonly writtenBytes: number;
}

/**
 * CPU time so far, in ms: each thread's time on a CPU from its schedstat (nanoseconds, so that an
 * idle second's fraction of a millisecond shows), summed; stat(5)'s utime + stime (1/100 s,
 * threads that ended included) where schedstat is missing.
 */
function cpuMs(pid: number): { all: number; main: number } {
  try {
    let ns = 0;
    let main = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        const taskNs = Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
        ns += taskNs;
        if (task === String(pid)) main = taskNs;
      } catch {
        // A thread that ended between the listing and the read.
      }
    }
    if (ns > 0) return { all: ns / 1e6, main: main / 1e6 };
  } catch {
    // No schedstat here: the ticks below.
  }
  // The command name, in parentheses, may hold spaces: the fields after it are counted from its end.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat(5): 12 and 13 after the name and state.
  return { all: ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND, main: Number.NaN };
}

/** Reads `pid`'s {@linkcode ProcessCost}; NaN where /proc does not say (an ended process). */
export function readCost(pid: number): ProcessCost {
  try {
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(io)?.[1] ?? Number.NaN);
    const cpu = cpuMs(pid);
    return { cpuMs: cpu.all, mainCpuMs: cpu.main, diskBytes: field("write_bytes"), writtenBytes: field("wchar") };
  } catch {
    return { cpuMs: Number.NaN, mainCpuMs: Number.NaN, diskBytes: Number.NaN, writtenBytes: Number.NaN };
  }
}

/** What each of `events` cost between two readings. */
export function costPer(before: ProcessCost, after: ProcessCost, events: number): ProcessCost {
  return {
    cpuMs: (after.cpuMs - before.cpuMs) / events,
    mainCpuMs: (after.mainCpuMs - before.mainCpuMs) / events,
    diskBytes: (after.diskBytes - before.diskBytes) / events,
    writtenBytes: (after.writtenBytes - before.writtenBytes) / events,
  };
}
