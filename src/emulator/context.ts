import type { Context } from "hono";
import type { Logger } from "../log.ts";
import type { CredentialIssuer } from "./credentials.ts";
import type { Faults } from "./faults.ts";
import type { DesiredRecord, DeviceRecord, EmulatorState, RouteRecord, TokenRecord } from "./state.ts";

/** The catalog `limits` the emulator announces (section 3). */
export interface Limits {
  readonly max_payload_bytes: number;
  readonly max_inflight: number;
  readonly max_publish_per_second: number;
  readonly keepalive_seconds: number;
  readonly session_expiry_seconds: number;
}

/** The default limits, as in the spec's example. */
export const DEFAULT_LIMITS: Limits = {
  max_payload_bytes: 4096,
  max_inflight: 20,
  max_publish_per_second: 20,
  keepalive_seconds: 60,
  session_expiry_seconds: 3600,
};

/** Everything the emulator's HTTP routes need, passed in by the emulator. */
export interface EmulatorDeps {
  readonly state: EmulatorState;
  readonly issuer: CredentialIssuer;
  readonly limits: Limits;
  readonly logger: Logger;
  brokerUrl(): string;
  now(): number;
  /** Whether the device is offered MQTT (a `credential_endpoint` in its catalog). */
  mqttOffered(device: DeviceRecord): boolean;
  setMqttOffered(deviceId: number, offered: boolean): void;
  /** How often an HTTPS device may poll desired states (the bootstrap's cadence). */
  readonly desiredPollSeconds: number;
  /** Whether the bootstrap descriptor is served (a 404 plays an older server). */
  bootstrapServed(): boolean;
  publishDesired(device: DeviceRecord, route: RouteRecord, value: string, expiresIn: number): Promise<DesiredRecord>;
  /** The fault switches, changed in place by the operator API. */
  readonly faults: Faults;
  /** Stops, starts or restarts the broker. */
  controlBroker(action: "stop" | "start" | "restart"): Promise<void>;
  /** Deletes a device's live credentials; a connected session is kicked. */
  revokeCredentials(deviceId: number): Promise<number>;
}

/** The JSON error body of section 7. */
export function apiError(c: Context, status: 400 | 401 | 403 | 404 | 409 | 429 | 500 | 503, code: number, error: string): Response {
  return c.json({ code, error }, status);
}

/** Checks the bearer token and its scope; answers 401/403 with the JSON `code` otherwise. */
export function authorize(
  deps: EmulatorDeps,
  c: Context,
  scope: string,
): { token: TokenRecord; device: DeviceRecord } | Response {
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  const token = match ? deps.state.tokens.get(match[1] ?? "") : undefined;
  if (!token || token.expiresAt <= deps.now()) {
    c.header("WWW-Authenticate", 'Bearer error="invalid_token"');
    return apiError(c, 401, 4001, "missing, unknown or expired bearer token");
  }
  if (!token.scopes.includes(scope)) return apiError(c, 403, 4003, `the token lacks scope ${scope}`);
  const device = deps.state.devices.get(token.deviceId);
  if (!device) return apiError(c, 401, 4001, "the token's device no longer exists");
  return { token, device };
}
