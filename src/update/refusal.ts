// Why an update is refused: the check that refused it (in the order they run) and one line that
// says what was wrong. A refusal changes nothing on disk.

/** The checks, in the order they run. */
export const CHECKS = [
  "length",
  "signature",
  "manifest",
  "expiry",
  "target",
  "ratchet",
  "floor",
  "schema",
  "download",
  "hash",
  "patch",
  "self-test",
] as const;
/** One of {@linkcode CHECKS}. */
export type Check = (typeof CHECKS)[number];

/** An update refused by one check. */
export class UpdateRefusal extends Error {
  override readonly name = "UpdateRefusal";
  readonly check: Check;

  constructor(check: Check, reason: string) {
    super(`refused (${check}): ${reason}`);
    this.check = check;
  }
}
