import { type Clock, systemClock, type Timer } from "../clock.ts";
import type { IClientOptions, MqttClient } from "mqtt";
import { RealerError } from "../errors.ts";
import type { MqttCredential } from "../cloud/credentials.ts";
import { withNoDelay } from "./no-delay.ts";

let mqttModule: Promise<typeof import("mqtt")> | undefined;

/**
 * MQTT.js, loaded on first use rather than with the program: evaluating it is about 15 ms of a
 * compiled binary's start, which the outputs' claim at boot need not wait for. The runtime asks
 * for it while its first HTTPS requests are on the wire. A failed load is not kept: the next
 * connect tries again.
 */
export function loadMqtt(): Promise<typeof import("mqtt")> {
  mqttModule ??= import("mqtt").catch((error: unknown) => {
    mqttModule = undefined;
    throw error;
  });
  return mqttModule;
}

/** Options for {@linkcode MqttSession.connect}. */
export interface SessionOptions {
  readonly brokerUrl: string;
  readonly credential: MqttCredential;
  /** PEM CA to verify the broker with; the default roots when absent. */
  readonly ca: string | undefined;
  readonly keepaliveSeconds: number;
  readonly sessionExpirySeconds: number;
  readonly connectTimeoutMs?: number;
  /** A PUBACK slower than this closes the connection; twice the keepalive by default. */
  readonly publishTimeoutMs?: number;
  /** Times the SUBACK and PUBACK bounds and the close; the system's by default. */
  readonly clock?: Clock;
  /**
   * Handles every message, one at a time; installed before CONNECT so that messages the broker
   * queued for the session, delivered right after CONNACK, are not acknowledged unhandled.
   * The PUBACK of a QoS 1 message goes out only once the returned promise settles.
   */
  readonly onMessage: (topic: string, payload: Uint8Array) => void | Promise<void>;
  /** Told of each message left without a PUBACK because `onMessage` rejected. */
  readonly onUnacknowledged?: (topic: string, error: unknown) => void;
  /** Gives up connecting when it aborts (the runtime is stopping). */
  readonly signal?: AbortSignal;
}

/** Why a session ended. */
export interface SessionEnd {
  readonly reason: string;
  /** The DISCONNECT reason code from the broker, when it sent one. */
  readonly reasonCode: number | undefined;
}

/** The outcome of subscribing one topic. */
export interface SubscribeResult {
  readonly topic: string;
  readonly granted: boolean;
  readonly reasonCode: number;
}

const NOT_AUTHORIZED = 0x87;

/** Names for the MQTT 5 reason codes a device meets, for one-line errors. */
export function reasonName(code: number | undefined): string {
  switch (code) {
    case 0x80:
      return "unspecified error";
    case 0x86:
      return "bad user name or password";
    case 0x87:
      return "not authorized";
    case 0x8b:
      return "server shutting down";
    case 0x8e:
      return "session taken over";
    case 0x97:
      return "quota exceeded";
    case 0x98:
      return "administrative action";
    case 0x8d:
      return "keep alive timeout";
    default:
      return code === undefined ? "no reason code" : `reason code 0x${code.toString(16)}`;
  }
}

/**
 * One MQTT 5 connection over TLS with exactly the tuple Realer returned: Clean Start off and a
 * session expiry, so QoS 1 messages queued for the device survive a reconnect or renewal.
 */
export class MqttSession {
  readonly #client: MqttClient;
  readonly #publishTimeoutMs: number;
  readonly #clock: Clock;
  /** Resolves once, when the connection is gone for whatever reason. */
  readonly closed: Promise<SessionEnd>;

  private constructor(client: MqttClient, publishTimeoutMs: number, clock: Clock) {
    this.#client = client;
    this.#publishTimeoutMs = publishTimeoutMs;
    this.#clock = clock;
    let disconnectCode: number | undefined;
    client.on("disconnect", (packet) => {
      disconnectCode = packet.reasonCode;
    });
    this.closed = new Promise((resolve) => {
      let lastError = "";
      client.on("error", (error) => {
        lastError = error.message;
      });
      client.once("close", () => {
        resolve({
          reason: disconnectCode !== undefined
            ? `broker sent DISCONNECT (${reasonName(disconnectCode)})`
            : lastError || "connection closed",
          reasonCode: disconnectCode,
        });
      });
    });
  }

  /** Connects, or throws one error that says why the broker refused. */
  static async connect(options: SessionOptions): Promise<MqttSession> {
    const url = new URL(options.brokerUrl);
    if (url.protocol !== "mqtts:") {
      throw new RealerError("config", `Cannot connect to ${options.brokerUrl}: only mqtts:// is allowed`);
    }
    const { credential } = options;
    const clientOptions: IClientOptions = {
      protocol: "mqtts",
      host: url.hostname,
      port: url.port === "" ? 8883 : Number(url.port),
      protocolVersion: 5,
      clientId: credential.clientId,
      username: credential.username,
      password: credential.password.reveal(),
      clean: false,
      properties: { sessionExpiryInterval: options.sessionExpirySeconds },
      keepalive: options.keepaliveSeconds,
      reconnectPeriod: 0,
      // mqtt-packet would otherwise pre-make a buffer for every 16-bit number (about 8 MiB): a
      // device writes a few packets a second and is better off without.
      writeCache: false,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      rejectUnauthorized: true,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(/^[\d.]+$|:/.test(url.hostname) ? {} : { servername: url.hostname }),
    };
    const { connect } = await loadMqtt();
    const client = connect(withNoDelay(clientOptions));
    // Installed in the same tick as connect(), before any packet can arrive. MQTT.js sends the
    // PUBACK only when `done` gets no error: a handler that could not record its answer leaves
    // the message unacknowledged, and the broker delivers it again after a reconnect. Either way
    // the next packet is read (MQTT.js handles incoming packets one at a time).
    client.handleMessage = (packet, done) => {
      Promise.resolve()
        .then(() =>
          options.onMessage(packet.topic, typeof packet.payload === "string" ? new TextEncoder().encode(packet.payload) : packet.payload)
        )
        .then(() => done(), (error: unknown) => {
          options.onUnacknowledged?.(packet.topic, error);
          done(error instanceof Error ? error : new Error(String(error)));
        });
    };
    const session = new MqttSession(client, options.publishTimeoutMs ?? 2 * options.keepaliveSeconds * 1000, options.clock ?? systemClock);
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const onAbort = () => fail(new Error("the runtime is stopping"));
      const fail = (error: Error & { code?: number | string }) => {
        if (settled) return;
        settled = true;
        options.signal?.removeEventListener("abort", onAbort);
        client.removeListener("connect", ok);
        client.end(true);
        const code = typeof error.code === "number" ? error.code : undefined;
        const why = code !== undefined ? `CONNACK ${reasonName(code)}` : error.message;
        reject(
          new RealerError(
            code === 0x86 || code === NOT_AUTHORIZED ? "auth" : "network",
            `Cannot connect to ${options.brokerUrl} as ${credential.clientId}: ${why}`,
            { cause: error },
          ),
        );
      };
      const ok = () => {
        if (settled) return;
        settled = true;
        options.signal?.removeEventListener("abort", onAbort);
        client.removeListener("error", fail);
        resolve();
      };
      client.once("connect", ok);
      client.once("error", fail);
      void session.closed.then((end) => fail(new Error(end.reason)));
      if (options.signal?.aborted) onAbort();
      else options.signal?.addEventListener("abort", onAbort, { once: true });
    });
    return session;
  }

  /** Whether the connection is up. */
  get connected(): boolean {
    return this.#client.connected;
  }

  /**
   * Subscribes each topic alone (a mixed SUBACK would reject them all) and reports each grant. A
   * SUBACK that does not come within the publish timeout closes the connection, and a stop
   * (`signal`) ends the wait at once: neither leaves the caller waiting on a dead connection.
   */
  async subscribe(topics: readonly string[], signal?: AbortSignal): Promise<SubscribeResult[]> {
    const results: SubscribeResult[] = [];
    for (const topic of topics) {
      try {
        const granted = await this.#bounded(this.#client.subscribeAsync(topic, { qos: 1 }), `subscribe ${topic}`, "SUBACK", signal);
        const code = granted[0]?.qos ?? 0x80;
        results.push({ topic, granted: code < 0x80, reasonCode: code });
      } catch (error) {
        if (error instanceof RealerError) throw error;
        const packet = (error as { packet?: { granted?: number[] } }).packet;
        const code = packet?.granted?.[0];
        if (code === undefined) {
          throw new RealerError("network", `Cannot subscribe ${topic}: ${error instanceof Error ? error.message : String(error)}`, {
            cause: error,
          });
        }
        results.push({ topic, granted: false, reasonCode: code });
      }
    }
    return results;
  }

  /** `operation`, unless its answer is late (the connection is closed) or `signal` aborts first. */
  async #bounded<T>(operation: Promise<T>, action: string, answer: string, signal?: AbortSignal): Promise<T> {
    let timer: Timer | undefined;
    let onAbort: (() => void) | undefined;
    const cut = new Promise<never>((_, reject) => {
      timer = this.#clock.after(this.#publishTimeoutMs, () => {
        this.#client.end(true);
        reject(new RealerError("network", `Cannot ${action}: no ${answer} within ${this.#publishTimeoutMs} ms, closing the connection`));
      });
      onAbort = () => reject(new RealerError("network", `Cannot ${action}: the runtime is stopping`));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([operation, cut]);
    } finally {
      timer?.cancel();
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Publishes with QoS 1, retain off; rejects when the PUBACK carries an error reason code. A
   * PUBACK that does not come within the timeout means the connection only looks alive: the
   * session is closed so the link reconnects.
   */
  async publish(topic: string, payload: string): Promise<void> {
    try {
      await this.#bounded(this.#client.publishAsync(topic, payload, { qos: 1, retain: false }), `publish to ${topic}`, "PUBACK");
    } catch (error) {
      if (error instanceof RealerError) throw error;
      const code = (error as { code?: unknown }).code;
      throw new RealerError(
        code === NOT_AUTHORIZED ? "permission" : "network",
        `Cannot publish to ${topic}: ${
          typeof code === "number" ? `PUBACK ${reasonName(code)}` : error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
  }

  /**
   * Ends the connection; `force` skips waiting for in-flight messages. Gives up waiting after
   * `boundMs`: a stopping runtime must not hang on a close that never reports back.
   */
  async end(force = false, boundMs = 1000): Promise<void> {
    let timer: Timer | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = this.#clock.after(boundMs, resolve);
    });
    await Promise.race([this.#client.endAsync(force), bound]).finally(() => timer?.cancel());
  }
}
