// The clocks the time keeper reads: the boot's monotonic clock, and whether the kernel says the
// wall clock is synchronised (adjtimex through libc, else systemd-timesyncd's marker file).
import { existsSync, readFileSync } from "node:fs";
import { type LibC, loadLibc } from "./libc.ts";

/** adjtimex's answer while the clock is not synchronised. */
const TIME_ERROR = 5;
/** Written by systemd-timesyncd once it has synchronised the clock. */
const TIMESYNC_MARKER = "/run/systemd/timesync/synchronized";
/** A `struct timex` is 208 bytes on 64-bit Linux; room to spare. */
const TIMEX_BYTES = 256;

/** The time keeper's sources on this machine. */
export interface SystemTimeSources {
  mono(): number;
  kernelSynced(): boolean | undefined;
  /** This boot's id: a monotonic moment means nothing in another boot. */
  readonly bootId: string;
}

/** Reads the clocks of this machine; `libc` is loaded once (without FFI, only the marker file tells). */
export async function systemTimeSources(): Promise<SystemTimeSources> {
  let libc: LibC | undefined;
  try {
    libc = await loadLibc();
  } catch {
    // No FFI (a Deno run without --allow-ffi): the marker file alone says.
  }
  // CLOCK_BOOTTIME from /proc/uptime, carried on by performance.now() (monotonic, finer).
  let uptimeMs = Number.NaN;
  try {
    uptimeMs = Number.parseFloat(readFileSync("/proc/uptime", "utf8")) * 1000;
  } catch {
    // No /proc: the process's own monotonic clock serves, and held observations do not outlive it.
  }
  const base = (Number.isFinite(uptimeMs) ? uptimeMs : 0) - performance.now();
  let bootId = "unknown";
  try {
    bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    bootId = `process-${process.pid}-${Date.now()}`;
  }
  const timex = new Uint8Array(TIMEX_BYTES);
  return {
    bootId,
    mono: () => base + performance.now(),
    kernelSynced: () => {
      if (existsSync(TIMESYNC_MARKER)) return true;
      if (!libc) return undefined;
      timex.fill(0); // modes = 0: only read
      const state = libc.adjtimex(timex);
      return state < 0 ? undefined : state !== TIME_ERROR;
    },
  };
}
