import { Hono } from "hono";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RealerError } from "../errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import { type Database, openDatabase, serve, type Server } from "../platform/index.ts";
import { Secret } from "../secret.ts";
import { consoleRoutes } from "./console-routes.ts";
import { Broker, DEVICE_TOPIC_ROOT } from "./broker.ts";
import { type Certificates, ensureCertificates } from "./certs.ts";
import { DEFAULT_LIMITS, type EmulatorDeps, type Limits } from "./context.ts";
import { CredentialIssuer, DEFAULT_LIFETIMES } from "./credentials.ts";
import { faultMiddleware, type Faults, noFaults, type RequestLog } from "./faults.ts";
import { deviceRoutes } from "./device-routes.ts";
import { httpsRoutes } from "./https-routes.ts";
import { answerServerError, processFeed } from "./feed-processor.ts";
import { publicId, randomSecret } from "./ids.ts";
import { oauthRoutes } from "./oauth-routes.ts";
import { describeDevice, operatorRoutes } from "./operator-routes.ts";
import { ServiceClient } from "./service-client.ts";
import { TcpProxy } from "./tcp-proxy.ts";
import { type AckMessage, type DesiredRecord, type DeviceRecord, EmulatorState, type RouteRecord, type RouteSpec } from "./state.ts";

/** A device publish as the emulator received it. */
export interface FeedReceived {
  readonly deviceId: number;
  readonly sourceId: string;
  readonly payload: Buffer;
  /** `performance.now()` at arrival. */
  readonly arrivedAt: number;
}
/** Options for {@linkcode Emulator}. */
export interface EmulatorOptions {
  /** Where certificates and the broker's files live. */
  readonly stateDir: string;
  /** HTTPS port on 127.0.0.1; 0 (the default) picks a free one. */
  readonly port?: number;
  readonly logger?: Logger;
  readonly limits?: Partial<Limits>;
  /** The desired-state poll cadence the bootstrap announces, in seconds (default 5). */
  readonly desiredPollSeconds?: number;
  /** Put a TCP proxy before the broker and name it in catalogs, so `freezeConnections()` works. */
  readonly brokerProxy?: boolean;
  /**
   * The IP address devices reach the emulator at, when not 127.0.0.1: a VM's gateway to its host
   * (QEMU's user-mode network maps 10.0.2.2 to the host's loopback). It is named in the API URL,
   * in catalogs and in the server certificate; the emulator still listens on 127.0.0.1 only.
   */
  readonly publicHost?: string;
}

/** What provisioning returns: the device as the operator sees it, and its secret, once. */
export interface Provisioned {
  readonly device_id: number;
  readonly client_id: string;
  readonly client_secret: string;
  readonly routes: readonly {
    readonly route_id: string;
    readonly source_type: "sensor" | "command";
    readonly source_id: string;
    readonly pin_port: string | null;
    readonly feed_data_topic: string;
    readonly desired_topic: string | null;
  }[];
}

/** The prefix of the operator API. */
export const OPERATOR_PREFIX = "/_emulator";

/**
 * The Realer emulator: the HTTPS API of the spec over hono, a mosquitto broker it administers,
 * and the service that acks every device publish. An object first: tests call it in process.
 */
export class Emulator {
  readonly state = new EmulatorState();
  readonly app: Hono;
  readonly broker: Broker;
  readonly #feedListeners = new Set<(received: FeedReceived) => void>();
  readonly issuer: CredentialIssuer;
  /** Devices that are not offered MQTT (no `credential_endpoint`). */
  readonly mqttWithheld = new Set<number>();
  /** The fault switches; change them here in process or through `PUT /_emulator/faults`. */
  readonly faults: Faults = noFaults();
  /** Every device API request, with the status it got, for tests that count retries. */
  readonly requests: RequestLog[] = [];
  readonly #options: EmulatorOptions;
  readonly #logger: Logger;
  readonly #service: ServiceClient;
  readonly #adminPassword = randomSecret();
  readonly #limits: Limits;
  readonly #deps: EmulatorDeps;
  #certificates: Certificates | undefined;
  #server: Server | undefined;
  #db: Database | undefined;
  #proxy: TcpProxy | undefined;

  constructor(options: EmulatorOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.broker = new Broker({
      dir: join(options.stateDir, "broker"),
      adminUsername: "realer-emulator",
      adminPassword: this.#adminPassword,
      logger: this.#logger,
    });
    this.#service = new ServiceClient({
      username: "realer-emulator",
      password: this.#adminPassword,
      logger: this.#logger,
    });
    this.issuer = new CredentialIssuer(this.#service, this.#logger, () => {
      const lifetime = this.faults.credentialLifetimeS;
      return lifetime === undefined
        ? DEFAULT_LIFETIMES
        : { expiresIn: lifetime, renewAfter: Math.max(1, Math.floor((lifetime * 2) / 3)), sessionHardExpiresIn: lifetime };
    }, (device) => this.state.saveDevice(device));
    const deps: EmulatorDeps = {
      state: this.state,
      issuer: this.issuer,
      limits: this.#limits,
      logger: this.#logger,
      brokerUrl: () => `mqtts://${this.#host}:${this.#proxy?.port ?? this.broker.port}`,
      now: () => Date.now(),
      mqttOffered: (device) => !this.mqttWithheld.has(device.deviceId),
      bootstrapServed: () => !this.faults.noBootstrap,
      desiredPollSeconds: options.desiredPollSeconds ?? 5,
      setMqttOffered: (deviceId, offered) => void (offered ? this.mqttWithheld.delete(deviceId) : this.mqttWithheld.add(deviceId)),
      publishDesired: (device, route, value, expiresIn) => this.#publishDesired(device, route, value, expiresIn),
      faults: this.faults,
      controlBroker: (action) => this.controlBroker(action),
      revokeCredentials: (deviceId) => this.issuer.revoke(deviceId),
    };
    const faulty = faultMiddleware(this.faults, this.requests, () => Date.now());
    this.app = new Hono()
      .use("/oauth/*", faulty)
      .use("/iot/*", faulty)
      .route("/", oauthRoutes(deps))
      .route("/", deviceRoutes(deps))
      .route("/", httpsRoutes(deps))
      .route(OPERATOR_PREFIX, operatorRoutes(deps))
      .route(OPERATOR_PREFIX, consoleRoutes({ deps, stateDir: options.stateDir, apiUrl: () => this.url, caPath: () => this.caPath }))
      .onError((error, c) => {
        const path = new URL(c.req.url).pathname;
        // The broker stopped or restarting (a fault switch): unavailable for now, as a real cloud would say.
        if (error instanceof RealerError && error.kind === "network") {
          this.#logger.warn("api.unavailable", { method: c.req.method, path, error: error.message });
          return c.json({ code: 5000, error: "service unavailable: the broker is not reachable" }, 503);
        }
        this.#logger.error("api.failed", { method: c.req.method, path, error: error.message });
        return c.json({ code: 5000, error: "internal error" }, 500);
      });
    this.#deps = deps;
    this.#service.onMessage((topic, payload) => void this.#onFeed(topic, payload));
  }

  /** The HTTPS base URL, once started. */
  get url(): string {
    return `https://${this.#host}:${this.#server?.port ?? 0}`;
  }

  get #host(): string {
    return this.#options.publicHost ?? "127.0.0.1";
  }

  /** The CA file devices must trust. */
  get caPath(): string {
    return this.#requireCertificates().caPath;
  }

  /** The HTTPS server's certificate, PEM (a browser in a test pins its key). */
  get serverCertPem(): string {
    return this.#requireCertificates().certPem;
  }

  /** The CA certificate, PEM. */
  get caPem(): string {
    return this.#requireCertificates().caPem;
  }

  /**
   * Loads the records of an earlier run, makes or reuses certificates, starts the broker,
   * connects the service and listens on HTTPS, on the ports of the earlier run when it can.
   */
  async start(): Promise<void> {
    const { stateDir } = this.#options;
    mkdirSync(stateDir, { recursive: true });
    this.#db = await openDatabase(join(stateDir, "emulator.sqlite"), "process-crash");
    this.state.attach(this.#db);
    const saved = readPorts(stateDir);
    this.#certificates = await ensureCertificates(join(stateDir, "tls"), this.#options.publicHost ? [this.#options.publicHost] : []);
    await this.broker.start(this.#certificates, saved.broker);
    await this.#service.start(this.broker.port, this.#certificates.caPem, [`${DEVICE_TOPIC_ROOT}/+/routes/+/feed-data`]);
    if (this.#options.brokerProxy) {
      this.#proxy = new TcpProxy(this.broker.port);
      await this.#proxy.start();
    }
    const tls = { cert: this.#certificates.certPem, key: this.#certificates.keyPem };
    const wanted = this.#options.port || saved.https;
    try {
      this.#server = serve({ hostname: "127.0.0.1", port: wanted, tls, fetch: this.app.fetch });
    } catch (error) {
      if (this.#options.port) throw error;
      this.#server = serve({ hostname: "127.0.0.1", port: 0, tls, fetch: this.app.fetch });
    }
    writeFileSync(join(stateDir, "ports.json"), JSON.stringify({ https: this.#server.port, broker: this.broker.port }));
    this.#logger.info("emulator.started", { url: this.url, broker: this.#deps.brokerUrl() });
  }

  /** Stops HTTPS, the service and the broker. */
  async stop(): Promise<void> {
    this.issuer.stop();
    await this.#server?.stop();
    this.#server = undefined;
    await this.#service.stop();
    await this.#proxy?.stop();
    await this.broker.stop();
    this.#db?.close();
    this.#db = undefined;
  }

  /** Stops, starts or restarts the broker (a fault switch); it keeps its port, store and sessions. */
  async controlBroker(action: "stop" | "start" | "restart"): Promise<void> {
    if (action !== "start") await this.broker.stop();
    if (action !== "stop") {
      await this.broker.start();
      await this.#service.ready();
    }
    this.#logger.info(`broker.${action === "stop" ? "stopped" : action === "start" ? "started" : "restarted"}`, { port: this.broker.port });
  }

  /**
   * Makes every device connection open now look alive while nothing passes (the broker proxy
   * swallows all bytes both ways). Needs `brokerProxy`. Returns how many connections froze.
   */
  freezeConnections(): number {
    if (!this.#proxy) throw new Error("Cannot freeze connections: the emulator was started without brokerProxy");
    const frozen = this.#proxy.freeze();
    this.#logger.info("broker.connections_frozen", { connections: frozen });
    return frozen;
  }

  /** Provisions a device with `routes`, in process. */
  provision(routes: readonly RouteSpec[]): Provisioned {
    const secret = randomSecret();
    const device = this.state.addDevice(secret, routes);
    return { ...(describeDevice(this.#deps, device) as Omit<Provisioned, "client_secret">), client_secret: secret };
  }

  /**
   * Sets a desired value on a command route and publishes it, with the next sequence number or
   * `sequence` (a lower one makes a stale request, as a reordered delivery would). An `expiresIn`
   * of 0 or less sends one already expired.
   */
  setDesired(deviceId: number, sourceId: string, value: string, expiresIn = 300, sequence?: number): Promise<DesiredRecord> {
    const device = this.state.devices.get(deviceId);
    const route = device?.routes.find((candidate) => candidate.sourceId === sourceId);
    if (!device || !route) throw new RangeError(`Cannot set desired: no route ${sourceId} on device ${deviceId}`);
    return this.#publishDesired(device, route, value, expiresIn, sequence);
  }

  /** Publishes an already sent desired state again, byte for byte, as a QoS 1 redelivery would. */
  async redeliver(desiredId: string): Promise<void> {
    const desired = this.state.desired.get(desiredId);
    const device = desired && this.state.devices.get(desired.deviceId);
    const route = device?.routes.find((candidate) => candidate.routeId === desired?.routeId);
    if (!desired || !route?.desiredTopic) throw new RangeError(`Cannot redeliver ${desiredId}: no such desired state`);
    await this.#service.publish(route.desiredTopic, JSON.stringify(desiredBody(desired)));
  }

  /** Publishes a raw payload on a command route's desired topic, for malformed-message tests. */
  async publishRawDesired(deviceId: number, sourceId: string, payload: string): Promise<void> {
    const route = this.state.devices.get(deviceId)?.routes.find((candidate) => candidate.sourceId === sourceId);
    if (!route?.desiredTopic) throw new RangeError(`Cannot publish on ${sourceId}: no command route`);
    await this.#service.publish(route.desiredTopic, payload);
  }

  /**
   * A broker client that may publish and subscribe one topic of its own (and `topic/<name>` for
   * each of `subtopics`), for benchmarks that need the raw broker on the same TLS listener. In
   * process only.
   */
  async createLoopbackClient(
    subtopics: readonly string[] = [],
  ): Promise<{ username: string; password: Secret; topic: string; port: number }> {
    const username = publicId("bench");
    const password = randomSecret();
    const topic = `bench/${username}`;
    const topics = [topic, ...subtopics.map((name) => `${topic}/${name}`)];
    await this.#service.dynsec(
      {
        command: "createRole",
        rolename: `role-${username}`,
        acls: topics.flatMap((granted) =>
          ["publishClientSend", "publishClientReceive", "subscribeLiteral"].map((acltype) => ({ acltype, topic: granted, allow: true }))
        ),
      },
      { command: "createClient", username, password, roles: [{ rolename: `role-${username}` }] },
    );
    return { username, password: new Secret(password), topic, port: this.broker.port };
  }

  /** The passwords issued to a device, in process only, to prove they never leak. */
  issuedPasswords(deviceId: number): readonly Secret[] {
    return this.issuer.issued.get(deviceId) ?? [];
  }

  /**
   * Calls `listener` with each device publish as it arrives (on the monotonic clock, before it is
   * processed), for benchmarks and rigs that time the device from outside. Returns a remover.
   */
  onFeedReceived(listener: (received: FeedReceived) => void): () => void {
    this.#feedListeners.add(listener);
    return () => this.#feedListeners.delete(listener);
  }

  async #onFeed(topic: string, payload: Buffer): Promise<void> {
    const arrivedAt = performance.now();
    const owner = this.state.routeByTopic(topic);
    if (!owner) return;
    for (const listener of this.#feedListeners) {
      listener({ deviceId: owner.device.deviceId, sourceId: owner.route.sourceId, payload, arrivedAt });
    }
    const { device, route } = owner;
    const now = Date.now();
    const mode = this.faults.ackMode;
    // A report's idempotency record, feed entry and ack are written together, and the reports of
    // one turn share a commit; the ack goes once it is committed.
    let ack: AckMessage;
    try {
      ack = await this.state.grouped(() => {
        const { ack, payload: parsed } = mode === "error-retryable"
          ? answerServerError(route, payload, now)
          : processFeed(this.state, device, route, payload, { maxPayloadBytes: this.#limits.max_payload_bytes }, now);
        this.state.logFeed({
          deviceId: device.deviceId,
          routeId: route.routeId,
          sourceId: route.sourceId,
          receivedAt: new Date(now).toISOString(),
          payload: parsed,
          status: ack.status,
        });
        if (mode !== "withhold") this.state.logAck(device.deviceId, ack);
        return ack;
      });
    } catch (error) {
      // Not acked: the device sends it again after its ack timeout.
      this.#logger.warn("feed.not_recorded", { device_id: device.deviceId, error: error instanceof Error ? error.message : String(error) });
      return;
    }
    if (mode === "withhold") {
      this.#logger.info("feed.ack_withheld", { device_id: device.deviceId, message_id: ack.message_id, status: ack.status });
      return;
    }
    this.#logger.info("feed.acked", {
      device_id: device.deviceId,
      source_id: route.sourceId,
      message_id: ack.message_id,
      status: ack.status,
      error: ack.error?.type,
    });
    try {
      await this.#service.publish(device.ackTopic, JSON.stringify(ack));
    } catch (error) {
      this.#logger.warn("ack.publish_failed", {
        device_id: device.deviceId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  async #publishDesired(
    device: DeviceRecord,
    route: RouteRecord,
    value: string,
    expiresIn: number,
    sequence?: number,
  ): Promise<DesiredRecord> {
    if (!route.desiredTopic) throw new RangeError(`Cannot set desired on ${route.sourceId}: it is a sensor route`);
    const now = Date.now();
    route.lastSequence = sequence === undefined ? route.lastSequence + 1 : Math.max(route.lastSequence, sequence);
    this.state.saveDevice(device);
    const desired: DesiredRecord = {
      desiredId: publicId("des"),
      deviceId: device.deviceId,
      routeId: route.routeId,
      value,
      sequenceNumber: sequence ?? route.lastSequence,
      requestedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + expiresIn * 1000).toISOString(),
      answer: undefined,
    };
    this.state.addDesired(desired);
    await this.#service.publish(
      route.desiredTopic,
      JSON.stringify(desiredBody(desired)),
      expiresIn > 0 ? { properties: { messageExpiryInterval: expiresIn } } : {},
    );
    this.#logger.info("desired.published", {
      device_id: device.deviceId,
      source_id: route.sourceId,
      desired_id: desired.desiredId,
      value,
      sequence_number: desired.sequenceNumber,
    });
    return desired;
  }

  #requireCertificates(): Certificates {
    if (!this.#certificates) throw new Error("Cannot use the emulator's certificates before start()");
    return this.#certificates;
  }
}

/** The wire form of a desired state (5.3). */
function desiredBody(desired: DesiredRecord): unknown {
  return {
    desired_id: desired.desiredId,
    value: desired.value,
    sequence_number: desired.sequenceNumber,
    requested_at: desired.requestedAt,
    expires_at: desired.expiresAt,
  };
}

/** The ports an earlier run used, so devices configured with its URL find it again. */
function readPorts(stateDir: string): { https: number; broker: number } {
  try {
    const saved = JSON.parse(readFileSync(join(stateDir, "ports.json"), "utf8")) as { https?: unknown; broker?: unknown };
    return { https: Number(saved.https) || 0, broker: Number(saved.broker) || 0 };
  } catch {
    return { https: 0, broker: 0 };
  }
}
