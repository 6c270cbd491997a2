import { ApiClient } from "../cloud/api-client.ts";
import { type Catalog, fetchCatalog } from "../cloud/catalog.ts";
import { type Bootstrap, fetchBootstrap, fetchDesiredStates } from "../cloud/https-api.ts";
import { DEVICE_SCOPES, TokenSource } from "../cloud/oauth.ts";
import { type BackoffSettings, DEFAULT_BACKOFF, decideRetry } from "../cloud/retry-policy.ts";
import type { Clock } from "../clock.ts";
import { type Config, type RouteConfig, routeKey } from "../config/schema.ts";
import { describeError, HttpError, RealerError } from "../errors.ts";
import { Emitter } from "../events.ts";
import type { GpioBackend, LineRef, LineRequest } from "../hal/types.ts";
import type { Logger } from "../log.ts";
import { MqttLink, type LinkStatus, withToken } from "../mqtt/link.ts";
import { AckSchema, parsePayload } from "../mqtt/messages.ts";
import type { Secret } from "../secret.ts";
import { Actuator, describeRef, type LocalChange } from "./actuator.ts";
import { type Binding, bindRoutes } from "./bindings.ts";
import { type DesiredOutcome, DesiredHandler } from "./desired-handler.ts";
import { FileSensor } from "./file-sensor.ts";
import { handleDesiredStates, HttpsLink } from "./https-link.ts";
import { InterlockGroup } from "./interlock.ts";
import { newMessageId } from "./message-id.ts";
import { Outbox, type OutboxStats, type Settled } from "./outbox.ts";
import { SensorReader } from "./sensor-reader.ts";
import type { DeviceStore } from "./store.ts";

/** What the runtime needs, built by the composition root. */
export interface RuntimeDeps {
  readonly config: Config;
  readonly clientSecret: Secret;
  readonly backend: GpioBackend;
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
}

/** Events the runtime emits, for tests, benchmarks and the demo. */
export interface RuntimeEvents extends Record<string, unknown> {
  online: { readonly broker: string };
  offline: Record<string, never>;
  desired: DesiredOutcome;
  settled: Settled;
  reading: { readonly route: string; readonly value: string; readonly messageId: string; readonly observedAt: number };
  /** An output changed by itself (pulse end, interlock, a local switch), reported without a desired_id. */
  local: { readonly route: string; readonly value: string; readonly cause: string; readonly messageId: string; readonly at: number };
  /** A message left for the broker for the first time. */
  published: { readonly messageId: string; readonly topic: string; readonly at: number };
}

/** One bound route as the console shows it. */
export interface RouteView {
  /** The route's key: its feed-data topic. */
  readonly key: string;
  readonly name: string;
  readonly type: "command" | "sensor";
  readonly kind: string | undefined;
  readonly pinPort: string | undefined;
  /** The line ("gpiochip0:6", a line name) or the file it reads. */
  readonly source: string;
  /** What the line reads now ("1.0" / "0.0"); undefined for a file sensor. */
  readonly physical: string | undefined;
}

/** What the runtime is doing, for the console: no secret in here. */
export interface RuntimeStatus {
  readonly transport: "mqtt" | "https" | undefined;
  readonly broker: string | undefined;
  readonly link: LinkStatus | undefined;
  readonly token: { readonly renewAt: number; readonly expiresAt: number | undefined } | undefined;
  readonly outbox: { readonly depth: number; readonly oldestAt: number | undefined; readonly stats: Readonly<OutboxStats> };
}

/**
 * The device: token, catalog, lines claimed for each bound route, then MQTT. Desired states are
 * applied before they are acknowledged; sensor changes become feed data; everything sent waits
 * in the durable outbox until its application ack.
 */
export class DeviceRuntime {
  readonly events = new Emitter<RuntimeEvents>();
  readonly #deps: RuntimeDeps;
  readonly #abort = new AbortController();
  readonly #lines: LineRequest[] = [];
  /** Outputs by route key; claimed at boot when their direction is known, else after the catalog. */
  readonly #actuators = new Map<string, Actuator>();
  readonly #interlocks = new Map<string, InterlockGroup>();
  readonly #fileSensors: FileSensor[] = [];
  readonly #sensorLines = new Map<string, LineRequest>();
  /** Handlers by the desired topic of the catalog in use. */
  readonly #handlers = new Map<string, DesiredHandler>();
  readonly #handlersBySource = new Map<string, DesiredHandler>();
  readonly #handlersByTopic = new Map<string, DesiredHandler>();
  #transport: "mqtt" | "https" | undefined;
  readonly #sensors: SensorReader[] = [];
  readonly #outbox: Outbox;
  #link: MqttLink | undefined;
  #running: Promise<void> | undefined;
  #catalog: Catalog | undefined;
  #tokens: TokenSource | undefined;
  readonly #bindings: Binding[] = [];
  readonly #backoff: BackoffSettings;

  constructor(deps: RuntimeDeps) {
    this.#deps = deps;
    this.#backoff = deps.backoff ?? DEFAULT_BACKOFF;
    this.#outbox = new Outbox({
      store: deps.store,
      clock: deps.clock,
      logger: deps.logger,
      ackTimeoutMs: deps.ackTimeoutMs ?? 30_000,
      limits: { maxMessages: deps.config.outbox.max_messages, maxBytes: deps.config.outbox.max_bytes },
      onSettled: (settled) => this.events.emit("settled", settled),
      onPublished: (published) => this.events.emit("published", published),
    });
  }

  /** The MQTT link's state, once it runs. */
  get linkStatus(): LinkStatus | undefined {
    return this.#link?.status;
  }

  /** The transport in use: MQTT, or the HTTPS runtime while MQTT is not offered. */
  get transport(): "mqtt" | "https" | undefined {
    return this.#transport;
  }

  /** Messages waiting for their ack. */
  get outboxDepth(): number {
    return this.#outbox.depth;
  }

  /** What the outbox did since start: acks by status, drops, coalesced readings, resends. */
  get outboxStats(): Readonly<OutboxStats> {
    return this.#outbox.stats;
  }

  /**
   * Authenticates, reads the catalog, claims the lines and starts MQTT in the background.
   * Resolves once lines are claimed; throws on what retrying cannot fix (a wrong secret, a bad config).
   */
  async start(): Promise<void> {
    const { config, logger, clock } = this.#deps;
    await this.#claimOutputsAtBoot();
    const api = new ApiClient(config.api_url, this.#deps.fetch, 15_000, this.#abort.signal);
    const tokens = new TokenSource({ api, clientId: config.client_id, clientSecret: this.#deps.clientSecret, scopes: DEVICE_SCOPES, clock, logger });
    this.#tokens = tokens;
    const catalog = await this.#firstCatalog(api, tokens);
    this.#catalog = catalog;
    logger.info("catalog.loaded", { routes: catalog.mqtt_routes.length, broker: catalog.mqtt.broker_url, mqtt: catalog.mqtt.credential_endpoint ? "offered" : "not offered" });
    const limits = catalog.mqtt.limits;
    this.#outbox.configure({
      ...(limits.max_inflight === undefined ? {} : { maxInflight: limits.max_inflight }),
      ...(limits.max_publish_per_second === undefined ? {} : { maxPublishPerSecond: limits.max_publish_per_second }),
      ...(limits.max_payload_bytes === undefined ? {} : { maxPayloadBytes: limits.max_payload_bytes }),
    });
    const { bindings, unbound, unused } = bindRoutes(catalog.mqtt_routes, config.routes);
    for (const binding of bindings) if (binding.config.latest_value) this.#outbox.keepLatestOnly(binding.route.mqtt.feed_data_topic);
    for (const route of unbound) logger.warn("route.unbound", { source_id: route.source_id, pin_port: route.pin_port, topic: route.mqtt.feed_data_topic, note: "no line in the config" });
    for (const entry of unused) logger.warn("route.unused", { source_id: entry.source_id, pin_port: entry.pin_port, note: "names no route in the catalog" });
    await this.#claimLines(bindings);
    this.#bindings.push(...bindings);
    for (const binding of bindings) this.#deps.store.saveDirection(routeKey(binding.config), binding.route.source_type === "command" ? "output" : "input");
    const bootstrap = await this.#bootstrap(api, tokens);
    const mqttAllowed = catalog.mqtt.credential_endpoint !== undefined && (bootstrap?.available_protocols.includes("mqtt") ?? true);
    this.#running = this.#runTransports(api, tokens, catalog, bindings, mqttAllowed, bootstrap?.cadence.desired_state_poll_seconds);
  }

  /** The bootstrap descriptor where the server answers it; a 404 means an older server. */
  async #bootstrap(api: ApiClient, tokens: TokenSource): Promise<Bootstrap | undefined> {
    const { config, logger } = this.#deps;
    try {
      const bootstrap = await withToken(tokens, (token) => fetchBootstrap(api, token, config.device_id));
      logger.info("bootstrap.loaded", { protocols: bootstrap.available_protocols.join(","), catalog_revision: String(bootstrap.catalog_revision), runtime_revision: String(bootstrap.runtime_revision) });
      return bootstrap;
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) logger.info("bootstrap.absent", { note: "an older server: the MQTT catalog decides" });
      else logger.warn("bootstrap.failed", { error: describeError(error), note: "the MQTT catalog decides" });
      return undefined;
    }
  }

  /** HTTPS until MQTT is offered, then MQTT, until stopped. */
  async #runTransports(api: ApiClient, tokens: TokenSource, first: Catalog, bindings: readonly Binding[], mqttAllowed: boolean, cadenceS: number | undefined): Promise<void> {
    const { config, clock, logger } = this.#deps;
    let catalog: Catalog | undefined = first;
    if (!mqttAllowed) {
      const https = new HttpsLink({
        api,
        tokens,
        deviceId: config.device_id,
        bindings,
        handlers: this.#handlersBySource,
        outbox: this.#outbox,
        clock,
        logger,
        backoff: this.#backoff,
        pollMs: Math.max(config.https.poll_interval_s, cadenceS ?? 0) * 1000,
        catalogCheckMs: config.https.catalog_check_s * 1000,
      });
      this.#transport = "https";
      catalog = await https.run(this.#abort.signal);
      if (!catalog) return;
    }
    this.#transport = "mqtt";
    await this.#runMqtt(api, tokens, catalog);
  }

  #runMqtt(api: ApiClient, tokens: TokenSource, catalog: Catalog): Promise<void> {
    const { clock, logger } = this.#deps;
    this.#catalog = catalog;
    // Desired topics come from this catalog; the handlers were built per route, found by source_id.
    this.#handlers.clear();
    for (const route of catalog.mqtt_routes) {
      const topic = route.mqtt.desired_topic;
      if (topic === undefined) continue;
      const handler = (route.source_id === undefined ? undefined : this.#handlersBySource.get(route.source_id)) ?? this.#handlersByTopic.get(topic);
      if (handler) this.#handlers.set(topic, handler);
    }
    const topics = [catalog.mqtt.feed_data_ack_topic, ...this.#handlers.keys()];
    this.#link = new MqttLink({
        api,
        tokens,
        catalog,
        ca: this.#deps.ca,
        clock,
        logger,
        topics,
        onOnline: (session) => {
          this.#outbox.attach(session);
          this.events.emit("online", { broker: catalog.mqtt.broker_url });
          void this.#reconcile(api, tokens);
        },
        onOffline: () => {
          this.#outbox.detach();
          this.events.emit("offline", {});
        },
        onMessage: (topic, payload) => this.#onMessage(topic, payload),
        backoff: this.#backoff,
      });
    return this.#link.run(this.#abort.signal);
  }

  /** What the runtime is doing now. */
  status(): RuntimeStatus {
    return {
      transport: this.#transport,
      broker: this.#catalog?.mqtt.broker_url,
      link: this.#link?.status,
      token: this.#tokens?.lifetime,
      outbox: { depth: this.#outbox.depth, oldestAt: this.#deps.store.oldestOutboxAt(), stats: this.#outbox.stats },
    };
  }

  /** Every bound route, with what its line reads now. */
  async routeViews(): Promise<RouteView[]> {
    const views: RouteView[] = [];
    for (const binding of this.#bindings) {
      const { config, route } = binding;
      const actuator = this.#actuators.get(routeKey(config));
      const sensor = this.#sensorLines.get(binding.key);
      const value = actuator ? await actuator.read() : sensor ? await sensor.getValue().catch(() => undefined) : undefined;
      views.push({
        key: binding.key,
        name: binding.name,
        type: route.source_type === "command" ? "command" : "sensor",
        kind: route.kind,
        pinPort: route.pin_port,
        source: config.line === undefined ? `file ${config.file?.path}` : describeRef(config.line),
        physical: value === undefined ? undefined : value === 1 ? "1.0" : "0.0",
      });
    }
    return views;
  }

  /**
   * Sets a command route's line from the device itself (a wall switch, the console's toggle): the
   * same path as a physical change, so the cloud gets a report without a desired_id.
   */
  async setLocal(key: string, value: 0 | 1): Promise<string> {
    const binding = this.#bindings.find((candidate) => candidate.key === key);
    const actuator = binding && this.#actuators.get(routeKey(binding.config));
    if (!binding || !actuator) throw new RealerError("not-found", `Cannot set route ${key}: no command route with a line has that key`);
    const observed = await actuator.apply(value, "local");
    return observed === 1 ? "1.0" : "0.0";
  }

  /** Asks a start in progress (retrying an unreachable API, say) or a running loop to end. */
  requestStop(): void {
    this.#abort.abort(new RealerError("network", "Cannot finish starting: the runtime was asked to stop"));
  }

  /** Whether a stop was asked for. */
  get stopRequested(): boolean {
    return this.#abort.signal.aborted;
  }

  /** Stops MQTT, sensor timers and releases every line. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
    for (const sensor of this.#sensors) sensor.stop();
    for (const sensor of this.#fileSensors) sensor.stop();
    this.#outbox.detach();
    for (const actuator of this.#actuators.values()) await actuator.shutdown();
    this.#actuators.clear();
    for (const line of this.#lines.splice(0)) await line.release().catch(() => {});
    this.#deps.logger.info("runtime.stopped", { outbox_depth: this.#outbox.depth });
  }

  async #firstCatalog(api: ApiClient, tokens: TokenSource): Promise<Catalog> {
    const { config, clock, logger } = this.#deps;
    for (let attempt = 0;; attempt++) {
      try {
        return await withToken(tokens, (token) => fetchCatalog(api, token, config.device_id));
      } catch (error) {
        if (this.#abort.signal.aborted) throw error;
        // A refused client (wrong secret) at start is a setup mistake: say so and exit.
        if (error instanceof HttpError && error.url.endsWith("/oauth/token") && (error.status === 400 || error.status === 401)) throw error;
        const decision = decideRetry(error, attempt, this.#backoff);
        if (!decision.retry) throw error;
        if (decision.slow) logger.error("subscription.inactive", { error: describeError(error), in_ms: decision.delayMs });
        else logger.warn("catalog.retry", { error: describeError(error), in_ms: decision.delayMs });
        await clock.sleep(decision.delayMs, this.#abort.signal);
      }
    }
  }

  /**
   * Claims every output whose direction is known (from the config, or from the catalog of an
   * earlier run) before the network: the power-on policy decides its value, set in the same
   * request that claims it. A device that boots offline has its relays where they belong.
   */
  async #claimOutputsAtBoot(): Promise<void> {
    const { config, store } = this.#deps;
    for (const route of config.routes) {
      if (route.line === undefined) continue;
      const direction = route.direction ?? store.direction(routeKey(route));
      if (direction === "output") await this.#claimActuator(route);
    }
  }

  async #claimActuator(route: RouteConfig): Promise<Actuator> {
    const { backend, store, clock, logger } = this.#deps;
    let interlock: InterlockGroup | undefined;
    if (route.interlock !== undefined) {
      interlock = this.#interlocks.get(route.interlock) ?? new InterlockGroup(route.interlock, clock, logger);
      this.#interlocks.set(route.interlock, interlock);
    }
    const actuator = await Actuator.claim(backend, route, { store, clock, logger, interlock });
    this.#actuators.set(actuator.key, actuator);
    return actuator;
  }

  async #claimLines(bindings: readonly Binding[]): Promise<void> {
    const { backend, logger } = this.#deps;
    for (const binding of bindings) {
      const { config, route } = binding;
      const key = routeKey(config);
      if (route.source_type === "command") {
        if (!route.mqtt.desired_topic) {
          logger.warn("route.no_desired_topic", { route: binding.name });
        }
        if (config.line === undefined) {
          logger.error("route.needs_line", { route: binding.name, note: "a command route needs a line, not a file; it stays unserved" });
          continue;
        }
        const actuator = this.#actuators.get(key) ?? await this.#claimActuator(config);
        actuator.onLocalChange((change) => this.#reportLocal(binding, change));
        const handler = new DesiredHandler({
          store: this.#deps.store,
          outbox: this.#outbox,
          clock: this.#deps.clock,
          logger,
          onOutcome: (outcome) => this.events.emit("desired", outcome),
        }, binding, actuator);
        if (route.source_id !== undefined) this.#handlersBySource.set(route.source_id, handler);
        if (route.mqtt.desired_topic) this.#handlersByTopic.set(route.mqtt.desired_topic, handler);
        logger.info("line.claimed", { route: binding.name, line: describeRef(config.line), direction: "output" });
        continue;
      }
      const early = this.#actuators.get(key);
      if (early) {
        // The config or an earlier catalog said output; this catalog says sensor. The catalog wins.
        logger.error("route.direction_changed", { route: binding.name, note: "claimed as an output at boot, but the catalog makes it a sensor route; reclaiming it as an input" });
        await early.shutdown();
        this.#actuators.delete(key);
      }
      if (config.file !== undefined) {
        const sensor = new FileSensor({
          config,
          name: binding.name,
          clock: this.#deps.clock,
          logger,
          report: (value, observedAt) => this.#reportReading(binding, value, observedAt),
        });
        await sensor.start();
        this.#fileSensors.push(sensor);
        logger.info("sensor.file", { route: binding.name, path: config.file.path });
        continue;
      }
      const ref: LineRef = config.line!;
      const line = await backend.requestLine(ref, {
        direction: "input",
        activeLow: config.active_low,
        bias: config.bias,
        edge: "both",
        debounceMs: config.debounce_ms,
      }, "realer-edge");
      this.#lines.push(line);
      this.#sensorLines.set(binding.key, line);
      const reader = new SensorReader({
        binding,
        line,
        outbox: this.#outbox,
        clock: this.#deps.clock,
        logger,
        onReading: (reading) => this.events.emit("reading", reading),
      });
      await reader.start();
      this.#sensors.push(reader);
      logger.info("line.claimed", { route: binding.name, line: describeRef(ref), direction: "input" });
    }
  }

  /** A sensor value from a file source, into the outbox. */
  #reportReading(binding: Binding, value: string, observedAt: number): void {
    const payload = { message_id: newMessageId("sensor", observedAt), value, value_received_at: new Date(observedAt).toISOString() };
    this.#outbox.enqueue(binding.route.mqtt.feed_data_topic, 1, payload);
    this.#deps.logger.info("sensor.reading", { route: binding.name, value, cause: "sample", message_id: payload.message_id });
    this.events.emit("reading", { route: binding.key, value, messageId: payload.message_id, observedAt });
  }

  /** An output that changed by itself is a local physical change: a report without desired_id. */
  #reportLocal(binding: Binding, change: LocalChange): void {
    const value = change.value === 1 ? "1.0" : "0.0";
    const payload = { message_id: newMessageId("command", change.at), value, value_received_at: new Date(change.at).toISOString() };
    this.#outbox.enqueue(binding.route.mqtt.feed_data_topic, 0, payload);
    this.#deps.logger.info("line.local_change", { route: binding.name, value, cause: change.cause, message_id: payload.message_id });
    this.events.emit("local", { route: binding.key, value, cause: change.cause, messageId: payload.message_id, at: change.at });
  }

  /**
   * After each connect, reads the open desired states over HTTPS once and hands them to the same
   * handlers: a request published before the device's first session (which no broker can queue)
   * or lost with a session still gets answered. The ledger makes a second delivery of the same
   * desired_id harmless, and sequence numbers keep the order.
   */
  async #reconcile(api: ApiClient, tokens: TokenSource): Promise<void> {
    const { config, logger } = this.#deps;
    try {
      const open = await withToken(tokens, (token) => fetchDesiredStates(api, token, config.device_id));
      if (open.length > 0) logger.info("desired.reconciling", { open: open.length, note: "open at connect, read over HTTPS" });
      await handleDesiredStates(open, this.#handlersBySource, logger);
    } catch (error) {
      logger.debug("desired.reconcile_skipped", { error: describeError(error) });
    }
  }

  /** Resolves once the message is handled: for a desired state, once its answer is recorded. */
  #onMessage(topic: string, payload: Uint8Array): Promise<void> | undefined {
    const { logger } = this.#deps;
    if (topic === this.#catalog?.mqtt.feed_data_ack_topic) {
      const ack = parsePayload(AckSchema, payload);
      if (!ack.ok) {
        logger.error("ack.invalid", { topic, error: ack.error });
        return undefined;
      }
      this.#outbox.settle(ack.value);
      return undefined;
    }
    const handler = this.#handlers.get(topic);
    if (handler) return handler.handle(payload);
    logger.warn("mqtt.unexpected_topic", { topic });
    return undefined;
  }
}
