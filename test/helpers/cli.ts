// Runs the realer-edge CLI as a child process under the runtime the tests run on.
import { fileURLToPath } from "node:url";
import { type ChildProcessHandle, inheritedEnv, runtimeName, spawnProcess } from "../../src/platform/index.ts";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

/**
 * Starts `realer-edge ARGS` with `env` added to this process's environment; `wrapper` runs it
 * under another program (strace, say): its command and arguments come first.
 */
export function startCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  wrapper: readonly string[] = [],
): ChildProcessHandle {
  // Under Deno, the permissions of `deno task start` (no --allow-run, no --allow-ffi), with
  // writes anywhere because each test's state folder is a fresh temporary one.
  const runtimeArgs = runtimeName === "deno" ? ["run", "--allow-net", "--allow-read", "--allow-write", "--allow-env", MAIN] : [MAIN];
  const base = inheritedEnv();
  const [command, ...rest] = [...wrapper, process.execPath, ...runtimeArgs, ...args];
  return spawnProcess(command!, rest, { ...base, ...env, NO_COLOR: "1" });
}

/** Runs the CLI to its end. */
export async function runCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCli(args, env);
  const code = await cli.exited;
  return { code, ...cli.output() };
}
