// What the runtime shows of the updater (the console, /metrics, the service's status line, the
// log): the slot it runs, the committed release, the trial, the last refusal or rollback. Read
// from the updater's folder, which the service may read and never writes; a board without an
// updater, or a folder that cannot be read, shows nothing (the device works on regardless).
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { readUpdaterState } from "./updater-state.ts";

/** Where the updater keeps its state and slots on a board. */
export const UPDATE_DIR = "/var/lib/realer-edge-update";

/** The updater as the runtime shows it. */
export interface UpdateView {
  /** The slot `current` points to: the one the service runs. */
  readonly slot: "a" | "b" | null;
  readonly committed: { readonly version: string; readonly release: number } | null;
  readonly trial: { readonly slot: "a" | "b"; readonly version: string; readonly release: number; readonly attempts: number } | null;
  /** The last refusal or rollback, in one line, with when (ms since the epoch). */
  readonly last_refusal: { readonly at: number; readonly text: string } | null;
}

/** The view of the updater at `root`, or undefined where there is none. */
export function readUpdateView(root = UPDATE_DIR): UpdateView | undefined {
  const path = join(root, "state.json");
  if (!existsSync(path)) return undefined;
  let state;
  try {
    state = readUpdaterState(path, "0.0.0");
  } catch {
    return undefined;
  }
  let slot: UpdateView["slot"] = null;
  try {
    const target = readlinkSync(join(root, "current"));
    slot = target === "slots/a" ? "a" : target === "slots/b" ? "b" : null;
  } catch {
    slot = null;
  }
  let last: UpdateView["last_refusal"] = null;
  try {
    const line = readFileSync(join(root, "last-refusal"), "utf8").trim();
    const at = Date.parse(line.split(" ")[0] ?? "");
    if (line !== "" && Number.isFinite(at)) last = { at, text: line.slice(line.indexOf(" ") + 1) };
  } catch {
    last = null;
  }
  return {
    slot,
    committed: state.committed ? { version: state.committed.version, release: state.committed.release } : null,
    trial: state.trial
      ? { slot: state.trial.slot, version: state.trial.version, release: state.trial.release, attempts: state.trial.attempts }
      : null,
    last_refusal: last,
  };
}

/** Whether the view says the running slot is the release on trial. */
export function runningOnTrial(view: UpdateView | undefined): boolean {
  return view?.trial !== null && view?.trial !== undefined && view.slot === view.trial.slot;
}
