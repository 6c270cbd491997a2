const REDACTED = "[redacted]";

/**
 * A value that must never reach a log line, an error message, a metric or a page.
 * Every way of turning it into text prints "[redacted]"; only `reveal()` gives the value,
 * and it is called at the one place that hands it to the network.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The plain value, for the single call that sends it. */
  reveal(): string {
    return this.#value;
  }

  /** Whether the secret is empty. */
  get isEmpty(): boolean {
    return this.#value.length === 0;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return REDACTED;
  }

  [Symbol.for("Deno.customInspect")](): string {
    return REDACTED;
  }
}
