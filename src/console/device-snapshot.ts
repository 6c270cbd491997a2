// The device console's data, as the JSON API returns it and the page shows it. Built from the
// runtime's status and the monitor; it holds no secret (no password, token or client secret).
import type { DeviceRuntime } from "../device/runtime.ts";
import type { ConsoleEvent, DeviceMonitor, RouteActivity } from "./device-monitor.ts";
import type { UpdateView } from "../update/board-view.ts";

/** `/api/status`. */
export interface StatusView {
  readonly device_id: string;
  readonly now: number;
  readonly transport: string;
  readonly broker: string | null;
  readonly connected: boolean;
  readonly connected_since: number | null;
  readonly reconnects: number;
  readonly renewals: number;
  readonly credential_renew_at: number | null;
  readonly credential_expires_at: number | null;
  readonly token_renew_at: number | null;
  readonly token_expires_at: number | null;
  readonly outbox_depth: number;
  readonly outbox_oldest_at: number | null;
  readonly outbox_dropped: number;
  /** Messages observed while the time was unknown, waiting for it. */
  readonly outbox_waiting_for_clock: number;
  /** Why the time is believed, or "unknown". */
  readonly time_source: string;
  /** What keeps the device from its cloud beyond a passing fault, or null. */
  readonly trouble: string | null;
  /** The state file's failure while it refuses writes, or null. */
  readonly storage_error: string | null;
  /** Each output's fail-safe that is armed or has fired (idle ones are left out). */
  readonly failsafes: readonly FailSafeView[];
}

/** An output's fail-safe as the console shows it. */
export interface FailSafeView {
  readonly route: string;
  readonly value: number;
  readonly state: "armed" | "fired";
  readonly fires_at: number | null;
  readonly fired_at: number | null;
  readonly reason: string | null;
}

/** One line for the console's notice: what each fail-safe is about to do, or did. */
export function describeFailSafes(failsafes: readonly FailSafeView[]): string {
  return failsafes.map((failsafe) =>
    failsafe.state === "fired"
      ? `Fail-safe fired: ${failsafe.route} set to ${failsafe.value} (${failsafe.reason ?? "no link"})`
      : `Fail-safe armed: ${failsafe.route} goes to ${failsafe.value} if the cloud stays away`
  ).join(" · ");
}

/** One entry of `/api/routes`. */
export interface RouteRow extends RouteActivity {
  readonly key: string;
  readonly name: string;
  readonly type: "command" | "sensor";
  readonly kind: string | null;
  /** A short label: the kind and pin, as a person calls the route. */
  readonly label: string;
  readonly source: string;
  readonly physical: string | null;
  /** Which input drives which output on the board, in words, if this route takes part. */
  readonly local: string | null;
  /** A level output's range and step (a dimmer); null for a line. */
  readonly range: { readonly min: number; readonly max: number; readonly step: number } | null;
}

/** Everything the page shows at once. */
export interface Snapshot {
  readonly status: StatusView;
  readonly routes: readonly RouteRow[];
  readonly events: readonly ConsoleEvent[];
  /** The updater: the slot running, the committed release, the trial, the last refusal; null without one. */
  readonly update: UpdateView | null;
}

/** The status as the console shows it. */
export function statusView(runtime: DeviceRuntime, deviceId: string | number, now: number): StatusView {
  const status = runtime.status();
  const link = status.link;
  return {
    device_id: String(deviceId),
    now,
    transport: status.transport ?? "starting",
    broker: status.broker ?? null,
    connected: link?.connected ?? false,
    connected_since: link?.connectedSince ?? null,
    reconnects: link?.reconnects ?? 0,
    renewals: link?.renewals ?? 0,
    credential_renew_at: link?.connected ? link.credentialRenewAt ?? null : null,
    credential_expires_at: link?.connected ? link.credentialExpiresAt ?? null : null,
    token_renew_at: status.token?.renewAt ?? null,
    token_expires_at: status.token?.expiresAt ?? null,
    outbox_depth: status.outbox.depth,
    outbox_oldest_at: status.outbox.oldestAt ?? null,
    outbox_dropped: status.outbox.stats.dropped,
    outbox_waiting_for_clock: status.outbox.stats.waitingForClock,
    time_source: status.time,
    trouble: status.trouble ?? null,
    storage_error: status.storage.failing ? status.storage.error ?? "writes fail" : null,
    failsafes: status.failsafes.filter((failsafe) => failsafe.state !== "idle").map((failsafe) => ({
      route: failsafe.route,
      value: failsafe.value,
      state: failsafe.state === "fired" ? "fired" as const : "armed" as const,
      fires_at: failsafe.firesAt ?? null,
      fired_at: failsafe.firedAt ?? null,
      reason: failsafe.reason ?? null,
    })),
  };
}

/** Every bound route with its line's value and its recent activity. */
export async function routeRows(runtime: DeviceRuntime, monitor: DeviceMonitor): Promise<RouteRow[]> {
  return (await runtime.routeViews()).map((view) => ({
    ...monitor.activity(view.key),
    key: view.key,
    name: view.name,
    type: view.type,
    kind: view.kind ?? null,
    label: `${view.kind ?? view.type}${view.pinPort === undefined ? "" : ` · pin ${view.pinPort}`}`,
    source: view.source,
    physical: view.physical ?? null,
    local: view.local ?? null,
    range: view.range === undefined ? null : { min: view.range.min, max: view.range.max, step: 10 ** -view.range.decimals },
  }));
}

/** The whole page's data. */
export async function snapshot(runtime: DeviceRuntime, monitor: DeviceMonitor, deviceId: string | number, now: number): Promise<Snapshot> {
  return {
    status: statusView(runtime, deviceId, now),
    routes: await routeRows(runtime, monitor),
    events: monitor.recent(),
    update: monitor.update() ?? null,
  };
}
