// The console's logins: a random session id in the cookie (never the token itself), and a
// slowdown for repeated wrong tokens.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../clock.ts";
import type { Secret } from "../secret.ts";

/** Sessions kept at most; the oldest goes first. */
const MAX_SESSIONS = 64;
/** How long a session lasts without a new login. */
const SESSION_MS = 7 * 24 * 3600_000;
/** Wrong tokens allowed within the window before every try is refused until it passes. */
const MAX_FAILURES = 5;
const FAILURE_WINDOW_MS = 60_000;

/** Compares two strings in time that does not depend on where they differ. */
export function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Checks tokens, opens sessions, and slows down guessing. */
export class ConsoleSessions {
  readonly #token: Secret;
  readonly #clock: Clock;
  readonly #sessions = new Map<string, number>();
  #failures: number[] = [];

  constructor(token: Secret, clock: Clock) {
    this.#token = token;
    this.#clock = clock;
  }

  /** Milliseconds until another try is heard, or 0: too many wrong tokens came lately. */
  lockedFor(): number {
    const now = this.#clock.now();
    this.#failures = this.#failures.filter((at) => now - at < FAILURE_WINDOW_MS);
    if (this.#failures.length < MAX_FAILURES) return 0;
    return FAILURE_WINDOW_MS - (now - this.#failures[0]!);
  }

  /** Whether `given` is the token; a wrong one counts towards the lockout. */
  checkToken(given: string): boolean {
    if (sameText(given, this.#token.reveal())) return true;
    this.#failures.push(this.#clock.now());
    return false;
  }

  /** A new session id, after a right token. */
  open(): string {
    const id = randomBytes(32).toString("base64url");
    this.#sessions.set(id, this.#clock.now() + SESSION_MS);
    if (this.#sessions.size > MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value as string);
    return id;
  }

  /** Whether a cookie's session id is live. */
  isSession(id: string): boolean {
    const expires = this.#sessions.get(id);
    if (expires === undefined) return false;
    if (expires > this.#clock.now()) return true;
    this.#sessions.delete(id);
    return false;
  }
}
