// The device under test of a HIL run: `realer-edge run --config FILE` as its own process, from this
// source under the runtime that runs the rig, or a compiled binary (an arm64 one under qemu-user
// on an x64 host). Its JSON log lines are read as they come.
import { existsSync, readFileSync } from "node:fs";
import { arch } from "node:process";
import { fileURLToPath } from "node:url";
import { RealerError } from "../errors.ts";
import { type ChildProcessHandle, inheritedEnv, runtimeName, spawnProcess } from "../platform/index.ts";

/** Where Debian's qemu-user and arm64 glibc put their files. */
export const QEMU_AARCH64 = "/usr/bin/qemu-aarch64-static";
/** See {@linkcode QEMU_AARCH64}. */
export const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";

/** The command that starts a device: `[command, ...leading args]`, to which `run --config FILE` is added. */
export function deviceCommand(binary: string | undefined): string[] {
  if (binary !== undefined) {
    if (!existsSync(binary)) throw new RealerError("config", `Cannot run the device under test: --binary ${binary} does not exist`);
    if (elfMachine(binary) === "arm64" && arch !== "arm64") {
      if (!existsSync(QEMU_AARCH64)) {
        throw new RealerError(
          "config",
          `Cannot run the arm64 binary ${binary} on ${arch}: ${QEMU_AARCH64} is missing (apt-get install qemu-user-static libc6-arm64-cross)`,
        );
      }
      return [QEMU_AARCH64, "-L", ARM64_SYSROOT, binary];
    }
    return [binary];
  }
  // A compiled realer-edge runs itself; the source runs main.ts under the runtime running now.
  if (import.meta.url.includes("$bunfs") || import.meta.url.includes("~BUN")) return [process.execPath];
  const main = fileURLToPath(new URL("../main.ts", import.meta.url));
  return runtimeName === "deno" ? [process.execPath, "run", "--allow-all", main] : [process.execPath, main];
}

function elfMachine(path: string): "arm64" | "x64" | "other" {
  try {
    const head = readFileSync(path).subarray(0, 20);
    if (head[0] !== 0x7f || head[1] !== 0x45) return "other";
    const machine = head.readUInt16LE(18);
    return machine === 0xb7 ? "arm64" : machine === 0x3e ? "x64" : "other";
  } catch {
    return "other";
  }
}

/** One JSON log line of the device. */
export interface DeviceLogLine {
  readonly time?: string;
  readonly level?: string;
  readonly event?: string;
  readonly [field: string]: unknown;
}

/** A running device process. */
export class DeviceUnderTest {
  readonly #handle: ChildProcessHandle;
  #parsed = 0;
  readonly #lines: DeviceLogLine[] = [];

  private constructor(handle: ChildProcessHandle) {
    this.#handle = handle;
  }

  /** Starts `command… run --config configPath` with `env` added to this process's environment. */
  static start(command: readonly string[], configPath: string, env: Readonly<Record<string, string>>): DeviceUnderTest {
    const base = inheritedEnv();
    const [program, ...lead] = command;
    return new DeviceUnderTest(spawnProcess(program!, [...lead, "run", "--config", configPath], { ...base, ...env, NO_COLOR: "1" }));
  }

  get pid(): number {
    return this.#handle.pid;
  }

  /** Resolves with the exit code (null after a signal). */
  get exited(): Promise<number | null> {
    return this.#handle.exited;
  }

  /** The device's JSON log lines so far. */
  lines(): readonly DeviceLogLine[] {
    const all = this.#handle.output().stdout.split("\n");
    for (; this.#parsed < all.length - 1; this.#parsed++) {
      try {
        this.#lines.push(JSON.parse(all[this.#parsed]!) as DeviceLogLine);
      } catch {
        // Not a JSON line (a runtime's own warning): not ours to read.
      }
    }
    return this.#lines;
  }

  /** The last lines of what it printed, for a failure message. */
  tail(chars = 1500): string {
    const { stdout, stderr } = this.#handle.output();
    return `${stdout.slice(-chars)}${stderr ? `\nstderr: ${stderr.slice(-chars)}` : ""}`;
  }

  /** Sends `signal` and waits for the exit; SIGTERM turns into SIGKILL after `graceMs`. */
  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM", graceMs = 15_000): Promise<number | null> {
    this.#handle.kill(signal);
    if (signal === "SIGKILL") return await this.#handle.exited;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), graceMs)));
    const code = await Promise.race([this.#handle.exited, late]);
    clearTimeout(timer);
    if (code !== "late") return code;
    this.#handle.kill("SIGKILL");
    return await this.#handle.exited;
  }
}
