// What time it is, and whether to believe it. A board without a battery-backed clock boots with
// a wall clock from 1970 or from its last shutdown until NTP answers. The time keeper trusts the
// wall clock once the kernel says it is synchronised; until then it takes the time from the
// cloud's own clock (the Date header of each HTTPS answer, within a second), and before either it
// says it does not know. Observations keep their moment on the boot's monotonic clock meanwhile
// and get their wall time once it is known; desired states' expiry is judged the same way.
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";

/** Where the time keeper looks. */
export interface TimeSources {
  /** Milliseconds on a clock that only moves forward and does not jump with the wall clock (CLOCK_BOOTTIME). */
  mono(): number;
  /** Whether the kernel says the wall clock is synchronised (NTP); undefined when it cannot tell. */
  kernelSynced(): boolean | undefined;
}

/** How far our clock may be from the cloud's before the cloud's is used instead. */
const AGREE_MS = 2000;
/** A jump of the wall clock against the monotonic one larger than this is a clock being set. */
const JUMP_MS = 2000;

/** Why the time is trusted, or not. */
export type TimeSource = "kernel" | "agrees with the cloud" | "the cloud's clock" | "unknown";

/** The time keeper's view, for the console and the logs. */
export interface TimeStatus {
  readonly source: TimeSource;
  /** Milliseconds to add to our wall clock to get the cloud's, while that is used. */
  readonly offsetMs: number | undefined;
}

/** Knows whether the wall clock can be believed, and what the time is when it cannot. */
export class TimeKeeper {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #sources: TimeSources;
  /** The kernel's answer, asked at most once a second. */
  #kernel: { at: number; synced: boolean | undefined } | undefined;
  /** The cloud's clock minus ours, from the last Date header. */
  #offset: number | undefined;
  /** Wall minus monotonic when last looked: a change is the wall clock being set. */
  #wallMinusMono: number;
  /** Undefined only until the constructor's first look, so that the first look is logged either way. */
  #source: TimeSource | undefined;
  readonly #listeners = new Set<() => void>();

  constructor(clock: Clock, logger: Logger, sources: TimeSources) {
    this.#clock = clock;
    this.#logger = logger;
    this.#sources = sources;
    this.#wallMinusMono = clock.now() - sources.mono();
    this.#update();
  }

  /** The boot's monotonic clock now. */
  mono(): number {
    return this.#sources.mono();
  }

  /** The moment on the monotonic clock of an observation our wall clock stamped `wall`. */
  monoOf(wall: number): number {
    return this.#sources.mono() - (this.#clock.now() - wall);
  }

  /**
   * Notes an HTTPS answer's `Date` header: the cloud's time at some moment between sending the
   * request and reading the answer (`sentAt`, `receivedAt`, our wall clock). Its second-resolution
   * is enough to tell a wrong clock, and to stamp observations within a second or so.
   */
  serverDate(date: string | null, sentAt: number, receivedAt: number): void {
    const server = date === null ? Number.NaN : Date.parse(date);
    if (!Number.isFinite(server) || receivedAt < sentAt) return;
    // The header is truncated to the second: its middle is the best guess.
    this.#offset = server + 500 - (sentAt + receivedAt) / 2;
    this.#update();
  }

  /** The wall time to believe now, or undefined while nothing tells it. */
  now(): number | undefined {
    this.#update();
    switch (this.#source) {
      case "kernel":
      case "agrees with the cloud":
        return this.#clock.now();
      case "the cloud's clock":
        return this.#clock.now() + this.#offset!;
      case "unknown":
      case undefined:
        return undefined;
    }
  }

  /** Our wall clock's stamp `wall` corrected to the time to believe, or undefined while unknown. */
  correct(wall: number): number | undefined {
    const now = this.now();
    return now === undefined ? undefined : now - (this.#clock.now() - wall);
  }

  /** The wall time of a moment on the monotonic clock (this boot), or undefined while unknown. */
  wallOfMono(mono: number): number | undefined {
    const now = this.now();
    return now === undefined ? undefined : now - (this.#sources.mono() - mono);
  }

  get trusted(): boolean {
    return this.now() !== undefined;
  }

  status(): TimeStatus {
    this.#update();
    return { source: this.#source ?? "unknown", offsetMs: this.#source === "the cloud's clock" ? this.#offset : undefined };
  }

  /** Calls `listener` each time the time becomes known (after being unknown). */
  onTrusted(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #update(): void {
    // A wall clock that was set (by NTP, by hand) moved against the monotonic one; the cloud's
    // clock did not, so the offset moves the other way.
    const wallMinusMono = this.#clock.now() - this.#sources.mono();
    const jump = wallMinusMono - this.#wallMinusMono;
    this.#wallMinusMono = wallMinusMono;
    if (Math.abs(jump) > JUMP_MS) {
      if (this.#offset !== undefined) this.#offset -= jump;
      this.#kernel = undefined; // the clock was just set: ask the kernel again whether it is synchronised now
      this.#logger.warn("clock.moved", { by_s: Math.round(jump / 1000), now: new Date(this.#clock.now()).toISOString() });
    }
    const mono = this.#sources.mono();
    if (!this.#kernel || mono - this.#kernel.at > 1000) this.#kernel = { at: mono, synced: this.#sources.kernelSynced() };
    const kernel = this.#kernel.synced;
    const source: TimeSource = kernel === true
      ? "kernel"
      : this.#offset === undefined
      ? "unknown"
      : Math.abs(this.#offset) <= AGREE_MS
      ? "agrees with the cloud"
      : "the cloud's clock";
    if (source === this.#source) return;
    const was = this.#source;
    this.#source = source;
    if (source === "unknown") {
      this.#logger.warn("clock.untrusted", {
        note: "the wall clock is not synchronised and the cloud has not told the time yet: observations wait for it",
      });
      return;
    }
    this.#logger.info("clock.trusted", {
      source,
      ...(source === "the cloud's clock"
        ? { ours_off_by_s: Math.round(-this.#offset! / 1000), note: "stamping with the cloud's time until the clock is synchronised" }
        : {}),
    });
    if (was === "unknown") { for (const listener of this.#listeners) listener(); }
  }
}
