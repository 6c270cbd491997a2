import mqtt, { type IClientPublishOptions, type MqttClient } from "mqtt";
import { RealerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { withNoDelay } from "../mqtt/no-delay.ts";

const CONTROL_TOPIC = "$CONTROL/dynamic-security/v1";
const RESPONSE_TOPIC = `${CONTROL_TOPIC}/response`;

/** One dynamic-security command, as mosquitto's plugin takes it. */
export type DynsecCommand = { readonly command: string } & Readonly<Record<string, unknown>>;

interface DynsecResponse {
  command: string;
  correlationData?: string;
  error?: string;
}

/** Options for {@linkcode ServiceClient}. */
export interface ServiceClientOptions {
  readonly username: string;
  readonly password: string;
  readonly logger: Logger;
}

/**
 * The emulator's own MQTT 5 connection: it administers the broker through the dynamic-security
 * topic, and as Realer's service it reads device publishes and publishes acks and desired states.
 * It reconnects by itself when the broker restarts.
 */
export class ServiceClient {
  readonly #options: ServiceClientOptions;
  #client: MqttClient | undefined;
  #correlation = 0;
  readonly #pending = new Map<string, (response: DynsecResponse) => void>();
  readonly #handlers: ((topic: string, payload: Buffer) => void)[] = [];

  constructor(options: ServiceClientOptions) {
    this.#options = options;
  }

  /** Calls `handler` for every message on a subscribed device topic. */
  onMessage(handler: (topic: string, payload: Buffer) => void): void {
    this.#handlers.push(handler);
  }

  /** Connects to the broker on 127.0.0.1:`port` and subscribes to the dynsec responses and to `filters`. */
  async start(port: number, caPem: string, filters: readonly string[]): Promise<void> {
    const { username, password, logger } = this.#options;
    const client = await mqtt.connectAsync(withNoDelay({
      protocol: "mqtts",
      host: "127.0.0.1",
      port,
      ca: caPem,
      rejectUnauthorized: true,
      protocolVersion: 5,
      clientId: `realer-emulator-${process.pid}-${Date.now().toString(36)}`,
      username,
      password,
      reconnectPeriod: 500,
      connectTimeout: 5000,
      clean: true,
    }));
    this.#client = client;
    client.on("message", (topic, payload) => {
      if (topic === RESPONSE_TOPIC) {
        this.#settle(payload);
        return;
      }
      for (const handler of this.#handlers) handler(topic, payload);
    });
    client.on("error", (error) => logger.debug("service.mqtt_error", { error: error.message }));
    await client.subscribeAsync(RESPONSE_TOPIC, { qos: 1 });
    for (const filter of filters) await client.subscribeAsync(filter, { qos: 1 });
  }

  /**
   * Resolves once the client is connected again after a broker restart, with its dynsec answers
   * subscribed: a command sent before that would wait out its timeout for an answer nobody reads.
   */
  async ready(timeoutMs = 10_000): Promise<void> {
    const client = this.#requireClient();
    if (!client.connected) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          client.off("connect", done);
          reject(new RealerError("network", `Cannot reach the broker again: not connected within ${timeoutMs} ms`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        client.once("connect", done);
      });
    }
    await client.subscribeAsync(RESPONSE_TOPIC, { qos: 1 });
  }

  /** Disconnects. */
  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    for (const settle of this.#pending.values()) settle({ command: "stop", error: "emulator stopping" });
    this.#pending.clear();
    await client?.endAsync(true);
  }

  /** Publishes with QoS 1 and waits for the PUBACK. */
  async publish(topic: string, payload: string, options: IClientPublishOptions = {}): Promise<void> {
    const client = this.#requireClient();
    await client.publishAsync(topic, payload, { qos: 1, retain: false, ...options });
  }

  /** Runs dynamic-security commands in one message and fails on the first error. */
  async dynsec(...commands: DynsecCommand[]): Promise<void> {
    const client = this.#requireClient();
    // While the broker is down, say so at once: a queued command would only wait out its timeout.
    if (!client.connected) throw new RealerError("network", "Cannot administer the broker: it is not reachable (stopped or restarting)");
    const tagged = commands.map((command) => ({ ...command, correlationData: String(++this.#correlation) }));
    const answers = tagged.map(
      (command) => new Promise<DynsecResponse>((resolve) => this.#pending.set(command.correlationData, resolve)),
    );
    await client.publishAsync(CONTROL_TOPIC, JSON.stringify({ commands: tagged }), { qos: 1 });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RealerError("network", "Cannot administer the broker: no dynsec answer in 5 s")), 5000);
    });
    const responses = await Promise.race([Promise.all(answers), timeout]).finally(() => clearTimeout(timer));
    const failed = responses.find((response) => response.error !== undefined);
    if (failed) {
      throw new RealerError("protocol", `Cannot run dynsec ${failed.command}: ${failed.error}`);
    }
  }

  #settle(payload: Buffer): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString("utf8"));
    } catch {
      return;
    }
    const responses = (parsed as { responses?: DynsecResponse[] }).responses ?? [];
    for (const response of responses) {
      const key = response.correlationData ?? "";
      const settle = this.#pending.get(key);
      if (settle) {
        this.#pending.delete(key);
        settle(response);
      }
    }
  }

  #requireClient(): MqttClient {
    if (!this.#client) throw new RealerError("network", "Cannot reach the broker: the emulator is not started");
    return this.#client;
  }
}
