// A self-contained HTML report of a HIL run: per scenario, each line's level over time with the
// desired states, reports, acks, faults and restarts marked, and the steps beneath, so that a
// failure is seen at a glance. No script, no external resource.
import type { ScenarioResult } from "./run-scenario.ts";
import { escapeMarkup } from "./escape-markup.ts";

const WIDTH = 1000;
const LEFT = 90;
const LANE = 46;
const ACK_COLOURS: Record<string, string> = {
  accepted: "#1a7f37",
  replayed: "#0969da",
  conflict: "#cf222e",
  rejected: "#cf222e",
  error: "#cf222e",
};

function timeline(result: ScenarioResult): string {
  const { record, scenario } = result;
  const start = record.startedAt;
  const end = Math.max(start + 1, ...record.steps.map((step) => step.endedAt), ...record.reports.map((report) => report.at));
  const x = (at: number) => LEFT + ((at - start) / (end - start)) * (WIDTH - LEFT - 10);
  const routes = scenario.routes.map((route) => route.name);
  const top = 24;
  const height = top + routes.length * LANE + 20;
  const parts: string[] = [];
  // Step bands: failed in red, the rest alternating.
  record.steps.forEach((step, i) => {
    if (step.status === "skipped") return;
    const fill = step.status === "failed" ? "#ffebe9" : i % 2 === 0 ? "#f6f8fa" : "#ffffff";
    parts.push(
      `<rect x="${x(step.startedAt).toFixed(1)}" y="${top - 4}" width="${
        Math.max(1, x(step.endedAt) - x(step.startedAt)).toFixed(1)
      }" height="${routes.length * LANE}" fill="${fill}"><title>${
        escapeMarkup(`${step.index + 1}. ${step.text}: ${step.status}${step.message ? ` — ${step.message}` : ""}`)
      }</title></rect>`,
    );
  });
  routes.forEach((route, lane) => {
    const y0 = top + lane * LANE;
    const high = y0 + 6;
    const low = y0 + 26;
    parts.push(`<text x="4" y="${y0 + 20}" class="lane">${escapeMarkup(route)}</text>`);
    parts.push(`<line x1="${LEFT}" x2="${WIDTH - 10}" y1="${low}" y2="${low}" class="axis"/>`);
    const points = record.levels.get(route) ?? [];
    if (points.length > 0) {
      let d = `M ${x(points[0]!.at).toFixed(1)} ${points[0]!.level ? high : low}`;
      for (const point of points.slice(1)) d += ` H ${x(point.at).toFixed(1)} V ${point.level ? high : low}`;
      d += ` H ${x(end).toFixed(1)}`;
      parts.push(`<path d="${d}" class="level"/>`);
    }
    for (const marker of record.markers.filter((candidate) => candidate.kind === "desired" && candidate.route === route)) {
      const mx = x(marker.at);
      parts.push(
        `<path d="M ${(mx - 5).toFixed(1)} ${y0 - 2} h 10 l -5 7 z" class="desired"><title>${
          escapeMarkup(`desired ${marker.text} at ${record.rel(marker.at)}`)
        }</title></path>`,
      );
    }
    for (const report of record.reports.filter((candidate) => candidate.route === route)) {
      const colour = report.ack ? ACK_COLOURS[report.ack] ?? "#6e7781" : "#6e7781";
      const title = `${report.desiredId ? `report ${report.reportStatus}` : "reading"} ${report.value}, ack ${report.ack ?? "none"} at ${
        record.rel(report.at)
      }`;
      parts.push(
        `<circle cx="${x(report.at).toFixed(1)}" cy="${y0 + 36}" r="4" fill="${
          report.desiredId ? "#ffffff" : colour
        }" stroke="${colour}" stroke-width="2"><title>${escapeMarkup(title)}</title></circle>`,
      );
    }
  });
  for (
    const marker of record.markers.filter((candidate) =>
      candidate.kind === "fault" || candidate.kind === "restart" || candidate.kind === "online"
    )
  ) {
    const mx = x(marker.at).toFixed(1);
    parts.push(
      `<line x1="${mx}" x2="${mx}" y1="${top - 10}" y2="${top + routes.length * LANE}" class="${marker.kind}"><title>${
        escapeMarkup(`${marker.text} at ${record.rel(marker.at)}`)
      }</title></line>`,
    );
    parts.push(`<text x="${mx}" y="${top - 12}" class="mark">${escapeMarkup(marker.text)}</text>`);
  }
  parts.push(
    `<text x="${LEFT}" y="${height - 4}" class="tick">0 s</text><text x="${WIDTH - 10}" y="${height - 4}" class="tick" text-anchor="end">${
      ((end - start) / 1000).toFixed(1)
    } s</text>`,
  );
  return `<svg viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="timeline of ${escapeMarkup(scenario.name)}">${
    parts.join("")
  }</svg>`;
}

function steps(result: ScenarioResult): string {
  const rows = result.record.steps.map((step) => {
    const at = `${result.record.rel(step.startedAt)}`;
    return `<tr class="${step.status}"><td>${step.index < 0 ? "" : step.index + 1}</td><td>${
      escapeMarkup(step.text)
    }</td><td>${at}</td><td>${step.endedAt - step.startedAt} ms</td><td>${step.status}${
      step.message ? `<div class="why">${escapeMarkup(step.message)}</div>` : ""
    }</td></tr>`;
  });
  return `<table><thead><tr><th>#</th><th>step</th><th>at</th><th>took</th><th>result</th></tr></thead><tbody>${
    rows.join("")
  }</tbody></table>`;
}

/** The HTML report of a HIL run. */
export function reportHtml(results: readonly ScenarioResult[], title = "realer-edge hil"): string {
  const passed = results.filter((result) => result.passed).length;
  const sections = results.map((result) => `
<section class="${result.passed ? "pass" : "fail"}">
  <h2>${result.passed ? "✔" : "✘"} ${escapeMarkup(result.scenario.name)}</h2>
  <p class="meta">${escapeMarkup(result.scenario.path)} · rig ${escapeMarkup(result.rig)} · ${(result.durationMs / 1000).toFixed(1)} s${
    result.scenario.description ? ` · ${escapeMarkup(result.scenario.description)}` : ""
  }</p>
  ${timeline(result)}
  <p class="legend">line level (high up) · <span class="tri">▼</span> desired state · ● reading, ○ answer to a desired state: <b style="color:#1a7f37">accepted</b>, <b style="color:#0969da">replayed</b>, <b style="color:#cf222e">rejected/error</b>, <b style="color:#6e7781">no ack</b> · dashed: fault, restart, online</p>
  ${steps(result)}
  ${result.deviceTail ? `<details><summary>device output</summary><pre>${escapeMarkup(result.deviceTail)}</pre></details>` : ""}
</section>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeMarkup(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1f2328}
h1{font-size:1.3rem}h2{font-size:1.1rem;margin:.2rem 0}
section{border:1px solid #d0d7de;border-radius:6px;padding:.8rem 1rem;margin:1rem 0}
section.fail{border-color:#cf222e}section.fail h2{color:#cf222e}section.pass h2{color:#1a7f37}
.meta,.legend{color:#57606a;margin:.2rem 0 .6rem}
table{border-collapse:collapse;width:100%;margin-top:.6rem}td,th{text-align:left;padding:2px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
tr.failed td{background:#ffebe9}tr.skipped td{color:#8c959f}.why{color:#cf222e;white-space:pre-wrap}
svg .lane{font-size:12px;font-weight:600}svg .axis{stroke:#d0d7de}svg .level{fill:none;stroke:#0550ae;stroke-width:2}
svg .desired{fill:#8250df}svg .fault{stroke:#bc4c00;stroke-dasharray:4 3}svg .restart{stroke:#cf222e;stroke-dasharray:4 3}svg .online{stroke:#1a7f37;stroke-dasharray:2 4}
svg .mark{font-size:10px;fill:#57606a}svg .tick{font-size:10px;fill:#57606a}
pre{white-space:pre-wrap;font-size:12px;background:#f6f8fa;padding:.5rem}.tri{color:#8250df}
</style></head><body>
<h1>${escapeMarkup(title)}: ${passed} of ${results.length} scenario(s) passed</h1>
${sections.join("\n")}
</body></html>
`;
}
