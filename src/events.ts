/** A small typed event emitter: listeners get the event's data, in order, synchronously. */
export class Emitter<Events extends Record<string, unknown>> {
  readonly #listeners = new Map<keyof Events, Set<(data: never) => void>>();
  readonly #onListenerError: ((event: string, error: unknown) => void) | undefined;

  /** `onListenerError` hears of a listener that threw (logged and counted by the runtime). */
  constructor(onListenerError?: (event: string, error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: (data: Events[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (data: never) => void);
    return () => set.delete(listener as (data: never) => void);
  }

  /** Calls every listener of `event` with `data`; a listener that throws does not stop the others. */
  emit<K extends keyof Events>(event: K, data: Events[K]): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        (listener as (data: Events[K]) => void)(data);
      } catch (error) {
        // A faulty listener must not break the runtime's own flow, but it is not silent either.
        this.#onListenerError?.(String(event), error);
      }
    }
  }
}
