// A release on an HTTPS channel: any static server holding the folder `npm run release` writes.
// The manifest and its signature are read to their caps; a file is read from where a download
// cut off before (a Range request; a server that ignores it has the bytes already kept skipped),
// never past the manifest's length, and within the day's byte budget on a metered link. TLS is
// verified as for the cloud: the config's CA or the system's.
import { readBoundedBytes } from "../cloud/api-client.ts";
import { RealerError } from "../errors.ts";
import { MANIFEST_MAX_BYTES } from "./manifest.ts";
import { UpdateRefusal } from "./refusal.ts";
import type { ReleaseSource } from "./updater.ts";

/** How many bytes may still be fetched, and where they are counted. */
export interface ByteBudget {
  remaining(): number;
  spend(bytes: number): void;
}

/** A download stopped by the day's byte budget; it goes on from there once the budget allows. */
export class BudgetSpentError extends Error {
  override readonly name = "BudgetSpentError";
}

/** At most `cap` bytes of a response body, with the API client's bounded reader: more is refused, a break is a download that failed. */
async function readCapped(response: Response, cap: number, what: string): Promise<Uint8Array> {
  try {
    return await readBoundedBytes(response, cap, what);
  } catch (error) {
    if (error instanceof RealerError && error.kind === "protocol") throw new UpdateRefusal("length", `${what} is over ${cap} bytes`);
    throw new UpdateRefusal("download", `${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The channel's URL as messages show it: a user name or password in it (basic auth) is left out,
 * since refusals reach `update status`, the log and the device console.
 */
export function channelShown(base: string): string {
  try {
    const url = new URL(base);
    url.username = "";
    url.password = "";
    return url.href;
  } catch {
    return "(not a URL)";
  }
}

/** The channel at `base` (an https:// URL of a target's folder). */
export function httpsSource(base: string, options: { readonly fetch: typeof fetch; readonly budget?: ByteBudget }): ReleaseSource {
  const url = new URL(base.endsWith("/") ? base : `${base}/`);
  const shown = channelShown(url.href);
  if (url.protocol !== "https:") throw new UpdateRefusal("download", `the channel ${shown} is not https://: releases come over TLS only`);
  const get = async (file: string, headers: Record<string, string> = {}) => {
    try {
      return await options.fetch(new URL(file, url), { headers, redirect: "follow" });
    } catch (error) {
      throw new UpdateRefusal(
        "download",
        `cannot fetch ${shown}${file}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
      );
    }
  };
  return {
    name: shown,
    resumable: true,
    manifest: async () => {
      const manifest = await get("manifest.json");
      if (manifest.status !== 200) throw new UpdateRefusal("download", `${shown}manifest.json answered HTTP ${manifest.status}`);
      const bytes = await readCapped(manifest, MANIFEST_MAX_BYTES, "the manifest");
      const signature = await get("manifest.json.minisig");
      if (signature.status !== 200) {
        throw new UpdateRefusal(
          "signature",
          `${shown}manifest.json.minisig answered HTTP ${signature.status}: the release is not signed`,
        );
      }
      return { bytes, signature: new TextDecoder().decode(await readCapped(signature, 8192, "the signature")) };
    },
    open: (file, limit, offset = 0) => download(get, file, limit, offset, options.budget),
  };
}

async function* download(
  get: (file: string, headers?: Record<string, string>) => Promise<Response>,
  file: string,
  limit: number,
  offset: number,
  budget: ByteBudget | undefined,
): AsyncIterable<Uint8Array> {
  if (budget && budget.remaining() <= 0) throw new BudgetSpentError("the byte budget for today is spent");
  const response = await get(file, offset > 0 ? { range: `bytes=${offset}-` } : {});
  // 416: nothing past what is kept (the file is whole already); the hash decides.
  if (response.status === 416) return;
  if (response.status !== 200 && response.status !== 206) throw new Error(`${file} answered HTTP ${response.status}`);
  let skip = response.status === 200 ? offset : 0;
  let read = offset;
  const reader = response.body?.getReader();
  if (!reader) return;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      let chunk = value;
      if (skip > 0) {
        const drop = Math.min(skip, chunk.length);
        chunk = chunk.subarray(drop);
        skip -= drop;
        if (chunk.length === 0) continue;
      }
      budget?.spend(chunk.length);
      read += chunk.length;
      yield chunk;
      // One byte past the limit is enough to say the file is longer than the manifest says.
      if (read > limit) return;
      if (budget && budget.remaining() <= 0) {
        throw new BudgetSpentError("the byte budget for today is spent; the download goes on tomorrow");
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}
