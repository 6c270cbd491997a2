import type { Clock, Timer } from "../clock.ts";
import type { Faults } from "../faults.ts";
import type { LineRequest, LineValue } from "../hal/types.ts";
import type { Logger } from "../log.ts";
import type { Binding } from "./bindings.ts";
import { newMessageId } from "./message-id.ts";
import type { Outbox } from "../outbox/outbox.ts";
import { formatLineValue } from "./values.ts";

/** Options for {@linkcode SensorReader}. */
export interface SensorReaderOptions {
  readonly binding: Binding;
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
    const { line, clock, binding } = this.#options;
    this.#unwatch = line.onEdge((event) => this.#report(event.value, event.observedAt, "edge"));
    this.#report(await line.getValue(), clock.now(), "start");
    const interval = binding.config.sample_interval_s;
    if (interval !== undefined) {
      this.#timer = clock.every(interval * 1000, () => {
        void line.getValue().then(
          (value) => this.#report(value, clock.now(), "sample"),
          (error: unknown) => this.#options.faults?.report("sensor.read_failed", error, { route: binding.name }),
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
    const { binding, outbox, logger } = this.#options;
    const payload = {
      message_id: newMessageId("sensor", observedAt),
      value: formatLineValue(value),
      value_received_at: new Date(observedAt).toISOString(),
    };
    outbox.enqueue(binding.route.mqtt.feed_data_topic, 1, payload);
    logger.info("sensor.reading", { route: binding.name, value: payload.value, cause, message_id: payload.message_id });
    this.#options.onReading?.({ route: binding.key, value: payload.value, messageId: payload.message_id, observedAt });
  }
}
