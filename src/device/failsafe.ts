// Per-output fail-safes: an output configured with `failsafe: {value, after_s}` is set to its safe
// value once the device has had no working link to the cloud for `after_s`, and at once when
// Realer answers 4002 (subscription inactive), unless told not to. The change is an ordinary
// local change: remembered for `restore`, reported when the link returns; a desired state that
// arrives later wins as usual. Off unless configured.
import type { Clock } from "../clock.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Actuator } from "./actuator.ts";

/** How one output's fail-safe stands. */
export interface FailSafeStatus {
  readonly route: string;
  readonly value: number;
  readonly afterS: number;
  /** idle: the link works; armed: the link is down and the timer runs; fired: the safe value was set. */
  readonly state: "idle" | "armed" | "fired";
  /** When an armed fail-safe fires, in wall-clock milliseconds. */
  readonly firesAt?: number | undefined;
  readonly firedAt?: number | undefined;
  readonly reason?: string | undefined;
}

interface Entry {
  state: "idle" | "armed" | "fired";
  firesAt?: number | undefined;
  firedAt?: number | undefined;
  reason?: string | undefined;
  timer?: AbortController | undefined;
}

/** What the fail-safes need. */
export interface FailSafeDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  /** The outputs claimed now; those with a `failsafe` in their config take part. */
  readonly outputs: () => Iterable<Actuator>;
  /** Called after a fail-safe fired, so the status (console, sd_notify) can say so. */
  readonly onChange?: () => void;
}

/** The fail-safes of every output that has one. */
export class FailSafes {
  readonly #deps: FailSafeDeps;
  readonly #entries = new Map<string, Entry>();
  /** Since when the link has been down, or undefined while it works. */
  #downSince: number | undefined;
  #stopped = false;

  constructor(deps: FailSafeDeps) {
    this.#deps = deps;
  }

  /** The link to the cloud works (MQTT connected, or the HTTPS runtime answering): disarm. */
  linkUp(): void {
    if (this.#downSince === undefined && [...this.#entries.values()].every((entry) => entry.state === "idle")) return;
    this.#downSince = undefined;
    for (const [route, entry] of this.#entries) {
      entry.timer?.abort();
      if (entry.state === "armed") this.#deps.logger.info("failsafe.disarmed", { route, note: "the link works again" });
      this.#entries.set(route, { state: "idle" });
    }
    this.#deps.onChange?.();
  }

  /** The link is down since `since` (the start, at boot): arm every output's timer from then. */
  linkDown(since: number = this.#deps.clock.now()): void {
    if (this.#stopped || this.#downSince !== undefined) return;
    this.#downSince = since;
    this.#armAll();
  }

  /** Outputs claimed after the link went down (after a catalog) are armed too. */
  refresh(): void {
    if (this.#downSince !== undefined) this.#armAll();
  }

  /** Realer answered 4002: outputs that follow that policy go to their safe value at once. */
  subscriptionInactive(): void {
    this.linkDown();
    for (const actuator of this.#deps.outputs()) {
      const failsafe = actuator.config.failsafe;
      if (!failsafe || !failsafe.on_subscription_inactive) continue;
      const entry = this.#entries.get(actuator.key);
      if (entry?.state === "fired") continue;
      entry?.timer?.abort();
      void this.#fire(actuator, "the subscription is inactive (4002)");
    }
  }

  /** Each output's fail-safe, for the status page, /metrics and `check`. */
  status(): FailSafeStatus[] {
    const list: FailSafeStatus[] = [];
    for (const actuator of this.#deps.outputs()) {
      const failsafe = actuator.config.failsafe;
      if (!failsafe) continue;
      const entry = this.#entries.get(actuator.key) ?? { state: "idle" as const };
      list.push({
        route: actuator.key,
        value: failsafe.value,
        afterS: failsafe.after_s,
        state: entry.state,
        firesAt: entry.firesAt,
        firedAt: entry.firedAt,
        reason: entry.reason,
      });
    }
    return list;
  }

  /** Cancels every timer; nothing fires after. */
  stop(): void {
    this.#stopped = true;
    for (const entry of this.#entries.values()) entry.timer?.abort();
  }

  #armAll(): void {
    const { clock, logger } = this.#deps;
    for (const actuator of this.#deps.outputs()) {
      const failsafe = actuator.config.failsafe;
      const current = this.#entries.get(actuator.key);
      if (!failsafe || current?.state === "armed" || current?.state === "fired") continue;
      const firesAt = this.#downSince! + failsafe.after_s * 1000;
      const timer = new AbortController();
      this.#entries.set(actuator.key, { state: "armed", firesAt, timer });
      logger.info("failsafe.armed", {
        route: actuator.key,
        value: failsafe.value,
        fires_in_s: Math.max(0, Math.round((firesAt - clock.now()) / 1000)),
      });
      clock.sleep(Math.max(0, firesAt - clock.now()), timer.signal).then(
        () => this.#fire(actuator, `no working link to the cloud for ${failsafe.after_s} s`),
        () => {}, // disarmed
      );
    }
    this.#deps.onChange?.();
  }

  async #fire(actuator: Actuator, reason: string): Promise<void> {
    const failsafe = actuator.config.failsafe;
    if (this.#stopped || !failsafe) return;
    const { clock, logger } = this.#deps;
    this.#entries.set(actuator.key, { state: "fired", firedAt: clock.now(), reason });
    this.#deps.onChange?.();
    if (actuator.written === failsafe.value) {
      logger.info("failsafe.fired", {
        route: actuator.key,
        value: actuator.scale.format(failsafe.value),
        reason,
        note: "already at its safe value",
      });
      return;
    }
    try {
      const observed = await actuator.apply(failsafe.value, "failsafe");
      logger.warn("failsafe.fired", {
        route: actuator.key,
        value: actuator.scale.format(failsafe.value),
        observed: actuator.scale.format(observed),
        reason,
      });
    } catch (error) {
      logger.error("failsafe.failed", {
        route: actuator.key,
        error: describeError(error),
        note: "the output could not be set to its safe value",
      });
    }
  }
}
