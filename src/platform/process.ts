import { bunGlobal, denoGlobal } from "./globals.ts";

/** A child process started with {@linkcode spawnProcess}. */
export interface ChildProcessHandle {
  readonly pid: number;
  /** Sends a signal. */
  kill(signal: "SIGTERM" | "SIGINT" | "SIGKILL"): void;
  /** Resolves with the exit code, or null when a signal ended the process. */
  readonly exited: Promise<number | null>;
  /** Everything written to stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
}

async function collect(stream: ReadableStream<Uint8Array>, append: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    append(decoder.decode(value, { stream: true }));
  }
}

/** This process's environment without its unset entries: what a child started with {@linkcode spawnProcess} inherits. */
export function inheritedEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/**
 * Starts a process with the runtime's own API, which reports the real exit status of a child
 * that handles a signal (Deno's node:child_process reports the signal sent instead).
 */
export function spawnProcess(command: string, args: readonly string[], env: Readonly<Record<string, string>>): ChildProcessHandle {
  let stdout = "";
  let stderr = "";
  if (bunGlobal) {
    const child = bunGlobal.spawn({ cmd: [command, ...args], env: { ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const streams = Promise.all([collect(child.stdout, (t) => (stdout += t)), collect(child.stderr, (t) => (stderr += t))]);
    return {
      pid: child.pid,
      kill: (signal) => {
        try {
          child.kill(signal);
        } catch (error) {
          // Deno throws for a child that already ended; Bun and Node let it pass. So do we.
          if (!(error instanceof TypeError)) throw error;
        }
      },
      exited: child.exited.then(async (code) => {
        await streams;
        return child.signalCode === null ? code : null;
      }),
      output: () => ({ stdout, stderr }),
    };
  }
  const child = new denoGlobal!.Command(command, {
    args: [...args],
    env: { ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const streams = Promise.all([collect(child.stdout, (t) => (stdout += t)), collect(child.stderr, (t) => (stderr += t))]);
  return {
    pid: child.pid,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch (error) {
        // Deno throws for a child that already ended; Bun and Node let it pass. So do we.
        if (!(error instanceof TypeError)) throw error;
      }
    },
    exited: child.status.then(async (status) => {
      await streams;
      return status.signal === null ? status.code : null;
    }),
    output: () => ({ stdout, stderr }),
  };
}
