import { ApiClient } from "../cloud/api-client.ts";
import { BUILD_FAULT } from "../build-fault.ts";
import { type Catalog, fetchCatalog } from "../cloud/catalog.ts";
import { type Bootstrap, fetchBootstrap, fetchDesiredStates } from "../cloud/https-api.ts";
import { FIRST_SCOPES, HTTPS_RUNTIME_SCOPES, TokenSource, withToken } from "../cloud/oauth.ts";
import { type BackoffSettings, decideRetry, DEFAULT_BACKOFF, reportRetry, type RetryClass, troubleOf } from "../cloud/retry-policy.ts";
import { describeError, HttpError, RealerError } from "../errors.ts";
import type { Emitter } from "../events.ts";
import type { Faults } from "../faults.ts";
import { handleDesiredStates, HttpsLink } from "../https/link.ts";
import { type LinkStatus, MqttLink } from "../mqtt/link.ts";
import { AckSchema, parseMessage } from "../mqtt/messages.ts";
import { loadMqtt } from "../mqtt/session.ts";
import type { Outbox } from "../outbox/outbox.ts";
import type { OutboxStats } from "../outbox/types.ts";
import { bindRoutes } from "./bindings.ts";
import type { FailSafes } from "./failsafe.ts";
import type { RouteLines, RouteView } from "./route-lines.ts";
import type { RuntimeEvents } from "./runtime-events.ts";
import type { TimeKeeper } from "./time-keeper.ts";
import type { RuntimeDeps, RuntimeParts, RuntimeStatus, TransportStart } from "./runtime-types.ts";

export type { RuntimeDeps, RuntimeParts, RuntimeStatus } from "./runtime-types.ts";
export type { RuntimeEvents } from "./runtime-events.ts";
export type { RouteView } from "./route-lines.ts";

/**
 * The device: token, catalog, lines claimed for each bound route, then MQTT. Desired states are
 * applied before they are acknowledged; sensor changes become feed data; everything sent waits
 * in the durable outbox until its application ack.
 */
export class DeviceRuntime {
  readonly events: Emitter<RuntimeEvents>;
  /** Repeating failures, logged at most once a minute each and counted for /metrics. */
  readonly faults: Faults;
  readonly #deps: RuntimeDeps;
  #trouble: string | undefined;
  #unacknowledged = 0;
  readonly #abort = new AbortController();
  #transport: "mqtt" | "https" | undefined;
  readonly #outbox: Outbox;
  readonly #routes: RouteLines;
  #link: MqttLink | undefined;
  #running: Promise<void> | undefined;
  readonly #failsafes: FailSafes;
  readonly #time: TimeKeeper | undefined;
  /** Reconciliations under way: stop() waits for them, so none reaches the cloud or a line after it. */
  readonly #reconciling = new Set<Promise<void>>();
  #catalog: Catalog | undefined;
  #tokens: TokenSource | undefined;
  readonly #backoff: BackoffSettings;

  /** Only assigns: the parts are built and wired in `buildRuntime` (src/device/compose.ts). */
  constructor(deps: RuntimeDeps, parts: RuntimeParts) {
    this.#deps = deps;
    this.faults = parts.faults;
    this.events = parts.events;
    this.#backoff = deps.backoff ?? DEFAULT_BACKOFF;
    this.#time = parts.time;
    this.#outbox = parts.outbox;
    this.#routes = parts.routes;
    this.#failsafes = parts.failsafes;
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
   * Claims the outputs it can at boot, authenticates, reads the catalog, claims the rest of the
   * lines and starts MQTT in the background. Resolves once lines are claimed; keeps retrying
   * whatever the cloud answers (a wrong secret included, slowly) and throws only on a local
   * fault (a line that cannot be claimed) or a stop.
   */
  async start(): Promise<void> {
    const { config, logger, clock } = this.#deps;
    await this.#routes.claimAtBoot();
    // No link yet: the fail-safes count from the start, whatever keeps the cloud away.
    this.#failsafes.linkDown(clock.now());
    const api = new ApiClient(config.api_url, this.#deps.fetch, 15_000, this.#abort.signal);
    if (this.#time) api.onServerDate = (date, sentAt, receivedAt) => this.#time!.serverDate(date, sentAt, receivedAt);
    const tokens = new TokenSource({
      api,
      clientId: config.client_id,
      clientSecret: this.#deps.clientSecret,
      scopes: FIRST_SCOPES,
      clock,
      logger,
    });
    this.#tokens = tokens;
    const firstCatalog = this.#firstCatalog(api, tokens);
    // MQTT.js is evaluated while the first requests are on the wire, not before the outputs'
    // claim; a failure to load shows at the connect, which tries again.
    loadMqtt().catch(() => undefined);
    const catalog = await firstCatalog;
    this.#catalog = catalog;
    logger.info("catalog.loaded", {
      routes: catalog.mqtt_routes.length,
      broker: catalog.mqtt.broker_url,
      mqtt: catalog.mqtt.credential_endpoint ? "offered" : "not offered",
    });
    // Asked for while the lines are claimed: start-up waits for one round trip the less.
    const bootstrapping = this.#bootstrap(api, tokens);
    const limits = catalog.mqtt.limits;
    this.#outbox.configure({
      ...(limits.max_inflight === undefined ? {} : { maxInflight: limits.max_inflight }),
      ...(limits.max_publish_per_second === undefined ? {} : { maxPublishPerSecond: limits.max_publish_per_second }),
      ...(limits.max_payload_bytes === undefined ? {} : { maxPayloadBytes: limits.max_payload_bytes }),
    });
    const { bindings, unbound, unused } = bindRoutes(catalog.mqtt_routes, config.routes);
    for (const binding of bindings) if (binding.config.latest_value) this.#outbox.keepLatestOnly(binding.route.mqtt.feed_data_topic);
    for (const route of unbound) {
      logger.warn("route.unbound", {
        source_id: route.source_id,
        pin_port: route.pin_port,
        topic: route.mqtt.feed_data_topic,
        note: route.source_type === "command"
          ? "no line in the config: its desired states are answered rejected"
          : "no line in the config: it is never reported",
      });
    }
    for (const entry of unused) {
      logger.warn("route.unused", { source_id: entry.source_id, pin_port: entry.pin_port, note: "names no route in the catalog" });
    }
    await this.#routes.claim(bindings);
    this.#routes.serveUnbound(unbound);
    this.#failsafes.refresh();
    const bootstrap = await bootstrapping;
    const mqttAllowed = catalog.mqtt.credential_endpoint !== undefined && (bootstrap?.available_protocols.includes("mqtt") ?? true);
    const transports = { api, tokens, catalog, bindings, mqttAllowed, cadenceS: bootstrap?.cadence.desired_state_poll_seconds };
    this.#running = this.#runTransports(transports).catch(
      (error: unknown) => {
        // Every cloud failure is retried inside the links; reaching here is a fault of ours. Lines,
        // outbox and ledger stay as they are; the service manager's watchdog and restart take over.
        if (!this.#abort.signal.aborted) logger.error("runtime.transport_failed", { error: describeError(error) });
      },
    );
  }

  /** The bootstrap descriptor where the server answers it; a 404 means an older server. */
  async #bootstrap(api: ApiClient, tokens: TokenSource): Promise<Bootstrap | undefined> {
    const { config, logger } = this.#deps;
    try {
      const bootstrap = await withToken(tokens, (token) => fetchBootstrap(api, token, config.device_id));
      logger.info("bootstrap.loaded", {
        protocols: bootstrap.available_protocols.join(","),
        catalog_revision: String(bootstrap.catalog_revision),
        runtime_revision: String(bootstrap.runtime_revision),
      });
      return bootstrap;
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) {
        logger.info("bootstrap.absent", { note: "an older server: the MQTT catalog decides" });
      } else logger.warn("bootstrap.failed", { error: describeError(error), note: "the MQTT catalog decides" });
      return undefined;
    }
  }

  /** HTTPS until MQTT is offered, then MQTT, until stopped. */
  async #runTransports(start: TransportStart): Promise<void> {
    const { config, clock, logger } = this.#deps;
    const { api, tokens, mqttAllowed, cadenceS } = start;
    let catalog: Catalog | undefined = start.catalog;
    if (!mqttAllowed) {
      // Asked for only now: a device that MQTT serves never holds HTTPS write access.
      tokens.require(HTTPS_RUNTIME_SCOPES);
      const https = new HttpsLink({
        api,
        tokens,
        deviceId: config.device_id,
        routes: start.bindings.map((binding) => binding.route),
        desired: this.#routes.desired,
        outbox: this.#outbox,
        clock,
        logger,
        backoff: this.#backoff,
        pollMs: Math.max(config.https.poll_interval_s, cadenceS ?? 0) * 1000,
        catalogCheckMs: config.https.catalog_check_s * 1000,
        onTrouble: (trouble, retryClass) => this.#setTrouble(trouble, retryClass),
        onLink: (working) => (working ? this.#failsafes.linkUp() : this.#failsafes.linkDown()),
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
    // A test release built never to connect waits for its stop instead (src/build-fault.ts).
    if (BUILD_FAULT === "never-connect") {
      return new Promise((resolve) => this.#abort.signal.addEventListener("abort", () => resolve(), { once: true }));
    }
    // Desired topics come from this catalog; the handlers were built per route, found by source_id.
    const topics = [catalog.mqtt.feed_data_ack_topic, ...this.#routes.desired.useCatalog(catalog)];
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
        // The fail-safes follow the link: armed while it is down, disarmed once it works.
        this.#failsafes.linkUp();
        this.events.emit("online", { broker: catalog.mqtt.broker_url });
        this.#track(this.#reconcile(api, tokens));
      },
      onOffline: () => {
        this.#outbox.detach();
        this.#failsafes.linkDown();
        this.events.emit("offline", {});
      },
      onMessage: (topic, message) => this.#onMessage(topic, message),
      onUnacknowledged: () => this.#unacknowledged++,
      onTrouble: (trouble, retryClass) => this.#setTrouble(trouble, retryClass),
      backoff: this.#backoff,
    });
    return this.#link.run(this.#abort.signal);
  }

  /** Config entries that should drive an output by now and have none claimed (see `RouteLines.unclaimedOutputs`). */
  unclaimedOutputs(): string[] {
    return this.#routes.unclaimedOutputs();
  }

  /** What the runtime is doing now. */
  status(): RuntimeStatus {
    return {
      transport: this.#transport,
      broker: this.#catalog?.mqtt.broker_url,
      link: this.#link?.status,
      token: this.#tokens?.lifetime,
      outbox: { depth: this.#outbox.depth, oldestAt: this.#oldestAt(), stats: this.#outbox.stats },
      storage: this.#deps.store.health,
      trouble: this.#trouble,
      unacknowledged: this.#unacknowledged,
      faults: this.faults.counts(),
      failsafes: this.#failsafes.status(),
      outputs: [...this.#routes.outputs()].map((output) => ({ route: output.key, value: output.written, drifts: output.drifts })),
      time: this.#time?.status().source ?? "wall clock",
    };
  }

  #oldestAt(): number | undefined {
    try {
      return this.#deps.store.outbox.oldestAt();
    } catch {
      return undefined;
    }
  }

  /** Notes what keeps the device from its cloud, for sd_notify STATUS and the console. */
  #setTrouble(trouble: string | undefined, retryClass?: RetryClass): void {
    // 4002: the spec asks for safe local behaviour; outputs that follow that policy go safe now.
    if (retryClass === "slow") this.#failsafes.subscriptionInactive();
    if (trouble === this.#trouble) return;
    this.#trouble = trouble;
    this.events.emit("trouble", { text: trouble });
  }

  /** Every bound route, with what its line reads now. */
  routeViews(): Promise<RouteView[]> {
    return this.#routes.views();
  }

  /**
   * Sets a command route's line from the device itself (a wall switch, the console's toggle): the
   * same path as a physical change, so the cloud gets a report without a desired_id.
   */
  setLocal(key: string, value: number): Promise<string> {
    return this.#routes.setLocal(key, value);
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
    this.#failsafes.stop();
    await this.#running;
    await Promise.all(this.#reconciling);
    this.#outbox.close();
    this.#routes.desired.close();
    await this.#routes.release();
    this.#deps.logger.info("runtime.stopped", { outbox_depth: this.#outbox.depth });
  }

  /** The catalog, however long it takes: nothing the cloud answers ends the start, only a stop. */
  async #firstCatalog(api: ApiClient, tokens: TokenSource): Promise<Catalog> {
    const { config, clock, logger } = this.#deps;
    for (let attempt = 0;; attempt++) {
      try {
        const catalog = await withToken(tokens, (token) => fetchCatalog(api, token, config.device_id));
        this.#setTrouble(undefined);
        return catalog;
      } catch (error) {
        if (this.#abort.signal.aborted) throw error;
        const decision = decideRetry(error, attempt, this.#backoff);
        reportRetry(logger, "catalog.retry", error, decision);
        this.#setTrouble(troubleOf(error, decision), decision.class);
        await clock.sleep(decision.delayMs, this.#abort.signal);
      }
    }
  }

  #track(work: Promise<void>): void {
    this.#reconciling.add(work);
    void work.finally(() => this.#reconciling.delete(work));
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
      if (this.#abort.signal.aborted) return;
      if (open.length > 0) logger.info("desired.reconciling", { open: open.length, note: "open at connect, read over HTTPS" });
      await handleDesiredStates(open, this.#routes.desired, logger);
    } catch (error) {
      logger.debug("desired.reconcile_skipped", { error: describeError(error) });
    }
  }

  /** Resolves once the message is handled: for a desired state, once its answer is recorded. */
  #onMessage(topic: string, message: unknown): Promise<void> | undefined {
    const { logger } = this.#deps;
    if (topic === this.#catalog?.mqtt.feed_data_ack_topic) {
      const ack = parseMessage(AckSchema, message);
      if (!ack.ok) {
        logger.error("ack.invalid", { topic, error: ack.error });
        return undefined;
      }
      this.#outbox.settle(ack.value);
      return undefined;
    }
    const handler = this.#routes.desired.byTopic(topic);
    // A test release built to leave desired states unanswered: not acknowledged, so the broker keeps them.
    if (handler && BUILD_FAULT === "desired-unanswered") {
      return Promise.reject(new Error("this test release leaves desired states unanswered"));
    }
    if (handler) return handler.handle(message);
    logger.warn("mqtt.unexpected_topic", { topic });
    return undefined;
  }
}
