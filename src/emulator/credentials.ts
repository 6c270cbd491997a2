import type { Logger } from "../log.ts";
import { Secret } from "../secret.ts";
import { randomSecret } from "./ids.ts";
import type { ServiceClient } from "./service-client.ts";
import type { DeviceRecord } from "./state.ts";

/** The MQTT scopes a credential can carry, and what each grants on the broker. */
export const MQTT_SCOPES = ["iot:mqtt:connect", "iot:mqtt:ack:read", "iot:mqtt:feed-data:write", "iot:mqtt:desired:read"] as const;

/** Lifetimes handed out with each credential, in seconds. */
export interface CredentialLifetimes {
  readonly expiresIn: number;
  readonly renewAfter: number;
  readonly sessionHardExpiresIn: number;
}

/** The default lifetimes: one hour, renewed after 45 minutes. */
export const DEFAULT_LIFETIMES: CredentialLifetimes = { expiresIn: 3600, renewAfter: 2700, sessionHardExpiresIn: 3600 };

/** The answer body of `POST /iot/v1/mqtt-credentials` (section 4). */
export interface IssuedCredential {
  readonly mqtt_client_id: string;
  readonly mqtt_username: string;
  readonly mqtt_credential: string;
  readonly expires_in: number;
  readonly renew_after: number;
  readonly session_hard_expires_in: number;
}

interface Live {
  readonly username: string;
  readonly deviceId: number;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** Broker ACLs for a device's credential, exactly what the scopes allow (section 4). */
export function aclsFor(device: DeviceRecord, scopes: readonly string[]): { acltype: string; topic: string; allow: true }[] {
  const acls: { acltype: string; topic: string; allow: true }[] = [];
  const subscribe = (topic: string) => {
    acls.push({ acltype: "subscribeLiteral", topic, allow: true }, { acltype: "publishClientReceive", topic, allow: true });
  };
  if (scopes.includes("iot:mqtt:ack:read")) subscribe(device.ackTopic);
  if (scopes.includes("iot:mqtt:feed-data:write")) {
    for (const route of device.routes) acls.push({ acltype: "publishClientSend", topic: route.feedDataTopic, allow: true });
  }
  if (scopes.includes("iot:mqtt:desired:read")) {
    for (const route of device.routes) if (route.desiredTopic) subscribe(route.desiredTopic);
  }
  return acls;
}

/**
 * Issues a new username and password per request for the device's fixed client id, as a
 * dynsec client with its own role, and removes it when its session hard-expires.
 */
export class CredentialIssuer {
  readonly #service: ServiceClient;
  readonly #logger: Logger;
  readonly #live = new Map<string, Live>();
  /** The last few passwords issued per device, in process only, so tests can prove none leaks. */
  readonly issued = new Map<number, Secret[]>();
  readonly #lifetimes: () => CredentialLifetimes;

  readonly #saveDevice: (device: DeviceRecord) => void;

  constructor(service: ServiceClient, logger: Logger, lifetimes: () => CredentialLifetimes, saveDevice: (device: DeviceRecord) => void) {
    this.#service = service;
    this.#logger = logger;
    this.#lifetimes = lifetimes;
    this.#saveDevice = saveDevice;
  }

  /** Creates the broker client and answers with the CONNECT tuple. */
  async issue(device: DeviceRecord, scopes: readonly string[]): Promise<IssuedCredential> {
    device.credentialVersion++;
    this.#saveDevice(device);
    const username = `realer-${device.clientId.replace(/^cdv_/, "cdv-")}-cred-v${device.credentialVersion}`;
    const password = randomSecret();
    const { expiresIn, renewAfter, sessionHardExpiresIn } = this.#lifetimes();
    await this.#service.dynsec(
      { command: "createRole", rolename: `role-${username}`, acls: aclsFor(device, scopes) },
      { command: "createClient", username, password, clientid: device.clientId, roles: [{ rolename: `role-${username}` }] },
    );
    const timer = setTimeout(() => void this.#remove(username, "expired"), Math.max(expiresIn, sessionHardExpiresIn) * 1000);
    this.#live.set(username, { username, deviceId: device.deviceId, timer });
    const history = [...(this.issued.get(device.deviceId) ?? []), new Secret(password)].slice(-10);
    this.issued.set(device.deviceId, history);
    this.#logger.info("credential.issued", { device_id: device.deviceId, username, expires_in: expiresIn });
    return {
      mqtt_client_id: device.clientId,
      mqtt_username: username,
      mqtt_credential: password,
      expires_in: expiresIn,
      renew_after: renewAfter,
      session_hard_expires_in: sessionHardExpiresIn,
    };
  }

  /** Deletes every live credential of a device: a connected session is kicked (DISCONNECT 0x98). */
  async revoke(deviceId: number): Promise<number> {
    const mine = [...this.#live.values()].filter((live) => live.deviceId === deviceId);
    for (const live of mine) await this.#remove(live.username, "revoked");
    return mine.length;
  }

  /** Forgets all timers; the broker's store goes with the broker. */
  stop(): void {
    for (const live of this.#live.values()) clearTimeout(live.timer);
    this.#live.clear();
  }

  async #remove(username: string, why: string): Promise<void> {
    const live = this.#live.get(username);
    if (!live) return;
    clearTimeout(live.timer);
    this.#live.delete(username);
    try {
      await this.#service.dynsec(
        { command: "deleteClient", username },
        { command: "deleteRole", rolename: `role-${username}` },
      );
      this.#logger.info(`credential.${why}`, { device_id: live.deviceId, username });
    } catch (error) {
      this.#logger.warn("credential.remove_failed", { username, error: error instanceof Error ? error.message : String(error) });
    }
  }
}
