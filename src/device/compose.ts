// The one place a device is put together from its config: the GPIO backend, the state store, the
// HTTPS client that trusts the config's CA, and the runtime over them. `realer-edge run`, the
// demo and the test harness all call it, and differ only in what they pass.
import { type Clock, systemClock } from "../clock.ts";
import type { BackoffSettings } from "../cloud/retry-policy.ts";
import type { Config } from "../config/schema.ts";
import { createBackend } from "../hal/create.ts";
import type { GpioBackend } from "../hal/types.ts";
import { createPwmBackend } from "../hal/pwm/create.ts";
import type { PwmBackend } from "../hal/pwm/types.ts";
import type { Logger } from "../log.ts";
import { createFetch } from "../platform/index.ts";
import type { Secret } from "../secret.ts";
import { Emitter } from "../events.ts";
import { Faults } from "../faults.ts";
import { Outbox } from "../outbox/outbox.ts";
import { FailSafes } from "./failsafe.ts";
import { RouteLines } from "./route-lines.ts";
import { DeviceRuntime, type RuntimeDeps, type RuntimeEvents } from "./runtime.ts";
import { TimeKeeper } from "./time-keeper.ts";
import { DeviceStore } from "../state/store.ts";

/** What the caller decides; everything else follows from `config`. */
export interface DeviceParts {
  readonly config: Config;
  /** The client secret, or a reader that fetches it afresh for each token. */
  readonly clientSecret: Secret | (() => Secret);
  /** PEM CA for the API and the broker (the config's `ca_file`), or undefined for the system's. */
  readonly ca: string | undefined;
  readonly logger: Logger;
  /** The store's own logger (its failures and recoveries); the device's by default. */
  readonly storeLogger?: Logger;
  /** A backend made by the caller (a mock it drives); by default the config's `gpio.backend`. */
  readonly backend?: GpioBackend;
  /** A PWM backend made by the caller; by default the one that goes with `gpio.backend`, opened when a PWM route needs it. */
  readonly pwm?: PwmBackend;
  readonly clock?: Clock;
  /** Wraps the HTTPS client (a test's captive portal, say). */
  readonly wrapFetch?: (inner: typeof fetch) => typeof fetch;
  readonly time?: RuntimeDeps["time"];
  readonly ackTimeoutMs?: number;
  readonly backoff?: BackoffSettings;
}

/** A device put together, not yet started. */
export interface ComposedDevice {
  readonly runtime: DeviceRuntime;
  readonly store: DeviceStore;
  readonly backend: GpioBackend;
  /** The PWM backend, once a PWM route opened it. */
  readonly pwm: () => PwmBackend | undefined;
  /** Closes the store and the backends, after `runtime.stop()`. */
  close(): Promise<void>;
}

/**
 * Opens the backend and the store (at the config's `state_dir`) and builds the runtime over them.
 * A store that cannot be opened closes the backend it opened before failing.
 */
export async function composeDevice(parts: DeviceParts): Promise<ComposedDevice> {
  const { config, logger } = parts;
  const clock = parts.clock ?? systemClock;
  const backend = parts.backend ?? await createBackend(config.gpio.backend, { clock });
  let store: DeviceStore;
  try {
    store = await DeviceStore.open(config.state_dir, { logger: parts.storeLogger ?? logger, clock });
  } catch (error) {
    if (!parts.backend) await backend.close();
    throw error;
  }
  const https = createFetch(parts.ca);
  const pwm = openOnce(() => parts.pwm ? Promise.resolve(parts.pwm) : createPwmBackend(config.gpio.backend, { clock }));
  const runtime = buildRuntime({
    config,
    clientSecret: parts.clientSecret,
    backend,
    pwm: pwm.open,
    store,
    fetch: parts.wrapFetch ? parts.wrapFetch(https) : https,
    ca: parts.ca,
    clock,
    logger,
    ...(parts.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: parts.ackTimeoutMs }),
    ...(parts.backoff === undefined ? {} : { backoff: parts.backoff }),
    ...(parts.time === undefined ? {} : { time: parts.time }),
  });
  return {
    runtime,
    store,
    backend,
    pwm: pwm.opened,
    close: async () => {
      store.close();
      await backend.close();
      if (!parts.pwm) await pwm.opened()?.close();
    },
  };
}

/** A backend opened the first time it is asked for, and the same one after. */
function openOnce(open: () => Promise<PwmBackend>): { open: () => Promise<PwmBackend>; opened: () => PwmBackend | undefined } {
  let opening: Promise<PwmBackend> | undefined;
  let opened: PwmBackend | undefined;
  return {
    open: () => {
      opening ??= open().then((backend) => (opened = backend), (error: unknown) => {
        opening = undefined; // The next claim tries again.
        throw error;
      });
      return opening;
    },
    opened: () => opened,
  };
}

/**
 * Builds the runtime's parts over its dependencies and wires them together: the time keeper, the
 * outbox (its sends and acks become runtime events), the routes' lines and handlers, and the
 * fail-safes over the outputs. The runtime itself only coordinates them.
 */
export function buildRuntime(deps: RuntimeDeps): DeviceRuntime {
  const { clock, logger, config } = deps;
  const faults = new Faults(logger, clock);
  const events = new Emitter<RuntimeEvents>((event, error) => faults.report("events.listener_failed", error, { event }));
  const time = deps.time ? new TimeKeeper(clock, logger, deps.time) : undefined;
  const outbox = new Outbox({
    ...(time && deps.time ? { time: { keeper: time, bootId: deps.time.bootId } } : {}),
    store: deps.store,
    clock,
    logger,
    ackTimeoutMs: deps.ackTimeoutMs ?? 30_000,
    limits: { maxMessages: config.outbox.max_messages, maxBytes: config.outbox.max_bytes },
    onSettled: (settled) => events.emit("settled", settled),
    onPublished: (published) => events.emit("published", published),
  });
  const pwm = deps.pwm ?? openOnce(() => createPwmBackend(config.gpio.backend, { clock })).open;
  const routes = new RouteLines({ ...deps, pwm, outbox, events, faults, time });
  // Once the time is known, what waited for it is stamped and goes.
  time?.onTrusted(() => outbox.pump());
  const failsafes: FailSafes = new FailSafes({
    clock,
    logger,
    outputs: () => routes.outputs(),
    onChange: () => events.emit("failsafe", { failsafes: failsafes.status() }),
  });
  return new DeviceRuntime(deps, { faults, events, time, outbox, routes, failsafes });
}
