// What the device console shows, gathered from the runtime's events: per route the last desired
// value, report and ack; the recent events; and the metrics behind /metrics.
import type { Clock } from "../clock.ts";
import type { DeviceRuntime, RuntimeEvents } from "../device/runtime.ts";
import { Counter, CounterReader, Gauge, Histogram, LATENCY_BUCKETS, Registry } from "./metrics.ts";
import type { UpdateView } from "../update/board-view.ts";
import { VERSION } from "../version.ts";

/** What the console knows of one route beyond what its line reads. */
export interface RouteActivity {
  desired?: { readonly value: string; readonly desiredId: string; readonly at: number };
  reported?: { readonly value: string; readonly at: number; readonly messageId: string };
  ack?: { readonly status: string; readonly at: number; readonly errorType?: string | undefined };
}

/** One line of the recent-events list. */
export interface ConsoleEvent {
  readonly at: number;
  readonly kind:
    | "applied"
    | "rejected"
    | "stale"
    | "duplicate"
    | "unanswerable"
    | "local"
    | "reading"
    | "ack"
    | "online"
    | "offline"
    | "trouble"
    | "failsafe";
  readonly route?: string;
  readonly text: string;
}

const RECENT = 50;
/** Matching tables (report → ack, reading → publish) never grow past this. */
const PENDING_MAX = 5000;

function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.set(key, value);
  if (map.size > PENDING_MAX) map.delete(map.keys().next().value as K);
}

/** Follows one runtime. */
export class DeviceMonitor {
  readonly registry = new Registry();
  readonly #activity = new Map<string, RouteActivity>();
  readonly #events: ConsoleEvent[] = [];
  readonly #listeners = new Set<(event: ConsoleEvent) => void>();
  readonly #routeOf = new Map<string, string>();
  readonly #answeredAt = new Map<string, number>();
  readonly #observedAt = new Map<string, number>();
  readonly #clock: Clock;
  /** The updater as the board shows it (undefined without one). */
  readonly update: () => UpdateView | undefined;
  readonly acks: Counter;
  /** Local actions: an input on the board switched its output. */
  readonly local: Counter;
  readonly localLatency: Histogram;
  readonly desired: Counter;
  readonly applyLatency: Histogram;
  readonly ackLatency: Histogram;
  readonly inputLatency: Histogram;

  /** Removes this monitor's listeners from the runtime. */
  readonly #off: (() => void)[] = [];

  constructor(runtime: DeviceRuntime, clock: Clock, update: () => UpdateView | undefined = () => undefined) {
    this.#clock = clock;
    this.update = update;
    const r = this.registry;
    this.acks = r.add(new Counter("realer_acks", "Application acks received, by status."));
    this.desired = r.add(new Counter("realer_desired_states", "Desired states handled, by outcome."));
    this.applyLatency = r.add(
      new Histogram(
        "realer_desired_apply_seconds",
        "From a desired state's arrival to its line set and its report recorded.",
        LATENCY_BUCKETS,
      ),
    );
    this.ackLatency = r.add(
      new Histogram("realer_desired_ack_seconds", "From a desired state's report recorded to its application ack.", LATENCY_BUCKETS),
    );
    this.inputLatency = r.add(
      new Histogram(
        "realer_input_publish_seconds",
        "From an input edge (or sample) to its reading leaving for the broker.",
        LATENCY_BUCKETS,
      ),
    );
    this.local = r.add(new Counter("realer_local_actions", "Outputs switched by an input on the board (controls), by output and mode."));
    this.localLatency = r.add(
      new Histogram(
        "realer_local_action_seconds",
        "From an input's edge to its output written and read back, on the board.",
        LATENCY_BUCKETS,
      ),
    );
    this.#readStatus(runtime, clock);
    this.#follow(runtime);
  }

  /** Stops following the runtime (the console is stopping); what was gathered stays readable. */
  close(): void {
    for (const off of this.#off.splice(0)) off();
  }

  /** The gauges and counters read from the runtime's status when /metrics is asked. */
  #readStatus(runtime: DeviceRuntime, clock: Clock): void {
    const r = this.registry;
    r.add(
      new CounterReader(
        "realer_mqtt_reconnects",
        "MQTT reconnects since start.",
        () => [{ labels: {}, value: runtime.status().link?.reconnects ?? 0 }],
      ),
    );
    r.add(
      new CounterReader(
        "realer_mqtt_renewals",
        "MQTT credential renewals since start.",
        () => [{ labels: {}, value: runtime.status().link?.renewals ?? 0 }],
      ),
    );
    r.add(new Gauge("realer_mqtt_connected", "1 while the MQTT connection is up.", () => (runtime.status().link?.connected ? 1 : 0)));
    r.add(new Gauge("realer_outbox_depth", "Messages waiting for their ack.", () => runtime.status().outbox.depth));
    r.add(
      new Gauge("realer_outbox_oldest_age_seconds", "Age of the oldest unacknowledged message.", () => {
        const oldest = runtime.status().outbox.oldestAt;
        return oldest === undefined ? 0 : Math.max(0, (clock.now() - oldest) / 1000);
      }),
    );
    r.add(
      new CounterReader(
        "realer_outbox_dropped",
        "Readings thrown away: over the outbox bound, or too large to send.",
        () => [{ labels: {}, value: runtime.status().outbox.stats.dropped }],
      ),
    );
    r.add(
      new CounterReader(
        "realer_outbox_coalesced",
        "Older latest-value readings replaced while the outbox was full.",
        () => [{ labels: {}, value: runtime.status().outbox.stats.coalesced }],
      ),
    );
    r.add(
      new CounterReader(
        "realer_outbox_resent",
        "Messages sent again after an ack timeout or a reconnect.",
        () => [{ labels: {}, value: runtime.status().outbox.stats.resent }],
      ),
    );
    r.add(
      new Gauge(
        "realer_storage_failing",
        "1 while the state file refuses writes (a full or failing disk).",
        () => (runtime.status().storage.failing ? 1 : 0),
      ),
    );
    r.add(
      new CounterReader(
        "realer_storage_write_failures",
        "Writes to the state file that failed.",
        () => [{ labels: {}, value: runtime.status().storage.failures }],
      ),
    );
    r.add(
      new Gauge(
        "realer_outbox_held",
        "Readings held in memory because the state file refused them.",
        () => runtime.status().outbox.stats.held,
      ),
    );
    r.add(
      new CounterReader(
        "realer_desired_unacknowledged",
        "Desired states left without a PUBACK because their answer could not be recorded.",
        () => [{ labels: {}, value: runtime.status().unacknowledged }],
      ),
    );
    r.add(
      new CounterReader(
        "realer_desired_unanswerable",
        "Desired states whose desired_id no report within max_payload_bytes can carry.",
        () => [{ labels: {}, value: runtime.status().outbox.stats.unanswerable }],
      ),
    );
    r.add(
      new CounterReader(
        "realer_faults",
        "Repeating failures (sensor reads, event listeners), by where they happened.",
        () => runtime.status().faults.map(({ where, count }) => ({ labels: { where }, value: count })),
      ),
    );
    r.add(
      new Gauge(
        "realer_outbox_waiting_for_clock",
        "Messages observed while the time was unknown (clock not synchronised, no answer from the cloud yet), waiting for it.",
        () => runtime.status().outbox.stats.waitingForClock,
      ),
    );
    r.add(
      new Gauge(
        "realer_failsafes_fired",
        "Outputs set to their fail-safe value and not yet told otherwise by the cloud.",
        () => runtime.status().failsafes.filter((failsafe) => failsafe.state === "fired").length,
      ),
    );
    r.add(
      new Gauge(
        "realer_cloud_trouble",
        "1 while something beyond a passing fault keeps the device from its cloud (a refused secret, 4002).",
        () => (runtime.status().trouble === undefined ? 0 : 1),
      ),
    );
    r.add(
      new Gauge(
        "realer_output_value",
        "Each output's value last written: 0 or 1 for a line, a level of its range for a PWM route.",
        () => runtime.status().outputs.map((output) => ({ labels: { route: output.route }, value: output.value })),
      ),
    );
    r.add(
      new Gauge(
        "realer_output_drifts",
        "Writes an output did not hold (what was read back differed), by output.",
        () => runtime.status().outputs.map((output) => ({ labels: { route: output.route }, value: output.drifts })),
      ),
    );
    r.add(
      new Gauge("realer_update_info", "1, with this process's version and the updater's slot it runs (none without an updater).", () => [
        { labels: { version: VERSION, slot: this.update()?.slot ?? "none" }, value: 1 },
      ]),
    );
    r.add(
      new Gauge("realer_update_trial", "1 while a release is on trial (its release number and version), else 0.", () => {
        const trial = this.update()?.trial;
        return trial ? [{ labels: { release: String(trial.release), version: trial.version }, value: 1 }] : 0;
      }),
    );
    r.add(
      new Gauge(
        "realer_update_last_refusal_timestamp_seconds",
        "When the updater last refused a release or rolled one back (its check, or rollback); absent when it never has.",
        () => {
          const last = this.update()?.last_refusal;
          if (!last) return [];
          const check = /refused \(([a-z-]+)\)/.exec(last.text)?.[1] ?? (last.text.includes("rolled back") ? "rollback" : "other");
          return [{ labels: { check }, value: last.at / 1000 }];
        },
      ),
    );
    r.add(new Gauge("process_resident_memory_bytes", "Resident memory of the process.", () => process.memoryUsage().rss));
    r.add(new Gauge("process_heap_used_bytes", "JavaScript heap in use.", () => process.memoryUsage().heapUsed));
  }

  /** The counters, latencies, route activity and recent events that the runtime's events feed. */
  #follow(runtime: DeviceRuntime): void {
    const on = <K extends keyof RuntimeEvents>(event: K, listener: (data: RuntimeEvents[K]) => void) =>
      this.#off.push(runtime.events.on(event, listener));
    on("desired", (outcome) => {
      this.desired.inc({ outcome: outcome.status });
      if (outcome.status !== "duplicate" && outcome.status !== "unanswerable") {
        this.applyLatency.observe((outcome.answeredAt - outcome.receivedAt) / 1000);
        remember(this.#answeredAt, outcome.messageId, outcome.answeredAt);
      }
      remember(this.#routeOf, outcome.messageId, outcome.route);
      const activity = this.#route(outcome.route);
      if (outcome.requested !== undefined) {
        activity.desired = { value: outcome.requested, desiredId: outcome.desiredId, at: outcome.receivedAt };
      }
      activity.reported = { value: outcome.value, at: outcome.answeredAt, messageId: outcome.messageId };
      const kind = outcome.status === "applied" ? "applied" : outcome.status === "duplicate" ? "duplicate" : outcome.status;
      this.#push({
        at: outcome.answeredAt,
        kind,
        route: outcome.route,
        text: `${outcome.desiredId}: ${outcome.requested ?? "?"} → reported ${outcome.value}${
          outcome.reason ? ` (${outcome.reason})` : ""
        }`,
      });
    });
    on("reading", (reading) => {
      remember(this.#observedAt, reading.messageId, reading.observedAt);
      remember(this.#routeOf, reading.messageId, reading.route);
      this.#route(reading.route).reported = { value: reading.value, at: reading.observedAt, messageId: reading.messageId };
      this.#push({ at: reading.observedAt, kind: "reading", route: reading.route, text: `reading ${reading.value}` });
    });
    on("control", (action) => {
      this.local.inc({ output: action.output, mode: action.mode });
      this.localLatency.observe(action.tookMs / 1000);
      this.#push({ at: action.at, kind: "local", route: action.output, text: `${action.input} (${action.mode}) → ${action.value}` });
    });
    on("local", (change) => {
      remember(this.#routeOf, change.messageId, change.route);
      this.#route(change.route).reported = { value: change.value, at: change.at, messageId: change.messageId };
      this.#push({ at: change.at, kind: "local", route: change.route, text: `local change to ${change.value} (${change.cause})` });
    });
    on("published", (published) => {
      const observed = this.#observedAt.get(published.messageId);
      if (observed === undefined) return;
      this.#observedAt.delete(published.messageId);
      this.inputLatency.observe(Math.max(0, published.at - observed) / 1000);
    });
    on("settled", (settled) => {
      this.acks.inc({ status: settled.status });
      const now = this.#clock.now();
      const answered = this.#answeredAt.get(settled.messageId);
      if (answered !== undefined) {
        this.#answeredAt.delete(settled.messageId);
        this.ackLatency.observe(Math.max(0, now - answered) / 1000);
      }
      const route = this.#routeOf.get(settled.messageId) ?? settled.topic;
      const activity = this.#route(route);
      if (activity.reported?.messageId === settled.messageId) {
        activity.ack = { status: settled.status, at: now, errorType: settled.errorType };
      }
      this.#push({
        at: now,
        kind: "ack",
        route,
        text: `ack ${settled.status}${settled.errorType ? ` (${settled.errorType})` : ""} for ${settled.messageId}`,
      });
    });
    on("online", (online) => this.#push({ at: this.#clock.now(), kind: "online", text: `connected to ${online.broker}` }));
    on("trouble", ({ text }) => this.#push({ at: this.#clock.now(), kind: "trouble", text: text ?? "the cloud answers again" }));
    on("offline", () => this.#push({ at: this.#clock.now(), kind: "offline", text: "connection lost; reconnecting" }));
    const fired = new Set<string>();
    on("failsafe", ({ failsafes }) => {
      for (const failsafe of failsafes) {
        if (failsafe.state !== "fired") fired.delete(failsafe.route);
        else if (!fired.has(failsafe.route)) {
          fired.add(failsafe.route);
          this.#push({
            at: this.#clock.now(),
            kind: "failsafe",
            text: `${failsafe.route} set to its safe value ${failsafe.value}: ${failsafe.reason ?? "no link"}`,
          });
        }
      }
    });
  }

  /** The activity of a route, by its key. */
  activity(key: string): Readonly<RouteActivity> {
    return this.#activity.get(key) ?? {};
  }

  /** The recent events, newest last. */
  recent(): readonly ConsoleEvent[] {
    return [...this.#events];
  }

  /** Calls `listener` for each new event; returns a function that stops it. */
  subscribe(listener: (event: ConsoleEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #route(key: string): RouteActivity {
    let activity = this.#activity.get(key);
    if (!activity) {
      activity = {};
      this.#activity.set(key, activity);
    }
    return activity;
  }

  #push(event: ConsoleEvent): void {
    this.#events.push(event);
    if (this.#events.length > RECENT) this.#events.shift();
    for (const listener of this.#listeners) listener(event);
  }
}
