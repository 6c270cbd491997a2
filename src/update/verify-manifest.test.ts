import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeKeyPair, signMinisign, type TestKeyPair } from "../../test/helpers/minisign-signer.ts";
import { seeded } from "../../test/helpers/seeded.ts";
import { type Manifest, ManifestError, parseManifest, trustedCommentFor } from "./manifest.ts";
import { parsePublicKey } from "./minisign.ts";
import { type Check, UpdateRefusal } from "./refusal.ts";
import { type BoardFacts, verifyManifest } from "./verify-manifest.ts";

const NOW = Date.parse("2026-12-02T00:00:00Z");
const SHA = "ab".repeat(32);

function manifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 1,
    product: "realer-edge",
    target: "linux-arm64",
    version: "0.3.0",
    release: 5,
    binary: { file: "realer-edge-linux-arm64", sha256: SHA, length: 114_000_000 },
    issued_at: "2026-12-01T00:00:00Z",
    expires_at: "2027-03-01T00:00:00Z",
    min_version: "0.2.0",
    schema: { writes: 3, oldest_reader: 3 },
    patches: [],
    ...extra,
  };
}

const board: BoardFacts = {
  target: "linux-arm64",
  runningVersion: "0.2.0",
  schemaReader: 3,
  highestRelease: 4,
  floorVersion: "0.2.0",
  now: NOW,
};

const online = makeKeyPair();
const backup = makeKeyPair();
const keys = [parsePublicKey(online.publicKeyFile), parsePublicKey(backup.publicKeyFile)];

function signed(body: Record<string, unknown>, pair: TestKeyPair = online, comment?: string) {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const trusted = comment ?? trustedCommentFor(body as unknown as Manifest);
  return { bytes, signature: signMinisign(pair, bytes, trusted) };
}

function refusedBy(check: Check, run: () => unknown, pattern?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof UpdateRefusal, String(error));
    assert.equal(error.check, check, error.message);
    assert.doesNotMatch(error.message, /\n/);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

describe("verifyManifest", () => {
  it("takes a manifest signed by either pinned key, for this board, newer than all it has seen", () => {
    for (const pair of [online, backup]) {
      const { bytes, signature } = signed(manifest(), pair);
      assert.equal(verifyManifest(bytes, signature, keys, board).release, 5);
    }
  });

  it("refuses each failure with the check that caught it, in order", () => {
    const check = (name: Check, body: Record<string, unknown>, facts: Partial<BoardFacts> = {}, pattern?: RegExp) => {
      const { bytes, signature } = signed(body);
      refusedBy(name, () => verifyManifest(bytes, signature, keys, { ...board, ...facts }), pattern);
    };
    check("length", manifest({ padding: "x".repeat(70_000) }), {}, /over 65536/);
    check("manifest", manifest({ release: "5" }), {}, /manifest's release: /);
    check("manifest", manifest({ extra: true }), {}, /manifest's extra/);
    check("expiry", manifest({ expires_at: "2026-12-01T12:00:00Z" }), {}, /expired at 2026-12-01T12:00:00Z/);
    check("expiry", manifest({ issued_at: "2026-12-05T00:00:00Z", expires_at: "2027-01-01T00:00:00Z" }), {}, /ahead of this board's clock/);
    check("target", manifest({ target: "linux-x64" }), {}, /for linux-x64; this board is linux-arm64/);
    check("ratchet", manifest({ release: 4 }), {}, /release 4 is not above release 4/);
    check("ratchet", manifest({ release: 3 }), {}, /not above/);
    check("floor", manifest({ version: "0.1.9" }), {}, /a downgrade/);
    check("floor", manifest({ min_version: "0.2.1" }), {}, /replaces 0.2.1 or later; this board runs 0.2.0/);
    check("schema", manifest({ schema: { writes: 5, oldest_reader: 4 } }), {}, /could not roll back/);
  });

  it("refuses a signature by another key, over other bytes, or whose trusted comment names another release", () => {
    const body = manifest();
    const other = signed(body, makeKeyPair());
    refusedBy("signature", () => verifyManifest(other.bytes, other.signature, keys, board), /not one of the trusted keys/);
    const good = signed(body);
    const tampered = new TextEncoder().encode(JSON.stringify({ ...body, binary: { ...(body.binary as object), sha256: "cd".repeat(32) } }));
    refusedBy("signature", () => verifyManifest(tampered, good.signature, keys, board), /does not match the file/);
    const moved = signed(body, online, "realer-edge linux-arm64 release 9 version 0.3.0");
    refusedBy("manifest", () => verifyManifest(moved.bytes, moved.signature, keys, board), /does not name this manifest/);
  });

  it("never lets a mangled manifest through or throw anything but a one-line ManifestError (fuzzed)", () => {
    const random = seeded(2026);
    const base = new TextEncoder().encode(JSON.stringify(manifest()));
    for (let round = 0; round < 3000; round++) {
      const bytes = new Uint8Array(base);
      const flips = 1 + Math.floor(random() * 4);
      for (let i = 0; i < flips; i++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const cut = random() < 0.2 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes;
      try {
        const parsed = parseManifest(cut);
        // What still parses is a manifest by every rule of the schema.
        assert.match(parsed.binary.sha256, /^[0-9a-f]{64}$/);
        assert.ok(Number.isSafeInteger(parsed.release) && parsed.release >= 1);
      } catch (error) {
        assert.ok(error instanceof ManifestError, `round ${round}: ${String(error)}`);
        assert.doesNotMatch(error.message, /\n/);
      }
    }
  });
});
