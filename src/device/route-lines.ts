// The routes' hardware: outputs claimed at boot by their power-on policy or once the catalog
// names them, inputs watched, file sensors sampled; each bound route's handler, its local
// changes and readings into the outbox; and everything given back at the end.
import type { Clock } from "../clock.ts";
import { type Config, type FileRouteConfig, type RouteConfig, routeKey, routeSource } from "../config/schema.ts";
import { RealerError } from "../errors.ts";
import type { Emitter } from "../events.ts";
import type { Faults } from "../faults.ts";
import { type GpioBackend, type LineRef, type LineRequest, lineWord } from "../hal/types.ts";
import type { PwmBackend } from "../hal/pwm/types.ts";
import type { Logger } from "../log.ts";
import { Actuator, type LocalChange, type OutputConfig, type PowerOnChoice } from "./actuator.ts";
import type { OutputHardware } from "./output-driver.ts";
import { LINE_SCALE } from "./value-scale.ts";
import type { Binding } from "./bindings.ts";
import { DesiredHandler, type DesiredHandlerOptions, type Output } from "./desired-handler.ts";
import type { CatalogRoute } from "../cloud/catalog.ts";
import { DesiredRoutes } from "./desired-routes.ts";
import { deviceLedger } from "./ledger.ts";
import { FileSensor } from "./file-sensor.ts";
import { InterlockGroup } from "./interlock.ts";
import { newMessageId } from "./message-id.ts";
import type { Outbox } from "../outbox/outbox.ts";
import type { RuntimeEvents } from "./runtime-events.ts";
import { boundRoute, type ReportedRoute, SensorReader } from "./sensor-reader.ts";
import { LocalControl } from "./local-control.ts";
import { PLACEHOLDER_PREFIX, RouteTopics } from "./route-topics.ts";
import { namesEntry } from "../config/controls.ts";
import { type RouteView, routeViews } from "./route-views.ts";

export type { RouteView } from "./route-views.ts";
import type { DeviceStore } from "../state/store.ts";

/** What {@linkcode RouteLines} works with. */
export interface RouteLinesDeps {
  readonly config: Config;
  readonly backend: GpioBackend;
  /** The PWM backend, opened when the first PWM route is claimed. */
  readonly pwm: () => Promise<PwmBackend>;
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
  /** Where each route reports: placeholders until the catalog binds it. */
  readonly #topics = new RouteTopics();
  /** Inputs that control an output, claimed at boot, by route key. */
  readonly #controlInputs = new Map<string, LineRequest>();
  readonly #controls: LocalControl[] = [];
  /** Config entries the catalog made command routes, claimed or not (see `unclaimedOutputs`). */
  readonly #commandKeys = new Set<string>();
  /** Outputs whose local changes are reported since boot (they drive or are driven on the board). */
  readonly #reportedSinceBoot = new Set<string>();

  constructor(deps: RouteLinesDeps) {
    this.#deps = deps;
  }

  /**
   * Before the network: claims each input that controls an output, then every output whose
   * direction is known (from the config, from an earlier run's catalog, or because an input
   * controls it), with its power-on value in the same request (an output in `follow` takes its
   * switch's position), then starts the local controls. A device that boots offline has its
   * relays where they belong, and its wall buttons work.
   */
  async claimAtBoot(): Promise<void> {
    const { config, store } = this.#deps;
    const controllers = config.routes.filter((route) => route.controls !== undefined && route.line !== undefined);
    for (const route of controllers) this.#controlInputs.set(routeKey(route), await this.#requestInput(route, route.line!));
    for (const route of config.routes) {
      if (route.file !== undefined || route.controls !== undefined) continue;
      const controller = controllers.find((input) => namesEntry(route, input.controls!.output));
      const direction = route.direction ?? (controller || route.pwm ? "output" : store.lines.direction(routeKey(route)));
      if (direction !== "output") continue;
      const switchLine = controller?.controls?.mode === "follow" ? this.#controlInputs.get(routeKey(controller)) : undefined;
      const powerOn: PowerOnChoice | undefined = switchLine
        ? { value: await switchLine.getValue() === 1 ? "on" : "off", reason: `follows ${routeKey(controller!)}, as it stands` }
        : undefined;
      await this.#claimActuator(route, powerOn);
    }
    for (const route of controllers) await this.#startControl(route);
  }

  /** An input's local control (first on its line, so the output's write goes before anything else) and its readings. */
  async #startControl(route: RouteConfig): Promise<void> {
    const { logger, config, clock } = this.#deps;
    const key = routeKey(route);
    const line = this.#controlInputs.get(key)!;
    const controls = route.controls!;
    const target = config.routes.find((entry) => namesEntry(entry, controls.output))!;
    const output = this.#actuators.get(routeKey(target));
    if (!output) {
      logger.error("local.no_output", {
        input: key,
        output: controls.output,
        note: "the output could not be claimed; the input only reports",
      });
    } else {
      const control = new LocalControl({
        input: key,
        line,
        output,
        mode: controls.mode,
        logger,
        onAction: (action) => this.#deps.events.emit("control", action),
      });
      control.start();
      this.#controls.push(control);
      this.#reportChangesOf(output, { name: routeKey(target), config: target, topic: () => this.#topics.topicOf(output.key) });
      logger.info("local.bound", { input: key, output: output.key, mode: controls.mode });
    }
    const reader = new SensorReader({
      route: { name: key, config: route, topic: () => this.#topics.topicOf(key) },
      line,
      outbox: this.#deps.outbox,
      clock,
      logger,
      faults: this.#deps.faults,
      onReading: (reading) => this.#deps.events.emit("reading", reading),
    });
    await reader.start();
    this.#sensors.push(reader);
  }

  async #claimActuator(route: OutputConfig, powerOn?: PowerOnChoice): Promise<Actuator> {
    const { store, clock, logger } = this.#deps;
    let interlock: InterlockGroup | undefined;
    if (route.interlock !== undefined) {
      interlock = this.#interlocks.get(route.interlock) ?? new InterlockGroup(route.interlock, clock, logger);
      this.#interlocks.set(route.interlock, interlock);
    }
    const hardware: OutputHardware = { gpio: this.#deps.backend, pwm: this.#deps.pwm };
    const actuator = await Actuator.claim(hardware, route, { store, clock, logger, interlock }, powerOn);
    this.#actuators.set(actuator.key, actuator);
    return actuator;
  }

  async claim(bindings: readonly Binding[]): Promise<void> {
    // A control input the catalog makes a command route stays an input: it reports on no topic.
    this.#topics.bind(
      bindings.filter((binding) => !(binding.route.source_type === "command" && this.#controlInputs.has(routeKey(binding.config)))),
    );
    this.#moveEarlyReports();
    for (const binding of bindings) {
      const key = routeKey(binding.config);
      if (binding.route.source_type === "command" && binding.config.file === undefined && !this.#controlInputs.has(key)) {
        this.#commandKeys.add(key);
      }
    }
    for (const binding of bindings) {
      const early = this.#controlInputs.get(routeKey(binding.config));
      if (early) this.#bindControlInput(binding, early);
      else if (binding.route.source_type === "command") await this.#claimCommand(binding);
      else {
        await this.#releaseEarlyOutput(binding);
        const { config } = binding;
        if (config.file !== undefined) await this.#startFileSensor(binding, config);
        else if (config.pwm !== undefined) {
          this.#deps.logger.error("route.needs_output", {
            route: binding.name,
            note: "a PWM channel is an output, but the catalog makes this a sensor route; it stays unserved",
          });
        } else await this.#claimInput(binding, config.line);
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
    if (config.file !== undefined) {
      this.#serveUnserved(route, "the config reads this route from a file: nothing drives it");
      logger.error("route.needs_line", {
        route: binding.name,
        note: "a command route needs a line or a PWM channel, not a file; its desired states are answered rejected",
      });
      return;
    }
    const actuator = this.#actuators.get(routeKey(config)) ?? await this.#claimActuator(config);
    if (!this.#reportedSinceBoot.has(actuator.key)) {
      this.#reportChangesOf(actuator, { name: binding.name, config, topic: () => binding.route.mqtt.feed_data_topic });
    }
    const handler = new DesiredHandler(this.#handlerOptions(), binding, actuator);
    this.desired.add(route, handler);
    logger.info("line.claimed", { route: binding.name, line: routeSource(config), direction: "output" });
  }

  /**
   * Catalog command routes the config binds to no line still get their answer: each desired state
   * is answered `rejected` (spec 5.3, an unknown route) with "0.0", since nothing drives them, and
   * the gap is logged once per route when the first one comes.
   */
  serveUnbound(routes: readonly CatalogRoute[]): void {
    for (const route of routes) {
      if (route.source_type === "command") this.#serveUnserved(route, "no line is configured for this route");
    }
  }

  /** A command route no output serves: its desired states are answered `rejected` with `reason`. */
  #serveUnserved(route: CatalogRoute, reason: string): void {
    if (!route.mqtt.desired_topic) return;
    const key = route.mqtt.feed_data_topic;
    const name = route.source_id ?? route.pin_port ?? key;
    const unserved: Output = {
      key: `unbound:${key}`,
      unserved: reason,
      scale: LINE_SCALE,
      written: 0,
      read: () => Promise.resolve(0),
      apply: () => Promise.reject(new RealerError("config", `Cannot set route ${name}: ${reason}`)),
    };
    this.desired.add(route, new DesiredHandler(this.#handlerOptions(), { route, key, name }, unserved));
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
    const line = await this.#requestInput(binding.config, ref);
    this.#sensorLines.set(binding.key, line);
    const reader = new SensorReader({
      route: boundRoute(binding),
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

  /** Claims `ref` as an input watched for both edges, with the route's settings. */
  async #requestInput(config: RouteConfig, ref: LineRef): Promise<LineRequest> {
    const line = await this.#deps.backend.requestLine(ref, {
      direction: "input",
      activeLow: config.active_low,
      bias: config.bias,
      edge: "both",
      debounceMs: config.debounce_ms,
    }, "realer-edge");
    this.#lines.push(line);
    return line;
  }

  /** A sensor value from a file source, into the outbox. */
  #reportReading(binding: Binding, value: string, observedAt: number): void {
    const payload = { message_id: newMessageId("sensor", observedAt), value, value_received_at: new Date(observedAt).toISOString() };
    this.#deps.outbox.enqueue(binding.route.mqtt.feed_data_topic, 1, payload);
    this.#deps.logger.info("sensor.reading", { route: binding.name, value, cause: "sample", message_id: payload.message_id });
    this.#deps.events.emit("reading", { route: binding.key, value, messageId: payload.message_id, observedAt });
  }

  /** Reports each change an output makes by itself (a local physical change: no desired_id) on `route`. */
  #reportChangesOf(actuator: Actuator, route: ReportedRoute): void {
    this.#reportedSinceBoot.add(actuator.key);
    actuator.onLocalChange((change) => this.#reportLocal(route, actuator.scale.format(change.value), change));
  }

  /** An output that changed by itself is a local physical change: a report without desired_id. */
  #reportLocal(route: ReportedRoute, value: string, change: LocalChange): void {
    const { logger, outbox, events } = this.#deps;
    const topic = route.topic();
    if (topic === undefined) {
      logger.debug("line.local_unreported", { route: route.name, value, note: "no catalog route has this output" });
      return;
    }
    const payload = { message_id: newMessageId("command", change.at), value, value_received_at: new Date(change.at).toISOString() };
    outbox.enqueue(topic, 0, payload);
    logger.info("line.local_change", { route: route.name, value, cause: change.cause, message_id: payload.message_id });
    events.emit("local", { route: topic, value, cause: change.cause, messageId: payload.message_id, at: change.at });
  }

  /**
   * What was reported before the catalog named its route (under a placeholder, this boot or an
   * earlier one) moves to the route's topic; what no catalog route will take is dropped, logged.
   */
  #moveEarlyReports(): void {
    for (const placeholder of this.#deps.outbox.placeholders(PLACEHOLDER_PREFIX)) {
      const topic = this.#topics.topicOf(RouteTopics.keyOf(placeholder) ?? "");
      if (topic === undefined) this.#deps.outbox.dropUnbound(placeholder);
      else if (!this.#deps.outbox.rebind(placeholder, topic)) {
        // The disk refuses: the rows stay under their placeholder, never sent, and move at the next start.
        this.#deps.logger.warn("route.reports_not_moved", { topic, note: "moved at the next start" });
      }
    }
  }

  /** An input claimed at boot for its local control: the catalog gives it its topic, and it is viewed as its route. */
  #bindControlInput(binding: Binding, line: LineRequest): void {
    this.#sensorLines.set(binding.key, line);
    if (binding.route.source_type === "command") {
      this.#deps.logger.error("route.direction_changed", {
        route: binding.name,
        note:
          "the config makes it an input that controls an output, but the catalog makes it a command route; it keeps working on the board, reports nothing, and its desired states are answered rejected",
      });
      this.#serveUnserved(binding.route, "the config makes this line an input that controls an output");
    }
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

  /**
   * Config entries that should drive an output by now and have none claimed: those claimed at
   * boot (a PWM channel, `direction: "output"`, an output an input controls) and those the
   * catalog made command routes. A release on trial is not healthy while any is missing.
   */
  unclaimedOutputs(): string[] {
    const { routes } = this.#deps.config;
    const expected = new Set<string>();
    for (const route of routes) {
      if (route.file !== undefined || route.controls !== undefined) continue;
      const controlled = routes.some((input) => input.controls !== undefined && namesEntry(route, input.controls.output));
      if (route.pwm !== undefined || route.direction === "output" || controlled) expected.add(routeKey(route));
    }
    for (const key of this.#commandKeys) expected.add(key);
    return [...expected].filter((key) => !this.#actuators.has(key));
  }

  /** Every bound route, with what its line reads now. */
  views(): Promise<RouteView[]> {
    return routeViews(this.#bindings, this.#deps.config.routes, {
      actuator: (binding) => this.#actuators.get(routeKey(binding.config)),
      input: (binding) => this.#sensorLines.get(binding.key),
    });
  }

  /** Sets a command route's output from the device itself (the console): reported as a local change. */
  async setLocal(key: string, value: unknown): Promise<string> {
    const binding = this.#bindings.find((candidate) => candidate.key === key);
    const actuator = binding && this.#actuators.get(routeKey(binding.config));
    if (!binding || !actuator) throw new RealerError("not-found", `Cannot set route ${key}: no command route with an output has that key`);
    const wanted = actuator.scale.parse(value);
    if (!wanted.ok) throw new RealerError("config", `Cannot set route ${key}: ${wanted.reason}`);
    const observed = await actuator.apply(wanted.value, "local");
    return actuator.scale.format(observed);
  }

  /** Stops the sensors, applies each output's shutdown policy and gives every line back. */
  async release(): Promise<void> {
    for (const control of this.#controls) control.stop();
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
