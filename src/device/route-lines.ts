// The routes' hardware: outputs claimed at boot by their power-on policy or once the catalog
// names them, inputs watched, file sensors sampled; each bound route's handler, its local
// changes and readings into the outbox; and everything given back at the end.
import type { Clock } from "../clock.ts";
import { type Config, type FileRouteConfig, type RouteConfig, routeKey, routeSource } from "../config/schema.ts";
import { RealerError } from "../errors.ts";
import type { Emitter } from "../events.ts";
import type { Faults } from "../faults.ts";
import { type GpioBackend, type LineRef, type LineRequest, lineWord } from "../hal/types.ts";
import type { Logger } from "../log.ts";
import { Actuator, type LocalChange } from "./actuator.ts";
import type { Binding } from "./bindings.ts";
import { DesiredHandler, type DesiredHandlerOptions, type Output } from "./desired-handler.ts";
import type { CatalogRoute } from "../cloud/catalog.ts";
import { DesiredRoutes } from "./desired-routes.ts";
import { deviceLedger } from "./ledger.ts";
import { FileSensor } from "./file-sensor.ts";
import { InterlockGroup } from "./interlock.ts";
import { newMessageId } from "./message-id.ts";
import type { Outbox } from "../outbox/outbox.ts";
import { formatLineValue } from "./values.ts";
import type { RuntimeEvents } from "./runtime-events.ts";
import { SensorReader } from "./sensor-reader.ts";
import type { DeviceStore } from "../state/store.ts";

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

/** What {@linkcode RouteLines} works with. */
export interface RouteLinesDeps {
  readonly config: Config;
  readonly backend: GpioBackend;
  readonly store: DeviceStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly outbox: Outbox;
  readonly events: Emitter<RuntimeEvents>;
  readonly faults: Faults;
  /** The time to judge desired states' expiry by; the wall clock without it. */
  readonly time?: { now(): number | undefined } | undefined;
}

/** The lines, sensors and handlers of every configured route. */
export class RouteLines {
  /** The command routes' desired-state handlers. */
  readonly desired = new DesiredRoutes();
  readonly #deps: RouteLinesDeps;
  readonly #lines: LineRequest[] = [];
  /** Outputs by route key; claimed at boot when their direction is known, else after the catalog. */
  readonly #actuators = new Map<string, Actuator>();
  readonly #interlocks = new Map<string, InterlockGroup>();
  readonly #sensors: SensorReader[] = [];
  readonly #fileSensors: FileSensor[] = [];
  readonly #sensorLines = new Map<string, LineRequest>();
  readonly #bindings: Binding[] = [];

  constructor(deps: RouteLinesDeps) {
    this.#deps = deps;
  }

  /**
   * Claims every output whose direction is known (from the config, or from the catalog of an
   * earlier run) before the network: the power-on policy decides its value, set in the same
   * request that claims it. A device that boots offline has its relays where they belong.
   */
  async claimOutputsAtBoot(): Promise<void> {
    const { config, store } = this.#deps;
    for (const route of config.routes) {
      if (route.line === undefined) continue;
      const direction = route.direction ?? store.lines.direction(routeKey(route));
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

  async claim(bindings: readonly Binding[]): Promise<void> {
    for (const binding of bindings) {
      if (binding.route.source_type === "command") await this.#claimCommand(binding);
      else {
        await this.#releaseEarlyOutput(binding);
        const { config } = binding;
        if (config.file !== undefined) await this.#startFileSensor(binding, config);
        else await this.#claimInput(binding, config.line);
      }
    }
    this.#bindings.push(...bindings);
    try {
      for (const binding of bindings) {
        this.#deps.store.lines.saveDirection(routeKey(binding.config), binding.route.source_type === "command" ? "output" : "input");
      }
    } catch (error) {
      // Only the next boot's early claim needs it; the store logs its own failure.
      this.#deps.logger.debug("route.direction_not_saved", { error: String(error) });
    }
  }

  /** A command route: its output (claimed at boot already, or now) and its desired-state handler. */
  async #claimCommand(binding: Binding): Promise<void> {
    const { logger } = this.#deps;
    const { config, route } = binding;
    if (!route.mqtt.desired_topic) logger.warn("route.no_desired_topic", { route: binding.name });
    if (config.line === undefined) {
      logger.error("route.needs_line", { route: binding.name, note: "a command route needs a line, not a file; it stays unserved" });
      return;
    }
    const actuator = this.#actuators.get(routeKey(config)) ?? await this.#claimActuator(config);
    actuator.onLocalChange((change) => this.#reportLocal(binding, change));
    const handler = new DesiredHandler(this.#handlerOptions(), binding, actuator);
    this.desired.add(route, handler);
    logger.info("line.claimed", { route: binding.name, line: lineWord(config.line), direction: "output" });
  }

  /**
   * Catalog command routes the config binds to no line still get their answer: each desired state
   * is answered `rejected` (spec 5.3, an unknown route) with "0.0", since nothing drives them, and
   * the gap is logged once per route when the first one comes.
   */
  serveUnbound(routes: readonly CatalogRoute[]): void {
    for (const route of routes) {
      if (route.source_type !== "command" || !route.mqtt.desired_topic) continue;
      const key = route.mqtt.feed_data_topic;
      const name = route.source_id ?? route.pin_port ?? key;
      const unserved: Output = {
        key: `unbound:${key}`,
        unserved: "no line is configured for this route",
        written: 0,
        read: () => Promise.resolve(0),
        apply: () => Promise.reject(new RealerError("config", `Cannot set route ${name}: no line is configured for it`)),
      };
      this.desired.add(route, new DesiredHandler(this.#handlerOptions(), { route, key, name }, unserved));
    }
  }

  /** A sensor route's line claimed as an output at boot (the config or an earlier catalog said so): the catalog wins. */
  async #releaseEarlyOutput(binding: Binding): Promise<void> {
    const key = routeKey(binding.config);
    const early = this.#actuators.get(key);
    if (!early) return;
    this.#deps.logger.error("route.direction_changed", {
      route: binding.name,
      note: "claimed as an output at boot, but the catalog makes it a sensor route; reclaiming it as an input",
    });
    await early.shutdown();
    this.#actuators.delete(key);
  }

  /** A sensor read from a file (a 1-Wire thermometer, a value another program writes). */
  async #startFileSensor(binding: Binding, config: FileRouteConfig): Promise<void> {
    const sensor = new FileSensor({
      config,
      name: binding.name,
      clock: this.#deps.clock,
      logger: this.#deps.logger,
      report: (value, observedAt) => this.#reportReading(binding, value, observedAt),
    });
    await sensor.start();
    this.#fileSensors.push(sensor);
    this.#deps.logger.info("sensor.file", { route: binding.name, path: config.file.path });
  }

  /** A sensor on an input line, with its edges (and samples) reported as readings. */
  async #claimInput(binding: Binding, ref: LineRef): Promise<void> {
    const { config } = binding;
    const line = await this.#deps.backend.requestLine(ref, {
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
      outbox: this.#deps.outbox,
      clock: this.#deps.clock,
      logger: this.#deps.logger,
      faults: this.#deps.faults,
      onReading: (reading) => this.#deps.events.emit("reading", reading),
    });
    await reader.start();
    this.#sensors.push(reader);
    this.#deps.logger.info("line.claimed", { route: binding.name, line: lineWord(ref), direction: "input" });
  }

  /** A sensor value from a file source, into the outbox. */
  #reportReading(binding: Binding, value: string, observedAt: number): void {
    const payload = { message_id: newMessageId("sensor", observedAt), value, value_received_at: new Date(observedAt).toISOString() };
    this.#deps.outbox.enqueue(binding.route.mqtt.feed_data_topic, 1, payload);
    this.#deps.logger.info("sensor.reading", { route: binding.name, value, cause: "sample", message_id: payload.message_id });
    this.#deps.events.emit("reading", { route: binding.key, value, messageId: payload.message_id, observedAt });
  }

  /** An output that changed by itself is a local physical change: a report without desired_id. */
  #reportLocal(binding: Binding, change: LocalChange): void {
    const value = formatLineValue(change.value);
    const payload = { message_id: newMessageId("command", change.at), value, value_received_at: new Date(change.at).toISOString() };
    this.#deps.outbox.enqueue(binding.route.mqtt.feed_data_topic, 0, payload);
    this.#deps.logger.info("line.local_change", { route: binding.name, value, cause: change.cause, message_id: payload.message_id });
    this.#deps.events.emit("local", { route: binding.key, value, cause: change.cause, messageId: payload.message_id, at: change.at });
  }

  #handlerOptions(): DesiredHandlerOptions {
    return {
      ledger: deviceLedger(this.#deps.store, this.#deps.outbox),
      clock: this.#deps.clock,
      logger: this.#deps.logger,
      onOutcome: (outcome) => this.#deps.events.emit("desired", outcome),
      ...(this.#deps.time ? { time: this.#deps.time } : {}),
    };
  }

  /** The outputs claimed now. */
  outputs(): Iterable<Actuator> {
    return this.#actuators.values();
  }

  /** Every bound route, with what its line reads now. */
  async views(): Promise<RouteView[]> {
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
        source: routeSource(config),
        physical: value === undefined ? undefined : formatLineValue(value),
      });
    }
    return views;
  }

  /** Sets a command route's line from the device itself: reported as a local change. */
  async setLocal(key: string, value: 0 | 1): Promise<string> {
    const binding = this.#bindings.find((candidate) => candidate.key === key);
    const actuator = binding && this.#actuators.get(routeKey(binding.config));
    if (!binding || !actuator) throw new RealerError("not-found", `Cannot set route ${key}: no command route with a line has that key`);
    const observed = await actuator.apply(value, "local");
    return formatLineValue(observed);
  }

  /** Stops the sensors, applies each output's shutdown policy and gives every line back. */
  async release(): Promise<void> {
    for (const sensor of this.#sensors) sensor.stop();
    for (const sensor of this.#fileSensors) sensor.stop();
    for (const actuator of this.#actuators.values()) await actuator.shutdown();
    this.#actuators.clear();
    for (const line of this.#lines.splice(0)) {
      await line.release().catch((error: unknown) =>
        this.#deps.logger.warn("line.release_failed", { line: lineWord(line), error: String(error) })
      );
    }
  }
}
