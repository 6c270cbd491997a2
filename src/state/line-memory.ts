// What the device remembers of its lines across a restart: the value each output was last set
// to (for the power-on policy `restore`) and which way the catalog said each route works (so an
// output can be claimed at boot, before any network).
import type { StateFile } from "./state-file.ts";

/** The last value written to an output, for the power-on policy `restore`. */
export interface SavedLineState {
  readonly value: 0 | 1;
  readonly changedAt: number;
}

/** The `line_state` and `route_direction` tables. */
export class LineMemory {
  readonly #file: StateFile;

  constructor(file: StateFile) {
    this.#file = file;
  }

  /** Remembers the value an output was last set to (committed before the call returns). */
  saveValue(route: string, value: 0 | 1, now: number): void {
    this.#file.write(() => this.upsertValue(route, value, now));
  }

  /** The same inside the caller's transaction (a desired state's answer remembers it in its own commit). */
  upsertValue(route: string, value: 0 | 1, now: number): void {
    this.#file.db
      .prepare(
        "INSERT INTO line_state (route, value, changed_at) VALUES (?, ?, ?) ON CONFLICT (route) DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at",
      )
      .run(route, value, now);
  }

  /** The value an output was last set to, if it ever was. */
  value(route: string): SavedLineState | undefined {
    const row = this.#file.db.prepare("SELECT value, changed_at FROM line_state WHERE route = ?").get(route);
    return row ? { value: Number(row.value) === 1 ? 1 : 0, changedAt: Number(row.changed_at) } : undefined;
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
