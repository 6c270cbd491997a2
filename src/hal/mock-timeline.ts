// The mock backend's records of what its pins did, kept in fixed rings of typed arrays: the
// memory is set when the backend is made and does not grow with the changes (a rig or a soak
// running for days at 50 changes a second stays where it started), and the oldest entry goes in
// O(1) rather than by shifting an array of objects.
import type { Level } from "./mock.ts";

/**
 * One entry of the mock's timeline: a pin's level changed, or a consumer claimed the line (a
 * claim is noted even when the level stays, so a rig knows the level a new owner chose).
 */
export interface MockChange {
  /** Counts up from 1 for the life of the backend. */
  readonly seq: number;
  /** Wall-clock milliseconds. */
  readonly at: number;
  readonly chip: string;
  readonly offset: number;
  readonly level: Level;
  readonly claimed?: true;
}

const LEVEL_BIT = 1;
const CLAIMED_BIT = 2;

/** Every level change and claim of any line, the last `capacity` of them, numbered from 1. */
export class MockTimeline {
  readonly #capacity: number;
  readonly #chips: readonly string[];
  readonly #at: Float64Array;
  readonly #chip: Uint16Array;
  readonly #offset: Uint32Array;
  readonly #flags: Uint8Array;
  #seq = 0;

  /** `chips` names the chips an entry can refer to, by index. */
  constructor(capacity: number, chips: readonly string[]) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`A timeline holds at least one entry, not ${capacity}`);
    this.#capacity = capacity;
    this.#chips = chips;
    this.#at = new Float64Array(capacity);
    this.#chip = new Uint16Array(capacity);
    this.#offset = new Uint32Array(capacity);
    this.#flags = new Uint8Array(capacity);
  }

  /** Notes a change (or a claim) of line `offset` on chip number `chip`, at `at`. */
  append(chip: number, offset: number, level: Level, claimed: boolean, at: number): void {
    const slot = this.#seq % this.#capacity;
    this.#seq += 1;
    this.#at[slot] = at;
    this.#chip[slot] = chip;
    this.#offset[slot] = offset;
    this.#flags[slot] = (level === 1 ? LEVEL_BIT : 0) | (claimed ? CLAIMED_BIT : 0);
  }

  /** The entries numbered after `after` that are still held, oldest first. */
  since(after = 0): MockChange[] {
    const first = Math.max(after + 1, this.#seq - this.#capacity + 1, 1);
    const changes: MockChange[] = [];
    for (let seq = first; seq <= this.#seq; seq++) {
      const slot = (seq - 1) % this.#capacity;
      const flags = this.#flags[slot]!;
      changes.push({
        seq,
        at: this.#at[slot]!,
        chip: this.#chips[this.#chip[slot]!]!,
        offset: this.#offset[slot]!,
        level: (flags & LEVEL_BIT) === 0 ? 0 : 1,
        ...((flags & CLAIMED_BIT) === 0 ? {} : { claimed: true as const }),
      });
    }
    return changes;
  }
}

/** The levels one pin has shown, the last `capacity` of them, starting at `initial`. */
export class LevelHistory {
  readonly #levels: Uint8Array;
  #count = 0;

  constructor(capacity: number, initial: Level) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`A history holds at least one level, not ${capacity}`);
    this.#levels = new Uint8Array(capacity);
    this.push(initial);
  }

  /** The newest level. */
  get last(): Level {
    return this.#levels[(this.#count - 1) % this.#levels.length] as Level;
  }

  /** Adds a level; past the capacity, the oldest goes. */
  push(level: Level): void {
    this.#levels[this.#count % this.#levels.length] = level;
    this.#count += 1;
  }

  /** The levels held, oldest first. */
  levels(): Level[] {
    const held = Math.min(this.#count, this.#levels.length);
    return Array.from({ length: held }, (_, i) => this.#levels[(this.#count - held + i) % this.#levels.length] as Level);
  }
}
