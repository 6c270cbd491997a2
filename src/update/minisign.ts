// minisign's formats, verified with the runtime's own Ed25519 (node:crypto, which Bun and Deno
// both provide): a public key line, and a signature file whose trusted comment is signed with it.
// Only the prehashed algorithm ("ED": Ed25519 over the BLAKE2b-512 of the file) is taken, the one
// minisign writes by default; a legacy signature ("Ed") is refused, so there is one path to trust.
import { createHash, createPublicKey, verify } from "node:crypto";

/** A public key as minisign writes it: its 8-byte id and the Ed25519 key. */
export interface MinisignKey {
  /** The key id as minisign prints it: 16 hex digits, most significant first. */
  readonly id: string;
  readonly key: Uint8Array;
}

/** A signature file, parsed but not yet verified. */
export interface MinisignSignature {
  readonly keyId: string;
  readonly algorithm: "ED" | "Ed";
  readonly signature: Uint8Array;
  readonly trustedComment: string;
  readonly globalSignature: Uint8Array;
}

/** Why a key or a signature is refused, in one line. */
export class MinisignError extends Error {
  override readonly name = "MinisignError";
}

const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function decode(text: string, bytes: number, what: string): Uint8Array {
  const trimmed = text.trim();
  if (!BASE64.test(trimmed)) throw new MinisignError(`${what} is not base64`);
  const decoded = Buffer.from(trimmed, "base64");
  if (decoded.length !== bytes) throw new MinisignError(`${what} is ${decoded.length} bytes, not ${bytes}`);
  return new Uint8Array(decoded);
}

/** minisign prints the little-endian key id as hex, most significant byte first. */
const keyIdOf = (bytes: Uint8Array) => Buffer.from(bytes).reverse().toString("hex").toUpperCase();

/** Reads a public key: the file minisign -G writes (a comment line and the key), or the key line alone. */
export function parsePublicKey(text: string): MinisignKey {
  const lines = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
  const line = lines.find((candidate) => !candidate.startsWith("untrusted comment:"));
  if (line === undefined) throw new MinisignError("the public key file has no key line");
  const raw = decode(line, 42, "the public key");
  if (raw[0] !== 0x45 || raw[1] !== 0x64) throw new MinisignError("the public key is not an Ed25519 minisign key");
  return { id: keyIdOf(raw.subarray(2, 10)), key: raw.slice(10) };
}

/** Reads a signature file (four lines: untrusted comment, signature, trusted comment, global signature). */
export function parseSignature(text: string): MinisignSignature {
  if (text.length > 8192) throw new MinisignError("the signature file is over 8 KiB");
  const lines = text.split(/\r?\n/);
  if (lines.length < 4 || !lines[0]!.startsWith("untrusted comment:")) {
    throw new MinisignError("the signature file is not minisign's (no untrusted comment line)");
  }
  const raw = decode(lines[1]!, 74, "the signature");
  const algorithm = String.fromCharCode(raw[0]!, raw[1]!);
  if (algorithm !== "ED" && algorithm !== "Ed") throw new MinisignError(`the signature's algorithm "${algorithm}" is not Ed25519`);
  const prefix = "trusted comment: ";
  if (!lines[2]!.startsWith(prefix)) throw new MinisignError("the signature file has no trusted comment");
  return {
    keyId: keyIdOf(raw.subarray(2, 10)),
    algorithm,
    signature: raw.slice(10),
    trustedComment: lines[2]!.slice(prefix.length),
    globalSignature: decode(lines[3]!, 64, "the global signature"),
  };
}

const ed25519 = (key: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean =>
  verify(null, message, createPublicKey({ key: Buffer.concat([SPKI_ED25519, key]), format: "der", type: "spki" }), signature);

/**
 * Verifies `message` against a signature file and the trusted keys; returns the key that signed
 * it and the trusted comment. Throws a {@linkcode MinisignError} naming what failed: an unknown
 * key, a legacy signature, the file's signature, or the trusted comment's.
 */
export function verifyMinisign(
  message: Uint8Array,
  signatureText: string,
  keys: readonly MinisignKey[],
): { readonly key: MinisignKey; readonly trustedComment: string } {
  const signature = parseSignature(signatureText);
  const key = keys.find((candidate) => candidate.id === signature.keyId);
  if (!key) {
    throw new MinisignError(
      `signed with key ${signature.keyId}, which is not one of the trusted keys (${keys.map((k) => k.id).join(", ")})`,
    );
  }
  if (signature.algorithm !== "ED") throw new MinisignError("a legacy (not prehashed) signature: sign with a current minisign");
  const digest = new Uint8Array(createHash("blake2b512").update(message).digest());
  if (!ed25519(key.key, digest, signature.signature)) throw new MinisignError(`the signature does not match the file (key ${key.id})`);
  const comment = new TextEncoder().encode(signature.trustedComment);
  const signed = new Uint8Array(signature.signature.length + comment.length);
  signed.set(signature.signature);
  signed.set(comment, signature.signature.length);
  if (!ed25519(key.key, signed, signature.globalSignature)) throw new MinisignError("the trusted comment's signature does not match");
  return { key, trustedComment: signature.trustedComment };
}
