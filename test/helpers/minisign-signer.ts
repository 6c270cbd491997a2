// A minisign signer for tests: Ed25519 key pairs made in memory and signatures in minisign's
// prehashed format, so a test can sign as many manifests as it needs without the tool. One test
// checks these against the real `minisign -V`.
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";

/** A key pair, with the public key as minisign writes it. */
export interface TestKeyPair {
  readonly id: string;
  /** The public key file's text (minisign -G's .pub). */
  readonly publicKeyFile: string;
  readonly privateKey: KeyObject;
  readonly idBytes: Uint8Array;
}

/** A fresh key pair. */
export function makeKeyPair(): TestKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(12);
  const idBytes = new Uint8Array(randomBytes(8));
  const line = Buffer.concat([Buffer.from("Ed"), idBytes, raw]).toString("base64");
  const id = Buffer.from(idBytes).reverse().toString("hex").toUpperCase();
  return { id, publicKeyFile: `untrusted comment: minisign public key ${id}\n${line}\n`, privateKey, idBytes };
}

/** A signature file for `message`, as `minisign -S -t COMMENT` would write it. */
export function signMinisign(pair: TestKeyPair, message: Uint8Array, trustedComment: string): string {
  const digest = createHash("blake2b512").update(message).digest();
  const signature = sign(null, digest, pair.privateKey);
  const global = sign(null, Buffer.concat([signature, Buffer.from(trustedComment)]), pair.privateKey);
  const line = Buffer.concat([Buffer.from("ED"), pair.idBytes, signature]).toString("base64");
  return `untrusted comment: signature from a test key\n${line}\ntrusted comment: ${trustedComment}\n${global.toString("base64")}\n`;
}
