// The manifest's checks, before a byte of the binary is fetched: its size, its signature by one
// of the pinned keys (with the trusted comment that names it), its expiry, its product and
// target, the release ratchet, the version floor, and whether the running release could still
// open the state file the new one writes (a rollback must be able to).
import { compareVersions, type Manifest, MANIFEST_MAX_BYTES, ManifestError, parseManifest, trustedCommentFor } from "./manifest.ts";
import { MinisignError, type MinisignKey, verifyMinisign } from "./minisign.ts";
import { UpdateRefusal } from "./refusal.ts";

/** What the board knows when it judges a manifest. */
export interface BoardFacts {
  readonly target: Manifest["target"];
  /** The version running (committed) now. */
  readonly runningVersion: string;
  /** The highest state schema the running release can open. */
  readonly schemaReader: number;
  /** The highest release number ever seen verified (the ratchet; 0 before the first). */
  readonly highestRelease: number;
  /** The lowest version the board may run: the last committed one. */
  readonly floorVersion: string;
  /** Now, on a clock the board believes (ms since the epoch). */
  readonly now: number;
}

/**
 * Runs the manifest's checks in order and returns the manifest, or throws an
 * {@linkcode UpdateRefusal} naming the first that failed.
 */
export function verifyManifest(bytes: Uint8Array, signature: string, keys: readonly MinisignKey[], board: BoardFacts): Manifest {
  if (bytes.length > MANIFEST_MAX_BYTES) {
    throw new UpdateRefusal("length", `the manifest is ${bytes.length} bytes, over ${MANIFEST_MAX_BYTES}`);
  }
  let trustedComment: string;
  let key: MinisignKey;
  try {
    ({ trustedComment, key } = verifyMinisign(bytes, signature, keys));
  } catch (error) {
    if (error instanceof MinisignError) throw new UpdateRefusal("signature", error.message);
    throw error;
  }
  let manifest: Manifest;
  try {
    manifest = parseManifest(bytes);
  } catch (error) {
    if (error instanceof ManifestError) throw new UpdateRefusal("manifest", `${error.message} (signed by key ${key.id})`);
    throw error;
  }
  // The comment names the release: a signature moved onto another manifest of ours does not fit it.
  if (trustedComment !== trustedCommentFor(manifest)) {
    throw new UpdateRefusal("manifest", `the signature's trusted comment "${trustedComment.slice(0, 120)}" does not name this manifest`);
  }
  const expires = Date.parse(manifest.expires_at);
  if (board.now >= expires) throw new UpdateRefusal("expiry", `the manifest expired at ${manifest.expires_at}`);
  if (Date.parse(manifest.issued_at) > board.now + 24 * 3600_000) {
    throw new UpdateRefusal("expiry", `the manifest is issued at ${manifest.issued_at}, more than a day ahead of this board's clock`);
  }
  if (manifest.target !== board.target) {
    throw new UpdateRefusal("target", `the release is for ${manifest.target}; this board is ${board.target}`);
  }
  if (manifest.release <= board.highestRelease) {
    throw new UpdateRefusal("ratchet", `release ${manifest.release} is not above release ${board.highestRelease}, already seen`);
  }
  if (compareVersions(manifest.version, board.floorVersion) < 0) {
    throw new UpdateRefusal("floor", `version ${manifest.version} is below ${board.floorVersion}, the last committed: a downgrade`);
  }
  if (compareVersions(board.runningVersion, manifest.min_version) < 0) {
    throw new UpdateRefusal(
      "floor",
      `version ${manifest.version} replaces ${manifest.min_version} or later; this board runs ${board.runningVersion}`,
    );
  }
  if (manifest.schema.oldest_reader > board.schemaReader) {
    throw new UpdateRefusal(
      "schema",
      `the release writes a state file only schema ${manifest.schema.oldest_reader} or later can open; the running release reads up to ${board.schemaReader}, so it could not roll back`,
    );
  }
  return manifest;
}
