// What the device remembers of its lines across a restart: the value each output was last set
// to (for the power-on policy `restore`) and which way the catalog said each route works (so an
// output can be claimed at boot, before any network).
import type { StateFile } from "./state-file.ts";

/** The last value written to an output, for the power-on policy `restore`: 0 or 1 for a line, a level for PWM. */
export interface SavedLineState {
  readonly value: number;
  readonly changedAt: number;
}

/** A value to remember for an output with a desired state's answer, in the answer's own commit. */
export interface LineStateWrite {
  readonly route: string;
  readonly value: number;
  /** A level output's last level above off (see {@linkcode LineMemory.onLevel}). */
  readonly onLevel?: number | undefined;
}

/** Where a level output's last level above off is kept in `line_state`: its route key with this after it. */
const ON_LEVEL_SUFFIX = "#on";

/** The `line_state` and `route_direction` tables. */
export class LineMemory {
  readonly #file: StateFile;

  constructor(file: StateFile) {
    this.#file = file;
  }

  /**
   * Remembers the value an output was last set to (committed before the call returns), and for a
   * level output the level "on" goes back to, in the same commit.
   */
  saveValue(route: string, value: number, now: number, onLevel?: number): void {
    this.#file.write(() => this.upsertValue(route, value, now, onLevel));
  }

  /** The same inside the caller's transaction (a desired state's answer remembers it in its own commit). */
  upsertValue(route: string, value: number, now: number, onLevel?: number): void {
    const upsert = this.#file.db.prepare(
      "INSERT INTO line_state (route, value, changed_at) VALUES (?, ?, ?) ON CONFLICT (route) DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at",
    );
    upsert.run(route, value, now);
    // A row of its own beside the value, so that a file stays readable by releases that know only lines.
    if (onLevel !== undefined) upsert.run(`${route}${ON_LEVEL_SUFFIX}`, onLevel, now);
  }

  /** The value an output was last set to, if it ever was. */
  value(route: string): SavedLineState | undefined {
    const row = this.#file.db.prepare("SELECT value, changed_at FROM line_state WHERE route = ?").get(route);
    if (!row) return undefined;
    const value = Number(row.value);
    return Number.isFinite(value) ? { value, changedAt: Number(row.changed_at) } : undefined;
  }

  /** The level a level output's "on" goes back to, if one was remembered. */
  onLevel(route: string): number | undefined {
    return this.value(`${route}${ON_LEVEL_SUFFIX}`)?.value;
  }

  /** Remembers which way the catalog last said a configured route works, for the next boot. */
  saveDirection(route: string, direction: "input" | "output"): void {
    this.#file.write(() =>
      this.#file.db
        .prepare(
          "INSERT INTO route_direction (route, direction) VALUES (?, ?) ON CONFLICT (route) DO UPDATE SET direction = excluded.direction",
        )
        .run(route, direction)
    );
  }

  /** Which way the catalog last said a configured route works. */
  direction(route: string): "input" | "output" | undefined {
    const row = this.#file.db.prepare("SELECT direction FROM route_direction WHERE route = ?").get(route);
    return row ? (String(row.direction) === "output" ? "output" : "input") : undefined;
  }
}
