import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/** A public id: `prefix_` and 26 random characters, as Realer's ids look (`cdv_…`, `des_…`). */
export function publicId(prefix: string): string {
  const bytes = randomBytes(26);
  let out = "";
  for (const byte of bytes) out += ALPHABET[byte & 31];
  return `${prefix}_${out}`;
}

/** A random secret of 32 bytes, base64url. */
export function randomSecret(): string {
  return randomBytes(32).toString("base64url");
}
