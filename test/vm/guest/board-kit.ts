// What the systemd board's drivers share (board.ts, updates.ts): commands run on the board, the
// service as systemd shows it, the emulator's operator API on the host, and the checks printed
// for the host as
//   <PREFIX> ok|fail <check>[: <why>]     <PREFIX> measure <name> <value>     <PREFIX> done
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createFetch } from "../../../src/platform/index.ts";

/** Where the board image holds the test's files. */
export const HERE = "/opt/realer-test";

/** What every board payload carries; each driver reads its own fields beside these. */
export interface BoardPayload {
  readonly operator: string;
  readonly device_id: number;
  readonly relay: string;
  readonly switch: string;
  readonly secret: string;
  readonly deb: string;
}

export const readPayload = <T extends BoardPayload>(): T => JSON.parse(readFileSync(join(HERE, "payload.json"), "utf8")) as T;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const run = (command: string, ...args: string[]) => {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return { status: result.status, out: `${result.stdout ?? ""}${result.stderr ?? ""}`.trim() };
};

/** `run` off the event loop, so that the relay's sampler keeps sampling while it runs. */
export const runAsync = (command: string, ...args: string[]) =>
  new Promise<{ status: number | null; out: string }>((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.on("close", (status) => resolve({ status, out: out.trim() }));
  });

/** A property of realer-edge.service (or `unit`) as systemd shows it. */
export const show = (property: string, unit = "realer-edge.service") => run("systemctl", "show", "-P", property, unit).out;

/** The service's last journal lines, for a failure's reason. */
export const journal = (lines = 30, unit = "realer-edge") =>
  run("journalctl", "-u", unit, "-n", String(lines), "--no-pager", "-o", "cat").out;

/** fetch that verifies the host's servers with the emulator's CA. */
export const caFetch = () => createFetch(readFileSync(join(HERE, "ca.crt"), "utf8"));

/** The emulator's operator API on the host. */
export function operatorApi(base: string) {
  const http = caFetch();
  return async (method: string, path: string, body?: unknown) => {
    const response = await http(`${base}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return await response.json() as Record<string, unknown>;
  };
}

export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) return undefined;
    await sleep(100);
  }
}

/** The lines a driver prints for the host, each under `prefix`. */
export function reporter(prefix: string) {
  const say = (text: string) => console.log(`${prefix} ${text}`);
  const verdict = (name: string, ok: boolean, why = "") =>
    say(ok ? `ok ${name}` : `fail ${name}: ${why.replaceAll("\n", " | ").slice(0, 1500)}`);
  /** Runs one check: `true` passes, a string is why it failed. */
  const check = async (name: string, body: () => Promise<string | true>): Promise<boolean> => {
    try {
      const result = await body();
      verdict(name, result === true, result === true ? "" : result);
      return result === true;
    } catch (error) {
      verdict(name, false, (error as Error).message);
      return false;
    }
  };
  return { say, check };
}

/** The acks the cloud holds for the device. */
export async function acksOf(operator: ReturnType<typeof operatorApi>, deviceId: number) {
  return (await operator("GET", `/devices/${deviceId}/acks`)).acks as { desired_id?: string; message_id: string; status: string }[];
}
