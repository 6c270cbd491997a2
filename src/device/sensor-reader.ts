import type { Clock, Timer } from "../clock.ts";
import type { Faults } from "../faults.ts";
import type { LineRequest, LineValue } from "../hal/types.ts";
import type { Logger } from "../log.ts";
import type { RouteConfig } from "../config/schema.ts";
import type { Binding } from "./bindings.ts";
import { newMessageId } from "./message-id.ts";
import type { Outbox } from "../outbox/outbox.ts";
import { formatLineValue } from "./values.ts";

/** The route a reader reports on; its topic may be known only once the catalog binds it. */
export interface ReportedRoute {
  /** A short name for logs. */
  readonly name: string;
  readonly config: RouteConfig;
  /**
   * Where readings go now: the bound feed-data topic, a placeholder the outbox rebinds once the
   * catalog names it (an input claimed at boot), or undefined when no catalog route has it.
   */
  topic(): string | undefined;
}

/** The reported route of a catalog binding: its topic is known from the start. */
export function boundRoute(binding: Binding): ReportedRoute {
  return { name: binding.name, config: binding.config, topic: () => binding.route.mqtt.feed_data_topic };
}

/** Options for {@linkcode SensorReader}. */
export interface SensorReaderOptions {
  readonly route: ReportedRoute;
  readonly line: LineRequest;
  readonly outbox: Outbox;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Where a failing heartbeat read is counted (it repeats every sample). */
  readonly faults?: Faults;
  readonly onReading?: (reading: { route: string; value: string; messageId: string; observedAt: number }) => void;
}

/**
 * Turns a sensor line into feed data: a reading at start, one per edge (stamped with the moment
 * the edge was seen), and one per `sample_interval_s` as a heartbeat.
 */
export class SensorReader {
  readonly #options: SensorReaderOptions;
  #unwatch: (() => void) | undefined;
  #timer: Timer | undefined;

  constructor(options: SensorReaderOptions) {
    this.#options = options;
  }

  /** Reports the current value and starts watching. */
  async start(): Promise<void> {
    const { line, clock, route } = this.#options;
    this.#unwatch = line.onEdge((event) => this.#report(event.value, event.observedAt, "edge"));
    this.#report(await line.getValue(), clock.now(), "start");
    const interval = route.config.sample_interval_s;
    if (interval !== undefined) {
      this.#timer = clock.every(interval * 1000, () => {
        void line.getValue().then(
          (value) => this.#report(value, clock.now(), "sample"),
          (error: unknown) => this.#options.faults?.report("sensor.read_failed", error, { route: route.name }),
        );
      });
    }
  }

  /** Stops watching and sampling. */
  stop(): void {
    this.#unwatch?.();
    this.#timer?.cancel();
  }

  #report(value: LineValue, observedAt: number, cause: string): void {
    const { route, outbox, logger } = this.#options;
    const topic = route.topic();
    if (topic === undefined) {
      logger.debug("sensor.unreported", { route: route.name, value: formatLineValue(value), note: "no catalog route has this input" });
      return;
    }
    const payload = {
      message_id: newMessageId("sensor", observedAt),
      value: formatLineValue(value),
      value_received_at: new Date(observedAt).toISOString(),
    };
    outbox.enqueue(topic, 1, payload);
    logger.info("sensor.reading", { route: route.name, value: payload.value, cause, message_id: payload.message_id });
    this.#options.onReading?.({ route: topic, value: payload.value, messageId: payload.message_id, observedAt });
  }
}
