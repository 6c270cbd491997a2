import { Emitter } from "../events.ts";
import { createHash } from "node:crypto";
import { DEVICE_TOPIC_ROOT } from "./broker.ts";
import { publicId } from "./ids.ts";
import type { Database } from "../platform/index.ts";

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

// Each report writes a row to stored, feed and acks. No AUTOINCREMENT: its sqlite_sequence row
// was written by every insert, and rows are never deleted, so plain rowids stay in order. (The
// keyed tables keep their rowid: their rows, JSON of a few hundred bytes, would overflow the
// 1 KiB pages of a WITHOUT ROWID B-tree.) A file made by an earlier emulator keeps its tables,
// which hold the same columns.
const TABLES = `
CREATE TABLE IF NOT EXISTS devices (id INTEGER PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stored (key TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS desired (id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feed (seq INTEGER PRIMARY KEY, device_id INTEGER NOT NULL, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acks (seq INTEGER PRIMARY KEY, device_id INTEGER NOT NULL, json TEXT NOT NULL);
`;

/**
 * The emulator's records: in memory, and once attached to a database, written through to it, so
 * devices, idempotency records and desired states survive an emulator restart (`replayed` stays
 * true across one). Tokens stay in memory: after a restart devices simply authenticate again.
 */
/** What the state tells the console as it happens. */
export interface StateEvents extends Record<string, unknown> {
  feed: FeedEntry;
  ack: AckMessage & { readonly deviceId: number };
  device: DeviceRecord;
}

export class EmulatorState {
  /** Feed data, acks and new devices as they happen, for the console. */
  readonly events = new Emitter<StateEvents>();
  readonly devices = new Map<number, DeviceRecord>();
  readonly tokens = new Map<string, TokenRecord>();
  /** Desired states by id; change them through `addDesired` and `answerDesired`. */
  readonly desired = new Map<string, DesiredRecord>();
  #db: Database | undefined;
  /** Idempotency records by device, route and message id. */
  readonly #stored = new Map<string, StoredFeed>();
  readonly #feed: FeedEntry[] = [];
  readonly #acks: (AckMessage & { readonly deviceId: number })[] = [];
  readonly #routesByTopic = new Map<string, { device: DeviceRecord; route: RouteRecord }>();
  #nextDeviceId = 10001;

  /** Loads what an earlier run stored in `db`, then writes every change through to it. */
  attach(db: Database): void {
    db.exec(TABLES);
    const rows = (table: string) => db.prepare(`SELECT * FROM ${table}`).all();
    for (const row of rows("devices")) {
      const device = JSON.parse(String(row.json)) as DeviceRecord;
      this.devices.set(device.deviceId, device);
      for (const route of device.routes) this.#routesByTopic.set(route.feedDataTopic, { device, route });
      this.#nextDeviceId = Math.max(this.#nextDeviceId, device.deviceId + 1);
    }
    for (const row of rows("stored")) this.#stored.set(String(row.key), JSON.parse(String(row.json)) as StoredFeed);
    for (const row of rows("desired")) {
      const desired = JSON.parse(String(row.json)) as DesiredRecord;
      this.desired.set(desired.desiredId, desired);
    }
    for (const row of db.prepare("SELECT json FROM feed ORDER BY seq").all()) this.#feed.push(JSON.parse(String(row.json)) as FeedEntry);
    for (const row of db.prepare("SELECT device_id, json FROM acks ORDER BY seq").all()) {
      this.#acks.push({ ...(JSON.parse(String(row.json)) as AckMessage), deviceId: Number(row.device_id) });
    }
    this.#db = db;
    db.transaction(() => {
      for (const device of this.devices.values()) this.saveDevice(device);
      for (const desired of this.desired.values()) this.#saveDesired(desired);
    });
  }

  /** Writes a device after a change (a credential version, a sequence number). */
  saveDevice(device: DeviceRecord): void {
    this.#db?.prepare("INSERT OR REPLACE INTO devices (id, json) VALUES (?, ?)").run(device.deviceId, JSON.stringify(device));
  }

  /** Records a desired state the operator set. */
  addDesired(desired: DesiredRecord): void {
    this.desired.set(desired.desiredId, desired);
    this.#saveDesired(desired);
  }

  /** Records the first report that answered a desired state. */
  answerDesired(desired: DesiredRecord, answer: NonNullable<DesiredRecord["answer"]>): void {
    desired.answer = answer;
    this.#saveDesired(desired);
  }

  #saveDesired(desired: DesiredRecord): void {
    this.#db?.prepare("INSERT OR REPLACE INTO desired (id, json) VALUES (?, ?)").run(desired.desiredId, JSON.stringify(desired));
  }

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
    this.saveDevice(device);
    this.events.emit("device", device);
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
    const key = `${deviceId}/${routeId}/${feed.message_id}`;
    this.#stored.set(key, feed);
    this.#db?.prepare("INSERT OR REPLACE INTO stored (key, json) VALUES (?, ?)").run(key, JSON.stringify(feed));
  }

  /** Runs `fn`'s writes in one transaction: a report's idempotency record, feed entry and ack together. */
  batch<T>(fn: () => T): T {
    return this.#db ? this.#db.transaction(fn) : fn();
  }

  /**
   * Runs `fn` now, its writes in the transaction of this turn of the event loop (the reports of a
   * turn share one commit); resolves once committed. The maps change at once, so a report later
   * in the same turn already sees this one.
   */
  grouped<T>(fn: () => T): Promise<T> {
    if (!this.#db) {
      try {
        return Promise.resolve(fn());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#db.grouped(fn);
  }

  /** Logs one received message. */
  logFeed(entry: FeedEntry): void {
    this.#feed.push(entry);
    this.events.emit("feed", entry);
    this.#db?.prepare("INSERT INTO feed (device_id, json) VALUES (?, ?)").run(entry.deviceId, JSON.stringify(entry));
  }

  /** Logs one published ack. */
  logAck(deviceId: number, ack: AckMessage): void {
    this.#acks.push({ ...ack, deviceId });
    this.events.emit("ack", { ...ack, deviceId });
    this.#db?.prepare("INSERT INTO acks (device_id, json) VALUES (?, ?)").run(deviceId, JSON.stringify(ack));
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
