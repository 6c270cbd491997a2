import { createHash } from "node:crypto";
import { DEVICE_TOPIC_ROOT } from "./broker.ts";
import { publicId } from "./ids.ts";

/** What a route carries: sensor readings or command reports. */
export type SourceType = "sensor" | "command";

/** A provisioned route of a device. */
export interface RouteRecord {
  readonly deviceId: number;
  readonly routeId: string;
  readonly sourceType: SourceType;
  readonly sourceId: string;
  readonly kind: string;
  readonly valueType: "NumericRange";
  readonly min: number;
  readonly max: number;
  readonly pinPort: string | undefined;
  readonly feedDataTopic: string;
  readonly desiredTopic: string | undefined;
  /** The highest sequence number handed out on this route. */
  lastSequence: number;
}

/** A provisioned device. */
export interface DeviceRecord {
  readonly deviceId: number;
  readonly clientId: string;
  /** SHA-256 of the client secret: the emulator, like a server, keeps no plain secret. */
  readonly secretHash: string;
  readonly ackTopic: string;
  readonly routes: RouteRecord[];
  credentialVersion: number;
}

/** The 5.1 payload fields as the emulator stores them for idempotency. */
export interface StoredFeed {
  readonly message_id: string;
  readonly value: string;
  readonly value_received_at: string;
  readonly desired_id?: string;
  readonly report_status?: "applied" | "rejected" | "stale";
  readonly sequence_number?: number;
}

/** One feed-data message as the emulator received it, with the status it answered. */
export interface FeedEntry {
  readonly deviceId: number;
  readonly routeId: string;
  readonly sourceId: string;
  readonly receivedAt: string;
  readonly payload: unknown;
  readonly status: AckStatus;
}

/** The application statuses of 5.2. */
export type AckStatus = "accepted" | "replayed" | "conflict" | "rejected" | "error";

/** An ack as published on a device's ack topic (5.2). */
export interface AckMessage {
  readonly message_id: string | null;
  readonly source_type: SourceType;
  readonly source_id: string;
  readonly feed_data_topic: string;
  readonly desired_id: string | null;
  readonly status: AckStatus;
  readonly retryable: boolean;
  readonly error: { readonly type: string; readonly message: string } | null;
  readonly acknowledged_at: string;
}

/** A desired state the operator set (5.3), and the report that answered it. */
export interface DesiredRecord {
  readonly desiredId: string;
  readonly deviceId: number;
  readonly routeId: string;
  readonly value: string;
  readonly sequenceNumber: number;
  readonly requestedAt: string;
  readonly expiresAt: string;
  answer: { readonly messageId: string; readonly reportStatus: string; readonly value: string } | undefined;
}

/** An access token the emulator issued. */
export interface TokenRecord {
  readonly deviceId: number;
  readonly scopes: readonly string[];
  readonly expiresAt: number;
}

/** What the operator asks for when provisioning a route. */
export interface RouteSpec {
  readonly source_type: SourceType;
  readonly kind?: string | undefined;
  readonly pin_port?: string | undefined;
  readonly min?: number | undefined;
  readonly max?: number | undefined;
}

/** Hashes a client secret for storage and comparison. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** The emulator's records, in memory. */
export class EmulatorState {
  readonly devices = new Map<number, DeviceRecord>();
  readonly tokens = new Map<string, TokenRecord>();
  readonly desired = new Map<string, DesiredRecord>();
  /** Idempotency records by device, route and message id. */
  readonly #stored = new Map<string, StoredFeed>();
  readonly #feed: FeedEntry[] = [];
  readonly #acks: (AckMessage & { readonly deviceId: number })[] = [];
  readonly #routesByTopic = new Map<string, { device: DeviceRecord; route: RouteRecord }>();
  #nextDeviceId = 10001;

  /** Adds a device with its routes and returns it with the plain secret, shown once. */
  addDevice(secret: string, routes: readonly RouteSpec[]): DeviceRecord {
    const deviceId = this.#nextDeviceId++;
    const clientId = publicId("cdv");
    const prefix = `${DEVICE_TOPIC_ROOT}/${clientId}`;
    const device: DeviceRecord = {
      deviceId,
      clientId,
      secretHash: hashSecret(secret),
      ackTopic: `${prefix}/feed-data/acks`,
      credentialVersion: 0,
      routes: routes.map((spec) => {
        const routeId = publicId("rte");
        return {
          deviceId,
          routeId,
          sourceType: spec.source_type,
          sourceId: publicId(spec.source_type === "command" ? "cmd" : "sen"),
          kind: spec.kind ?? (spec.source_type === "command" ? "relay" : "switch"),
          valueType: "NumericRange",
          min: spec.min ?? 0,
          max: spec.max ?? (spec.source_type === "command" ? 1 : 1000),
          pinPort: spec.pin_port,
          feedDataTopic: `${prefix}/routes/${routeId}/feed-data`,
          desiredTopic: spec.source_type === "command" ? `${prefix}/routes/${routeId}/desired` : undefined,
          lastSequence: 0,
        };
      }),
    };
    this.devices.set(deviceId, device);
    for (const route of device.routes) this.#routesByTopic.set(route.feedDataTopic, { device, route });
    return device;
  }

  /** The device and route that own a feed-data topic. */
  routeByTopic(topic: string): { device: DeviceRecord; route: RouteRecord } | undefined {
    return this.#routesByTopic.get(topic);
  }

  /** The idempotency record for a message id on a route. */
  stored(deviceId: number, routeId: string, messageId: string): StoredFeed | undefined {
    return this.#stored.get(`${deviceId}/${routeId}/${messageId}`);
  }

  /** Stores the first delivery of a message id. */
  store(deviceId: number, routeId: string, feed: StoredFeed): void {
    this.#stored.set(`${deviceId}/${routeId}/${feed.message_id}`, feed);
  }

  /** Logs one received message. */
  logFeed(entry: FeedEntry): void {
    this.#feed.push(entry);
  }

  /** Logs one published ack. */
  logAck(deviceId: number, ack: AckMessage): void {
    this.#acks.push({ ...ack, deviceId });
  }

  /** Every message a device sent, oldest first. */
  feedOf(deviceId: number): FeedEntry[] {
    return this.#feed.filter((entry) => entry.deviceId === deviceId);
  }

  /** Every ack sent to a device, oldest first. */
  acksOf(deviceId: number): AckMessage[] {
    return this.#acks.filter((ack) => ack.deviceId === deviceId).map(({ deviceId: _, ...ack }) => ack);
  }
}
