// A release in a folder: what `npm run release` writes, an operator's bundle unpacked on the
// board, or a mirror of the HTTPS channel. Each file is read at most to the length the manifest
// allows (one byte more, so that a longer file is caught).
import { createReadStream, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { MANIFEST_MAX_BYTES } from "./manifest.ts";
import { UpdateRefusal } from "./refusal.ts";
import type { ReleaseSource } from "./updater.ts";

/** The release in `dir`: `manifest.json`, `manifest.json.minisig` and the files they name. */
export function folderSource(dir: string): ReleaseSource {
  return {
    name: dir,
    manifest: () => {
      const path = join(dir, "manifest.json");
      let size: number;
      try {
        size = statSync(path).size;
      } catch {
        return Promise.reject(new UpdateRefusal("length", `no manifest.json in ${dir}`));
      }
      if (size > MANIFEST_MAX_BYTES) {
        return Promise.reject(new UpdateRefusal("length", `the manifest is ${size} bytes, over ${MANIFEST_MAX_BYTES}`));
      }
      let signature: string;
      try {
        signature = readFileSync(join(dir, "manifest.json.minisig"), "utf8");
      } catch {
        return Promise.reject(new UpdateRefusal("signature", `no manifest.json.minisig in ${dir}: the release is not signed`));
      }
      return Promise.resolve({ bytes: new Uint8Array(readFileSync(path)), signature: signature.slice(0, 8193) });
    },
    open: (file, limit, offset = 0) => createReadStream(join(dir, file), { start: offset, end: limit }) as AsyncIterable<Uint8Array>,
  };
}
