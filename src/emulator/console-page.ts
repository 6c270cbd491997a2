// The emulator console's page: devices and routes with their latest feed data and acks, buttons
// that set desired values, the fault switches, and provisioning. Server-rendered; a small script
// keeps it live over server-sent events and sends the operator API's requests.
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { STYLE } from "../console/style.ts";
import type { AckMessage, DeviceRecord, FeedEntry, RouteRecord } from "./state.ts";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** What the page shows. */
export interface ConsoleData {
  readonly apiUrl: string;
  readonly devices: readonly DeviceRecord[];
  readonly lastFeed: (route: RouteRecord) => FeedEntry | undefined;
  readonly lastAck: (route: RouteRecord) => AckMessage | undefined;
  readonly recentFeed: readonly FeedEntry[];
  readonly faults: Record<string, unknown>;
  readonly mqttOffered: (device: DeviceRecord) => boolean;
}

const clock = (iso: string) => iso.slice(11, 19);
const valueOf = (entry: FeedEntry | undefined) => (entry?.payload as { value?: unknown } | undefined)?.value;

function routeRow(route: RouteRecord, data: ConsoleData): Html {
  const feed = data.lastFeed(route);
  const ack = data.lastAck(route);
  const value = valueOf(feed);
  return html`
    <tr data-route="${route.sourceId}" data-device="${route.deviceId}">
      <td><span class="mono">${route.sourceId}</span><div class="muted">${route.sourceType} · ${route.kind}${route.pinPort
        ? ` · pin ${route.pinPort}`
        : ""}</div></td>
      <td data-cell="value">${value === undefined ? html`<span class="muted">–</span>` : String(value)}</td>
      <td data-cell="ack">${ack ? html`<span class="badge ${ack.status}">${ack.status}</span>` : html`<span class="muted">–</span>`}</td>
      <td data-cell="at" class="muted">${feed ? clock(feed.receivedAt) : "–"}</td>
      <td>${route.sourceType === "command"
        ? html`
          <form class="inline" data-desired="${route.sourceId}" data-device="${route.deviceId}">
            <button type="button" class="primary" data-set="1.0">On</button>
            <button type="button" data-set="0.0">Off</button>
            <input type="text" name="value" size="5" placeholder="${route.min}–${route.max}"
              aria-label="Desired value for ${route.sourceId} (its range: ${route.min} to ${route.max})">
            <button type="submit">Set</button>
          </form>
        `
        : ""}</td>
    </tr>
  `;
}

function deviceCard(device: DeviceRecord, data: ConsoleData): Html {
  return html`
    <section data-device-card="${device.deviceId}">
      <h2>Device ${device.deviceId}</h2>
      <p class="muted"><span class="mono">${device.clientId}</span> · MQTT ${data.mqttOffered(device)
        ? "offered"
        : "withheld (HTTPS runtime)"}</p>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th>Route</th>
              <th>Last value</th>
              <th>Last ack</th>
              <th>At</th>
              <th>Desired</th>
            </tr>
          </thead>
          <tbody>${device.routes.map((route) => routeRow(route, data))}</tbody>
        </table>
      </div>
    </section>
  `;
}

function feedItem(entry: FeedEntry): Html {
  const payload = entry.payload as { value?: unknown; desired_id?: string; report_status?: string };
  return html`<li><time>${
    clock(entry.receivedAt)
  }</time><span class="kind"><span class="badge ${entry.status}">${entry.status}</span></span><span>device ${entry.deviceId} <span class="mono">${entry.sourceId}</span> = ${
    String(payload.value ?? "?")
  }${
    payload.desired_id
      ? html`
        <span class="muted">for ${payload.desired_id}${payload.report_status ? ` (${payload.report_status})` : ""}</span>
      `
      : html`
        <span class="muted">(no desired_id)</span>
      `
  }</span></li>`;
}

function faultsForm(faults: Record<string, unknown>): Html {
  const checked = (on: unknown) => (on === true ? "checked" : "");
  return html`
    <form id="faults" class="faults">
      <dl>
        <dt><label for="ack_mode">Acks</label></dt>
        <dd><select id="ack_mode" name="ack_mode">
            ${["normal", "error-retryable", "withhold"].map((mode) =>
              html`<option value="${mode}" ${faults.ack_mode === mode ? "selected" : ""}>${mode}</option>`
            )}
          </select></dd>
        <dt><label for="credential_lifetime_s">MQTT credential lifetime (s)</label></dt>
        <dd><input type="number" id="credential_lifetime_s" name="credential_lifetime_s" min="2" placeholder="default" value="${faults
            .credential_lifetime_s === null
          ? ""
          : String(faults.credential_lifetime_s)}"></dd>
        <dt><label for="subscription_inactive">Subscription inactive (4002)</label></dt>
        <dd><input type="checkbox" id="subscription_inactive" name="subscription_inactive" ${checked(faults.subscription_inactive)}></dd>
        <dt><label for="no_bootstrap">No bootstrap (older server)</label></dt>
        <dd><input type="checkbox" id="no_bootstrap" name="no_bootstrap" ${checked(faults.no_bootstrap)}></dd>
        <dt><label for="burst_status">HTTP error burst</label></dt>
        <dd class="inline"><select id="burst_status" name="burst_status"><option value="">none</option>${[429, 500, 502, 503].map((
          status,
        ) => html`<option value="${status}">${status}</option>`)}</select>
            <input type="number" name="burst_count" min="1" value="5" size="4" aria-label="Burst length"> <span class="muted">requests</span></dd>
      </dl>
      <p><button class="primary" type="submit">Apply</button> <span class="muted">On now:</span> <span id="faults-now">${faultSummary(
        faults,
      )}</span></p>
    </form>
  `;
}

/** The switches that are on, in a few words. */
export function faultSummary(faults: Record<string, unknown>): string {
  const on = Object.entries(faults)
    .filter(([key, value]) => value !== null && value !== false && !(key === "ack_mode" && value === "normal"))
    .map(([key, value]) => (value === true ? key : `${key} ${typeof value === "object" ? JSON.stringify(value) : String(value)}`));
  return on.length === 0 ? "no fault" : on.join(", ");
}

/** The whole page. */
export function consolePage(data: ConsoleData): Html {
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Realer emulator</title>
        <style>${raw(STYLE)}</style>
      </head>
      <body>
        <header><div><h1>Realer emulator</h1><div class="sub mono">${data
          .apiUrl}</div></div><span id="live" class="badge muted">connecting…</span></header>
        <main>
      <section><h2>Provision</h2>
        <p><button class="primary" id="provision">Provision a demo device</button> <span class="muted">a relay on pin 6 and a switch on pin 5</span></p>
        <div id="provisioned"></div>
        <p id="new-device" hidden class="notice">A device was added. <button type="button" id="show-new">Show it</button></p>
      </section>
      ${data.devices.length === 0
        ? html`
          <section>
            <p class="muted">No device yet.</p>
          </section>
        `
        : ""}
      ${data.devices.map((device) => deviceCard(device, data))}
      <section><h2>Feed data, live</h2><ol class="events" id="feed">${[...data.recentFeed].reverse().map(feedItem)}</ol></section>
      <section><h2>Fault switches</h2>${faultsForm(data.faults)}</section>
        </main>
        <script>${raw(CLIENT)}</script>
      </body>
    </html>
  `;
}

const CLIENT = `
(() => {
  const $ = (selector, root = document) => root.querySelector(selector);
  const api = (path, method, body) => fetch(path, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) })
    .then(async (answer) => { const json = await answer.json(); if (!answer.ok) throw new Error(json.error || answer.statusText); return json; });
  const badge = (status) => { const b = document.createElement("span"); b.className = "badge " + status; b.textContent = status; return b; };
  async function setDesired(form, value) {
    try { await api("devices/" + form.dataset.device + "/desired", "POST", { source_id: form.dataset.desired, value }); }
    catch (error) { alert("Cannot set the desired value: " + error.message); }
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-set]"); if (!button) return;
    setDesired(button.closest("form"), button.dataset.set);
  });
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.matches("form[data-desired]")) { event.preventDefault(); const value = form.elements.value.value.trim(); if (value) setDesired(form, value); form.elements.value.value = ""; }
    if (form.id === "faults") {
      event.preventDefault();
      const f = form.elements;
      const patch = { ack_mode: f.ack_mode.value, subscription_inactive: f.subscription_inactive.checked, no_bootstrap: f.no_bootstrap.checked,
        credential_lifetime_s: f.credential_lifetime_s.value === "" ? null : Number(f.credential_lifetime_s.value) };
      if (f.burst_status.value !== "") patch.http_burst = { status: Number(f.burst_status.value), count: Number(f.burst_count.value || 1) };
      api("faults", "PUT", patch).then((now) => {
        const on = Object.entries(now).filter(([key, value]) => value !== null && value !== false && !(key === "ack_mode" && value === "normal"))
          .map(([key, value]) => value === true ? key : key + " " + (typeof value === "object" ? JSON.stringify(value) : String(value)));
        $("#faults-now").textContent = on.length === 0 ? "no fault" : on.join(", ");
      }, (error) => alert(error.message));
    }
  });
  $("#provision").addEventListener("click", async () => {
    try {
      const made = await api("console/provision", "POST", {});
      const out = $("#provisioned"); out.replaceChildren();
      const p = document.createElement("p"); p.className = "notice";
      p.append("Device " + made.device_id + " is ready. Run it with: ");
      const code = document.createElement("code"); code.className = "mono"; code.textContent = made.command; p.append(code);
      p.append(" (its client secret is in a file beside that config, readable by you only; no page shows it)");
      out.append(p);
    } catch (error) { alert("Cannot provision: " + error.message); }
  });
  function addFeed(entry) {
    const li = document.createElement("li");
    const time = document.createElement("time"); time.textContent = entry.receivedAt.slice(11, 19);
    const kind = document.createElement("span"); kind.className = "kind"; kind.append(badge(entry.status));
    const text = document.createElement("span");
    const p = entry.payload || {};
    const source = document.createElement("span"); source.className = "mono"; source.textContent = entry.sourceId;
    const note = document.createElement("span"); note.className = "muted";
    note.textContent = p.desired_id ? " for " + p.desired_id + (p.report_status ? " (" + p.report_status + ")" : "") : " (no desired_id)";
    text.append("device " + entry.deviceId + " ", source, " = " + p.value, note);
    li.append(time, kind, text);
    const list = $("#feed"); list.prepend(li);
    while (list.children.length > 100) list.lastElementChild.remove();
    const row = document.querySelector('tr[data-route="' + CSS.escape(entry.sourceId) + '"]');
    if (row) { $('[data-cell="value"]', row).textContent = String(p.value); $('[data-cell="at"]', row).textContent = entry.receivedAt.slice(11, 19); }
  }
  function addAck(ack) {
    const row = document.querySelector('tr[data-route="' + CSS.escape(ack.source_id) + '"]');
    if (row) $('[data-cell="ack"]', row).replaceChildren(badge(ack.status));
  }
  const stream = new EventSource("console/stream");
  stream.onopen = () => { const live = $("#live"); live.className = "badge ok"; live.textContent = "live"; };
  stream.onerror = () => { const live = $("#live"); live.className = "badge warn"; live.textContent = "reconnecting"; };
  stream.addEventListener("feed", (message) => addFeed(JSON.parse(message.data)));
  stream.addEventListener("ack", (message) => addAck(JSON.parse(message.data)));
  stream.addEventListener("device", () => { $("#new-device").hidden = false; });
  $("#show-new").addEventListener("click", () => location.reload());
})();
`;
