// The two slots and the link the service runs: `slots/a/realer-edge`, `slots/b/realer-edge`, and
// `current`, a symbolic link to one slot's folder, flipped by a rename (never rewritten in
// place), and `committed`, the same for the committed slot. A binary is staged into the slot `current` does not point to, as `.part`, fsynced,
// checked, then renamed; the committed slot is never written.
import {
  chmodSync,
  closeSync,
  createReadStream,
  existsSync,
  fchmodSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { type StepHook, syncDirectory, writeFileAtomic } from "./atomic-file.ts";
import type { Slot } from "./updater-state.ts";

/**
 * The two links: `current`, the binary the service runs; `committed`, the last release that
 * proved itself, which runs the updater itself (a release on trial never judges its own trial).
 */
export type Link = "current" | "committed";

/** How much of a resumable download is written between two fsyncs: 14 for a 109 MiB binary. */
const RESUME_SYNC_BYTES = 8 * 1024 * 1024;

/** The binary's name in a slot. */
export const BINARY = "realer-edge";

/** The slots of one updater folder. */
export class Slots {
  readonly root: string;
  readonly #step: StepHook;

  constructor(root: string, step: StepHook = () => {}) {
    this.root = root;
    this.#step = step;
  }

  dir(slot: Slot): string {
    return join(this.root, "slots", slot);
  }

  binary(slot: Slot): string {
    return join(this.dir(slot), BINARY);
  }

  /** The slot `current` points to, or undefined before the first. */
  current(): Slot | undefined {
    return this.linked("current");
  }

  /** The slot a link points to, or undefined while there is none. */
  linked(name: Link): Slot | undefined {
    const link = join(this.root, name);
    if (!existsSync(link) && !isLink(link)) return undefined;
    const target = readlinkSync(link);
    return target === "slots/a" ? "a" : target === "slots/b" ? "b" : undefined;
  }

  /** Where a slot's binary is written before it is trusted. */
  part(slot: Slot): string {
    return `${this.binary(slot)}.part`;
  }

  /**
   * Writes `chunks` into `slot`'s `.part` (mode 0755), at most `limit` bytes, fsynced; returns
   * their sha256 and length, for the caller to check before {@linkcode promote}. The slot's
   * binary is untouched, and `slot` must not be the one running.
   */
  async stage(
    slot: Slot,
    open: (offset: number) => AsyncIterable<Uint8Array>,
    limit: number,
    options: { readonly part?: string; readonly resumeKey?: string } = {},
  ): Promise<{ sha256: string; length: number }> {
    if (this.current() === slot) throw new Error(`Cannot stage into slot ${slot}: it is the one running`);
    const part = options.part ?? this.part(slot);
    // 0755 whatever the caller's umask (the runtime's unit has 0077): the service user runs the binary.
    mkdirSync(this.dir(slot), { recursive: true, mode: 0o755 });
    for (const dir of [this.root, join(this.root, "slots"), this.dir(slot)]) chmodSync(dir, 0o755);
    // A download cut off before (the link, the byte budget) goes on from where it stopped, when
    // what was kept is for the same file; its bytes are hashed again with the rest.
    const keyFile = `${part}.for`;
    let hash = createHash("sha256");
    let length = 0;
    let resumed = false;
    if (options.resumeKey !== undefined && existsSync(part) && readText(keyFile) === options.resumeKey) {
      for await (const chunk of createReadStream(part)) {
        hash.update(chunk as Uint8Array);
        length += (chunk as Uint8Array).length;
      }
      resumed = length <= limit;
    }
    if (!resumed) {
      [hash, length] = [createHash("sha256"), 0];
      if (options.resumeKey !== undefined) writeFileAtomic(keyFile, options.resumeKey, { step: this.#step });
    }
    this.#step(`open ${part}`);
    const fd = openSync(part, resumed ? "a" : "w", 0o755);
    fchmodSync(fd, 0o755);
    try {
      let synced = length;
      for await (const chunk of open(length)) {
        length += chunk.length;
        if (length > limit) throw new StageLimitError(limit);
        hash.update(chunk);
        let written = 0;
        while (written < chunk.length) written += writeSync(fd, chunk, written, chunk.length - written);
        // A resumable download is synced as it goes, so that a power cut keeps what came (the page cache would not).
        if (options.resumeKey !== undefined && length - synced >= RESUME_SYNC_BYTES) {
          fsyncSync(fd);
          synced = length;
        }
      }
      this.#step(`fsync ${part}`);
      fsyncSync(fd);
    } catch (error) {
      closeSync(fd);
      // Kept to go on from next time when it can be (a download cut off), else removed.
      if (options.resumeKey === undefined || error instanceof StageLimitError) this.#drop(part);
      else fsyncQuietly(part);
      throw error;
    }
    closeSync(fd);
    rmSync(keyFile, { force: true });
    return { sha256: hash.digest("hex"), length };
  }

  #drop(part: string): void {
    rmSync(part, { force: true });
    rmSync(`${part}.for`, { force: true });
  }

  /** Makes the checked `.part` the slot's binary, with `files` (its manifest) beside it. */
  promote(slot: Slot, files: Readonly<Record<string, string>>): void {
    for (const [name, text] of Object.entries(files)) writeFileAtomic(join(this.dir(slot), name), text, { step: this.#step });
    this.#step(`rename ${this.part(slot)}`);
    renameSync(this.part(slot), this.binary(slot));
    this.#step(`fsync ${this.dir(slot)}`);
    syncDirectory(this.dir(slot));
  }

  /**
   * Points `current` (or `committed`) at `slot`: a new link renamed over the old one, then the
   * folder fsynced.
   */
  switchTo(slot: Slot, name: Link = "current"): void {
    const next = join(this.root, `${name}.next`);
    this.#step(`link ${next}`);
    rmSync(next, { force: true });
    symlinkSync(`slots/${slot}`, next);
    this.#step(`rename ${next}`);
    renameSync(next, join(this.root, name));
    this.#step(`fsync ${this.root}`);
    syncDirectory(this.root);
  }

  /** Where a patch is kept while it is applied. */
  patch(slot: Slot): string {
    return join(this.dir(slot), "patch.part");
  }

  /**
   * Removes what a staging left behind (a `.part`, a patch), in the slot not running; with
   * `keepResumable`, a download kept to go on from stays.
   */
  clean(slot: Slot, options: { readonly keepResumable?: boolean } = {}): void {
    // A download cut off (by the link, a budget, a power cut) is kept, tied to its file's sha256, to go on from.
    if (!options.keepResumable || !existsSync(`${this.part(slot)}.for`)) this.#drop(this.part(slot));
    this.#drop(this.patch(slot));
  }
}

/** A download longer than its manifest says. */
export class StageLimitError extends Error {
  override readonly name = "StageLimitError";
  constructor(readonly limit: number) {
    super(`more than the ${limit} bytes the manifest gives`);
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The sha256 and length of a file, streamed. */
export async function hashFile(path: string): Promise<{ sha256: string; length: number }> {
  const hash = createHash("sha256");
  let length = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Uint8Array);
    length += (chunk as Uint8Array).length;
  }
  return { sha256: hash.digest("hex"), length };
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** fsyncs what a cut-off download kept, so that it can be trusted to go on from after a power cut; best effort. */
function fsyncQuietly(path: string): void {
  try {
    const fd = openSync(path, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Nothing kept: the next download starts afresh.
  }
}
