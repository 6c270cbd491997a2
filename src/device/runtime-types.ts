// The runtime's types: what it is built from (its dependencies and parts), what its transports
// start from, and what it tells the console.
import type { ApiClient } from "../cloud/api-client.ts";
import type { Catalog } from "../cloud/catalog.ts";
import type { TokenSource } from "../cloud/oauth.ts";
import type { BackoffSettings } from "../cloud/retry-policy.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config/schema.ts";
import type { Emitter } from "../events.ts";
import type { Faults } from "../faults.ts";
import type { GpioBackend } from "../hal/types.ts";
import type { Logger } from "../log.ts";
import type { LinkStatus } from "../mqtt/link.ts";
import type { Outbox } from "../outbox/outbox.ts";
import type { OutboxStats } from "../outbox/types.ts";
import type { Secret } from "../secret.ts";
import type { DeviceStore, StorageHealth } from "../state/store.ts";
import type { Binding } from "./bindings.ts";
import type { FailSafes, FailSafeStatus } from "./failsafe.ts";
import type { PwmBackend } from "../hal/pwm/types.ts";
import type { RouteLines } from "./route-lines.ts";
import type { RuntimeEvents } from "./runtime-events.ts";
import type { TimeKeeper, TimeSource, TimeSources } from "./time-keeper.ts";

/** What the runtime needs, built by the composition root. */
export interface RuntimeDeps {
  readonly config: Config;
  /** The client secret, or a reader that fetches it afresh for each token (see `TokenSource`). */
  readonly clientSecret: Secret | (() => Secret);
  readonly backend: GpioBackend;
  /** Opens the PWM backend the first time a PWM route is claimed; the one that goes with `backend` by default. */
  readonly pwm?: () => Promise<PwmBackend>;
  readonly store: DeviceStore;
  readonly fetch: typeof fetch;
  /** PEM CA from `ca_file`, for the broker; HTTPS uses it through `fetch`. */
  readonly ca: string | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Resend a feed message whose ack has not come after this long. */
  readonly ackTimeoutMs?: number;
  /** Retry timing; tests shorten it. */
  readonly backoff?: BackoffSettings;
  /**
   * This machine's clocks: with them the runtime knows when the wall clock can be believed (see
   * `TimeKeeper`). Without them (tests, the demo) the wall clock is taken as it is.
   */
  readonly time?: TimeSources & { readonly bootId: string };
}

/** The runtime's parts, built and wired together by `buildRuntime` in src/device/compose.ts. */
export interface RuntimeParts {
  readonly faults: Faults;
  readonly events: Emitter<RuntimeEvents>;
  /** When the wall clock can be believed; undefined without time sources (tests, the demo). */
  readonly time: TimeKeeper | undefined;
  readonly outbox: Outbox;
  readonly routes: RouteLines;
  readonly failsafes: FailSafes;
}

/** What the transports start from: the first catalog, its bindings, and whether MQTT may be used. */
export interface TransportStart {
  readonly api: ApiClient;
  readonly tokens: TokenSource;
  readonly catalog: Catalog;
  readonly bindings: readonly Binding[];
  /** False while the catalog offers no credential endpoint or the bootstrap lists only HTTPS. */
  readonly mqttAllowed: boolean;
  /** The bootstrap's desired-state poll cadence, if it gave one. */
  readonly cadenceS: number | undefined;
}

/** What the runtime is doing, for the console: no secret in here. */
export interface RuntimeStatus {
  readonly transport: "mqtt" | "https" | undefined;
  readonly broker: string | undefined;
  readonly link: LinkStatus | undefined;
  readonly token: { readonly renewAt: number; readonly expiresAt: number | undefined } | undefined;
  readonly outbox: { readonly depth: number; readonly oldestAt: number | undefined; readonly stats: Readonly<OutboxStats> };
  /** Whether the state file takes writes. */
  readonly storage: StorageHealth;
  /** What keeps the device from its cloud beyond a passing fault, in one line. */
  readonly trouble: string | undefined;
  /** Desired states left unacknowledged to the broker because their answer could not be recorded. */
  readonly unacknowledged: number;
  /** Repeating failures by where they happened (see `Faults`). */
  readonly faults: readonly { readonly where: string; readonly count: number }[];
  /** Each output's fail-safe: idle, armed (with when it fires) or fired. */
  readonly failsafes: readonly FailSafeStatus[];
  /** Each claimed output: the value last written (a line's 0 or 1, a level) and how many writes it did not hold. */
  readonly outputs: readonly { readonly route: string; readonly value: number; readonly drifts: number }[];
  /** Why the time is believed ("kernel", "agrees with the cloud", "the cloud's clock") or "unknown"; "wall clock" without time sources. */
  readonly time: TimeSource | "wall clock";
}
