// The device console's page: server-rendered from a snapshot, then kept current by a small
// script that listens to server-sent events. No build step, nothing fetched from elsewhere.
import type { UpdateView } from "../update/board-view.ts";
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { VERSION } from "../version.ts";
import type { ConsoleEvent } from "./device-monitor.ts";
import { describeFailSafes, type RouteRow, type Snapshot } from "./device-snapshot.ts";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

const clock = (at: number) => new Date(at).toISOString().slice(11, 19);

function level(value: string | null, range: RouteRow["range"] = null): Html {
  if (value === null) return html`<span class="muted">–</span>`;
  if (range !== null) return html`<span class="level ${Number(value) > range.min ? "active" : ""}">${value}</span>`;
  return html`<span class="level ${value === "1.0" ? "active" : ""}">${value === "1.0" ? "active" : "inactive"}</span>`;
}

/** A command route's control: a switch's button, or a level output's slider. */
function control(route: RouteRow): Html | string {
  if (route.type !== "command" || route.physical === null) return "";
  if (route.range !== null) {
    const { min, max, step } = route.range;
    return html`
      <input type="range" data-level="${route.key}" min="${min}" max="${max}" step="${step}" value="${route.physical}"
        aria-label="Level of ${route.label}">
    `;
  }
  return html`<button class="primary" data-toggle="${route.key}" data-value="${route.physical === "1.0" ? "0" : "1"}">${
    route.physical === "1.0" ? "Turn off" : "Turn on"
  }</button>`;
}

function routeRow(route: RouteRow): Html {
  const ack = route.ack;
  return html`
    <tr data-route="${route.key}">
      <td><strong>${route.label}</strong><div class="muted hide-sm">${route.type} · <span class="mono">${route.name}</span></div></td>
      <td class="mono hide-sm">${route.source}${route.local === null
        ? ""
        : html`<div class="muted" data-cell="local">${route.local}</div>`}</td>
      <td class="hide-sm" data-cell="desired">${route.desired?.value ?? "–"}</td>
      <td class="hide-sm" data-cell="reported">${route.reported?.value ?? "–"}</td>
      <td data-cell="physical">${level(route.physical, route.range)}</td>
      <td data-cell="ack">${ack ? html`<span class="badge ${ack.status}">${ack.status}</span>` : html`<span class="muted">–</span>`}</td>
      <td>${control(route)}</td>
    </tr>
  `;
}

function eventItem(event: ConsoleEvent, names: ReadonlyMap<string, string>): Html {
  return html`<li><time>${clock(event.at)}</time><span class="kind"><span class="badge ${
    event.kind === "applied" || event.kind === "online"
      ? "ok"
      : event.kind === "rejected" || event.kind === "offline"
      ? "bad"
      : event.kind === "stale" || event.kind === "duplicate"
      ? "warn"
      : "muted"
  }">${event.kind}</span></span><span>${
    event.route
      ? html`
        <strong>${names.get(event.route) ?? event.route}</strong>
      `
      : ""
  }${event.text}</span></li>`;
}

/** What the updater says, after the version: the slot, a trial, the last refusal (its text is escaped by html``). */
function updateLine(update: UpdateView | null): Html | string {
  if (!update) return "";
  const trial = update.trial
    ? html`
      · on trial: release ${update.trial.release} (${update.trial.version}), start ${update.trial.attempts}
    `
    : update.committed
    ? html`
      · committed release ${update.committed.release}
    `
    : "";
  const last = update.last_refusal
    ? html`
      · last: ${update.last_refusal.text.slice(0, 160)}
    `
    : "";
  return html`
    · slot ${update.slot ?? "none"}${trial}${last}
  `;
}

/** The whole page for `snapshot`. */
export function devicePage(snapshot: Snapshot): Html {
  const { status } = snapshot;
  const names = new Map(snapshot.routes.map((route) => [route.key, route.label]));
  const deadline = (at: number | null) => (at === null ? html`<span class="muted">–</span>` : html`<span data-deadline="${at}">…</span>`);
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>realer-edge · device ${status.device_id}</title>
        <link rel="stylesheet" href="style.css">
        <script src="app.js" defer></script>
      </head>
      <body>
        <header>
          <div>
            <h1>realer-edge · device ${status.device_id}</h1>
            <div class="sub">firmware ${VERSION}${updateLine(snapshot.update)} · local console</div>
          </div>
          <span id="connection" class="badge ${status.connected ? "ok" : "bad"}">${status.connected
            ? `connected over ${status.transport}`
            : status.transport === "https"
            ? "HTTPS runtime"
            : "offline"}</span>
        </header>
        <main>
          <p id="trouble" class="notice" ${status.trouble === null && status.storage_error === null ? "hidden" : ""}>${[
            status.trouble,
            status.storage_error === null ? null : `The state file refuses writes: ${status.storage_error}`,
          ].filter((line) => line !== null).join(" · ")}</p>
          <p id="failsafe" class="notice" ${status.failsafes.length === 0 ? "hidden" : ""}>${describeFailSafes(status.failsafes)}</p>
          <div class="cards">
            <div class="card">
              <h2>Connection</h2>
              <dl>
                <dt>Transport</dt>
                <dd data-field="transport">${status.transport}</dd>
                <dt>Broker</dt>
                <dd class="mono" data-field="broker">${status.broker ?? "–"}</dd>
                <dt>Connected for</dt>
                <dd data-field="connected_since">${status.connected_since === null
                  ? "–"
                  : html`<span data-since="${status.connected_since}">…</span>`}</dd>
                <dt>Reconnects</dt>
                <dd data-field="reconnects">${status.reconnects}</dd>
              </dl>
            </div>
            <div class="card">
              <h2>Credentials</h2>
              <dl>
                <dt>MQTT renews in</dt>
                <dd data-field="credential_renew_at">${deadline(status.credential_renew_at)}</dd>
                <dt>MQTT expires in</dt>
                <dd data-field="credential_expires_at">${deadline(status.credential_expires_at)}</dd>
                <dt>Token renews in</dt>
                <dd data-field="token_renew_at">${deadline(status.token_renew_at)}</dd>
                <dt>Token expires in</dt>
                <dd data-field="token_expires_at">${deadline(status.token_expires_at)}</dd>
                <dt>Renewals</dt>
                <dd data-field="renewals">${status.renewals}</dd>
              </dl>
            </div>
            <div class="card">
              <h2>Outbox</h2>
              <dl>
                <dt>Waiting for ack</dt>
                <dd data-field="outbox_depth">${status.outbox_depth}</dd>
                <dt>Oldest waiting</dt>
                <dd data-field="outbox_oldest_at">${status.outbox_oldest_at === null
                  ? "–"
                  : html`<span data-since="${status.outbox_oldest_at}">…</span>`}</dd>
                <dt>Dropped</dt>
                <dd data-field="outbox_dropped">${status.outbox_dropped}</dd>
                <dt>Waiting for the clock</dt>
                <dd data-field="outbox_waiting_for_clock">${status.outbox_waiting_for_clock}</dd>
                <dt>Time from</dt>
                <dd data-field="time_source">${status.time_source}</dd>
              </dl>
            </div>
          </div>
          <section><h2>Routes</h2><div class="scroll"><table>
        <thead><tr><th>Route</th><th class="hide-sm">Line</th><th class="hide-sm">Desired</th><th class="hide-sm">Reported</th><th>Line reads</th><th>Last ack</th><th></th></tr></thead>
        <tbody id="routes">${snapshot.routes.map(routeRow)}</tbody>
      </table></div>
      ${snapshot.routes.length === 0
        ? html`<p class="muted">No route is bound yet: the catalog has not been read, or no config entry matches it.</p>`
        : ""}
      <p class="muted">A toggle acts like a wall switch: the line changes and the cloud gets a report without a desired_id.</p></section>
          <section>
            <h2>Recent events</h2>
            <ol class="events" id="events">${[...snapshot.events].reverse().map((event) => eventItem(event, names))}</ol>
          </section>
        </main>
      </body>
    </html>
  `;
}

/** The page asking for the access token, when a request came without it. */
export function tokenPage(wrong: boolean): Html {
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>realer-edge · access token</title>
        <link rel="stylesheet" href="style.css">
      </head>
      <body>
        <header>
          <div>
            <h1>realer-edge</h1>
            <div class="sub">local console</div>
          </div>
        </header>
        <main>
          <section>
      <h2>Access token needed</h2>
      <p>This console listens beyond this machine, so it asks for the access token set in the device's config (<span class="mono">console.token</span>). Enter it once; the browser keeps it for this console.</p>
      ${wrong ? html`<p class="notice">That token is not the one configured.</p>` : ""}
      <form class="inline" method="post" action="login"><input type="password" name="token" autocomplete="current-password" required aria-label="Access token"><button class="primary" type="submit">Open the console</button></form>
      <p class="muted">Scripts and scrapers send it as <span class="mono">Authorization: Bearer …</span> instead.</p>
          </section>
        </main>
      </body>
    </html>
  `;
}

/**
 * The page's script, served as app.js (the console's CSP allows no inline script): live updates
 * over server-sent events, countdowns, the toggles.
 */
export const CONSOLE_SCRIPT = `
(() => {
  const $ = (selector, root = document) => root.querySelector(selector);
  const two = (n) => String(n).padStart(2, "0");
  const span = (ms) => { const s = Math.max(0, Math.round(ms / 1000)); const h = Math.floor(s / 3600); const m = Math.floor(s / 60) % 60;
    return h > 0 ? h + "h " + two(m) + "m" : m + ":" + two(s % 60); };
  let skew = 0;
  const now = () => Date.now() + skew;
  function tick() {
    for (const el of document.querySelectorAll("[data-deadline]")) { const left = Number(el.dataset.deadline) - now(); el.textContent = left > 0 ? span(left) : "due"; }
    for (const el of document.querySelectorAll("[data-since]")) el.textContent = span(now() - Number(el.dataset.since));
  }
  const text = (value) => (value === null || value === undefined ? "–" : String(value));
  function timed(field, at, kind) {
    const dd = $('[data-field="' + field + '"]'); if (!dd) return;
    dd.textContent = "";
    if (at === null) { dd.textContent = "–"; return; }
    const el = document.createElement("span"); el.dataset[kind] = String(at); dd.append(el);
  }
  function badge(status) { const b = document.createElement("span"); b.className = "badge " + status; b.textContent = status; return b; }
  function levelEl(value, range) {
    if (value === null) { const m = document.createElement("span"); m.className = "muted"; m.textContent = "–"; return m; }
    const el = document.createElement("span");
    if (range) { el.className = "level" + (Number(value) > range.min ? " active" : ""); el.textContent = value; return el; }
    el.className = "level" + (value === "1.0" ? " active" : ""); el.textContent = value === "1.0" ? "active" : "inactive"; return el;
  }
  const names = new Map();
  function render(snapshot) {
    const s = snapshot.status;
    skew = s.now - Date.now();
    const connection = $("#connection");
    connection.className = "badge " + (s.connected ? "ok" : "bad");
    connection.textContent = s.connected ? "connected over " + s.transport : s.transport === "https" ? "HTTPS runtime" : "offline";
    for (const field of ["transport", "broker", "reconnects", "renewals", "outbox_depth", "outbox_dropped", "outbox_waiting_for_clock", "time_source"]) { const dd = $('[data-field="' + field + '"]'); if (dd) dd.textContent = text(s[field]); }
    timed("connected_since", s.connected_since, "since");
    timed("outbox_oldest_at", s.outbox_oldest_at, "since");
    for (const field of ["credential_renew_at", "credential_expires_at", "token_renew_at", "token_expires_at"]) timed(field, s[field], "deadline");
    for (const route of snapshot.routes) {
      names.set(route.key, route.label);
      const row = document.querySelector('tr[data-route="' + CSS.escape(route.key) + '"]');
      if (!row) { location.reload(); return; }
      $('[data-cell="desired"]', row).textContent = text(route.desired && route.desired.value);
      $('[data-cell="reported"]', row).textContent = text(route.reported && route.reported.value);
      $('[data-cell="physical"]', row).replaceChildren(levelEl(route.physical, route.range));
      const slider = $("input[data-level]", row);
      if (slider && route.physical !== null && document.activeElement !== slider) slider.value = route.physical;
      const ack = $('[data-cell="ack"]', row); ack.replaceChildren(route.ack ? badge(route.ack.status) : levelEl(null));
      const button = $("button[data-toggle]", row);
      if (button && route.physical !== null) { const on = route.physical === "1.0"; button.dataset.value = on ? "0" : "1"; button.textContent = on ? "Turn off" : "Turn on"; }
    }
    const trouble = $("#trouble");
    const lines = [s.trouble, s.storage_error === null ? null : "The state file refuses writes: " + s.storage_error].filter((line) => line !== null);
    trouble.textContent = lines.join(" · ");
    trouble.hidden = lines.length === 0;
    const failsafe = $("#failsafe");
    failsafe.textContent = (s.failsafes || []).map((f) => f.state === "fired" ? "Fail-safe fired: " + f.route + " set to " + f.value + " (" + (f.reason || "no link") + ")" : "Fail-safe armed: " + f.route + " goes to " + f.value + " if the cloud stays away").join(" · ");
    failsafe.hidden = !s.failsafes || s.failsafes.length === 0;
    tick();
  }
  function addEvent(event) {
    const li = document.createElement("li");
    const time = document.createElement("time"); time.textContent = new Date(event.at).toISOString().slice(11, 19);
    const kind = document.createElement("span"); kind.className = "kind";
    const cls = event.kind === "applied" || event.kind === "online" ? "ok" : event.kind === "rejected" || event.kind === "offline" ? "bad" : event.kind === "stale" || event.kind === "duplicate" ? "warn" : "muted";
    const b = document.createElement("span"); b.className = "badge " + cls; b.textContent = event.kind; kind.append(b);
    const body = document.createElement("span");
    if (event.route) { const strong = document.createElement("strong"); strong.textContent = (names.get(event.route) || event.route) + " "; body.append(strong); }
    body.append(document.createTextNode(event.text));
    li.append(time, kind, body);
    const list = $("#events"); list.prepend(li);
    while (list.children.length > 50) list.lastElementChild.remove();
  }
  document.addEventListener("change", async (change) => {
    const slider = change.target.closest("input[data-level]"); if (!slider) return;
    slider.disabled = true;
    try {
      const answer = await fetch("api/routes/local", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ route: slider.dataset.level, value: Number(slider.value) }) });
      if (!answer.ok) alert((await answer.json()).error || "The level could not be set");
    } finally { slider.disabled = false; }
  });
  document.addEventListener("click", async (click) => {
    const button = click.target.closest("button[data-toggle]"); if (!button) return;
    button.disabled = true;
    try {
      const answer = await fetch("api/routes/local", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ route: button.dataset.toggle, value: Number(button.dataset.value) }) });
      if (!answer.ok) alert((await answer.json()).error || "The line could not be set");
    } finally { button.disabled = false; }
  });
  const stream = new EventSource("api/stream");
  stream.addEventListener("snapshot", (message) => render(JSON.parse(message.data)));
  stream.addEventListener("event", (message) => addEvent(JSON.parse(message.data)));
  stream.onerror = () => { const c = $("#connection"); c.className = "badge warn"; c.textContent = "console reconnecting"; };
  setInterval(tick, 1000);
  tick();
})();
`;
