// The emulator's HTTPS app answering in process, for unit tests of what talks to the cloud: no
// broker, no port, no network; every request is recorded by the emulator. Its credential endpoint
// needs a broker, so tests that connect stub that one call.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiClient } from "../../src/cloud/api-client.ts";
import { DEVICE_SCOPES, TokenSource } from "../../src/cloud/oauth.ts";
import type { Clock } from "../../src/clock.ts";
import { Emulator, type Provisioned } from "../../src/emulator/emulator.ts";
import { silentLogger } from "../../src/log.ts";
import { Secret } from "../../src/secret.ts";

/** The emulator's address as in-process clients name it. */
export const IN_PROCESS_URL = "https://emulator.test";

/** An emulator that is never started, a fetch that hands requests to its app, and a way to remove its state. */
export function inProcessCloud(name: string): { emulator: Emulator; fetch: typeof fetch; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `realer-${name}-`));
  const emulator = new Emulator({ stateDir: dir });
  const fetch =
    ((input: string | URL | Request, init?: RequestInit) => emulator.app.request(String(input), init)) as typeof globalThis.fetch;
  return { emulator, fetch, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The API client and token source a provisioned device uses, over `fetch`. */
export function deviceApi(device: Provisioned, fetch: typeof globalThis.fetch, clock: Clock): { api: ApiClient; tokens: TokenSource } {
  const api = new ApiClient(IN_PROCESS_URL, fetch);
  const tokens = new TokenSource({
    api,
    clientId: device.client_id,
    clientSecret: new Secret(device.client_secret),
    scopes: DEVICE_SCOPES,
    clock,
    logger: silentLogger,
  });
  return { api, tokens };
}

/**
 * Lets in-process requests finish (each takes a few turns of the event loop) until `check` holds;
 * fails naming `what` after `turns`.
 */
export async function turnsUntil(what: string, check: () => boolean, turns = 500): Promise<void> {
  for (let turn = 0; turn < turns && !check(); turn++) await new Promise((resolve) => setTimeout(resolve, 0));
  assert.ok(check(), `never: ${what}`);
}
