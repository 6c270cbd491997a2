// What the updater remembers, in its own root-owned folder: the ratchet (the highest release
// ever verified), the floor (the last committed version), which slot is committed, the trial
// that is open (with its attempts, counted on disk so that a power cut during a trial is one
// attempt, never a reset), and the last refusal. Written atomically; a file that cannot be read
// is refused, never taken for a fresh start (that would reset the ratchet).
import { existsSync, readFileSync } from "node:fs";
import * as v from "valibot";
import { type StepHook, writeFileAtomic } from "./atomic-file.ts";

/** The two slots. */
export type Slot = "a" | "b";

const SlotSchema = v.picklist(["a", "b"]);
const StateSchema = v.strictObject({
  format: v.literal(1),
  highest_release: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  floor_version: v.string(),
  committed: v.nullable(
    v.strictObject({
      slot: SlotSchema,
      release: v.number(),
      version: v.string(),
      /** The highest state schema the committed release reads (the one it writes); the updater's own when adopted. */
      schema_reader: v.optional(v.number()),
    }),
  ),
  trial: v.nullable(
    v.strictObject({
      slot: SlotSchema,
      release: v.number(),
      version: v.string(),
      started_at: v.number(),
      /** Starts of the trial release so far; the trial fails when they run out. */
      attempts: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
      /** The state schema the release on trial writes: the committed release's reader once it commits. */
      schema_writes: v.optional(v.number()),
      /** Whether the release before it was connected to the cloud when the trial began (see the verdict). */
      committed_was_connected: v.optional(v.boolean(), false),
      /** systemd's restart count when the trial began, once the watch has read it. */
      restarts_at_start: v.optional(v.number()),
    }),
  ),
  /** A release whose trial was inconclusive (no cloud, as before it): tried again from its slot at `retry_at`. */
  retry: v.optional(
    v.nullable(v.strictObject({ slot: SlotSchema, release: v.number(), version: v.string(), retry_at: v.number() })),
    null,
  ),
  last_refusal: v.nullable(v.string()),
});

/** The updater's memory. */
export type UpdaterState = v.InferOutput<typeof StateSchema>;

/** The memory of a board that has never been updated: its installed version is its floor. */
export function freshState(installedVersion: string): UpdaterState {
  return { format: 1, highest_release: 0, floor_version: installedVersion, committed: null, trial: null, retry: null, last_refusal: null };
}

/** Why the updater's memory cannot be used, in one line. */
export class UpdaterStateError extends Error {
  override readonly name = "UpdaterStateError";
}

/** Reads the state at `path`, or the fresh state when there is none yet. */
export function readUpdaterState(path: string, installedVersion: string): UpdaterState {
  if (!existsSync(path)) return freshState(installedVersion);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new UpdaterStateError(
      `Cannot read the updater's state ${path}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
    );
  }
  const parsed = v.safeParse(StateSchema, json);
  if (!parsed.success) {
    throw new UpdaterStateError(
      `Cannot use the updater's state ${path}: ${parsed.issues[0].message} (at ${
        (parsed.issues[0].path ?? []).map((p) => String(p.key)).join(".")
      })`,
    );
  }
  return parsed.output;
}

/** Writes the state atomically. */
export function writeUpdaterState(path: string, state: UpdaterState, step?: StepHook): void {
  writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644, ...(step ? { step } : {}) });
}
