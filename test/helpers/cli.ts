// Runs the realer-edge CLI as a child process under the runtime the tests run on.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

/** A CLI process with its output collected. */
export interface CliProcess {
  readonly child: ChildProcess;
  /** stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
}

/** Starts `realer-edge ARGS` with `env` added to this process's environment. */
export function startCli(args: readonly string[], env: Readonly<Record<string, string>> = {}): CliProcess {
  const command = process.execPath;
  const runtimeArgs = isDeno ? ["run", "-A", MAIN] : [MAIN];
  const child = spawn(command, [...runtimeArgs, ...args], { env: { ...process.env, ...env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return { child, output: () => ({ stdout, stderr }), exited };
}

/** Runs the CLI to its end. */
export async function runCli(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCli(args, env);
  const code = await cli.exited;
  return { code, ...cli.output() };
}
