// A self-contained page of latency histograms (inline SVG, no script), so a reader can look.
import type { Row } from "./stats.ts";

interface Samples {
  readonly floors: Readonly<Record<string, readonly number[]>>;
  readonly devices: readonly {
    readonly name: string;
    readonly rows: readonly Row[];
    readonly samples: Readonly<Record<string, readonly number[]>>;
  }[];
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** One histogram of `samples` (milliseconds), 40 bins up to their p99.5. */
function histogram(title: string, samples: readonly number[]): string {
  if (samples.length === 0) return "";
  const sorted = [...samples].sort((a, b) => a - b);
  const top = sorted[Math.floor(sorted.length * 0.995)] ?? sorted.at(-1)!;
  const bins = new Array<number>(40).fill(0);
  for (const x of sorted) bins[Math.min(39, Math.floor((x / (top || 1)) * 40))]!++;
  const max = Math.max(...bins);
  const bars = bins.map((count, i) =>
    `<rect x="${i * 12}" y="${100 - (count / max) * 100}" width="11" height="${(count / max) * 100}" fill="#2563eb"><title>${
      ((i / 40) * top).toFixed(3)
    }–${(((i + 1) / 40) * top).toFixed(3)} ms: ${count}</title></rect>`
  ).join("");
  const p50 = sorted[Math.floor(sorted.length / 2)]!;
  return `<figure><figcaption>${escape(title)} — n ${sorted.length}, p50 ${p50.toFixed(3)} ms, p99 ${
    sorted[Math.floor(sorted.length * 0.99)]!.toFixed(3)
  } ms</figcaption>
<svg viewBox="0 0 480 115" width="480" height="115" role="img"><g>${bars}</g><text x="0" y="113" font-size="9">0</text><text x="440" y="113" font-size="9">${
    top.toFixed(2)
  } ms</text></svg></figure>`;
}

/** The page. */
export function histogramPage(data: Samples): string {
  const floors = Object.entries(data.floors).map(([name, samples]) => histogram(`floor: ${name}`, samples)).join("\n");
  const devices = data.devices.map((device) =>
    `<h2>${escape(device.name)}</h2>
<table>${
      device.rows.map((row) =>
        `<tr><td>${escape(row.figure)}</td><td>${row.measured.toFixed(3)} ${row.unit}</td><td>${
          row.goal ? `${row.goal.kind === "max" ? "≤" : "≥"} ${row.goal.value.toFixed(3)} (${escape(row.goal.how)})` : ""
        }</td></tr>`
      ).join("")
    }</table>
${Object.entries(device.samples).map(([name, samples]) => histogram(name, samples)).join("\n")}`
  ).join("\n");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>realer-edge benchmark</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;max-width:1000px}figure{display:inline-block;margin:1rem}td{padding:.2rem .6rem;border-bottom:1px solid #ddd}</style></head>
<body><h1>realer-edge: the durable path</h1><p>Generated ${new Date().toISOString()}. Hover a bar for its range and count.</p>
<h2>Floors measured in the same run</h2>${floors}${devices}</body></html>`;
}
