// The look both consoles share: readable on a phone, light or dark with the system, no web fonts
// or anything else fetched from the Internet.
export const STYLE = `
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --text: #1b1f24; --muted: #5d6670; --line: #dfe3e8;
  --accent: #1f6feb; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --on: #2da44e; --off: #8c959f; }
@media (prefers-color-scheme: dark) { :root { --bg: #0d1117; --card: #161b22; --text: #e6edf3; --muted: #8d96a0; --line: #30363d;
  --accent: #4493f8; --ok: #3fb950; --bad: #f85149; --warn: #d29922; --on: #3fb950; --off: #6e7681; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); }
header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; justify-content: space-between; padding: .8rem 1rem; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { font-size: 1.1rem; margin: 0; }
header .sub { color: var(--muted); font-size: .85rem; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; display: grid; gap: 1rem; }
main > *, .cards > * { min-width: 0; }
.cards { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(15rem, 1fr)); }
section, .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: .9rem 1rem; }
h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 .6rem; }
dl { display: grid; grid-template-columns: auto 1fr; gap: .25rem .8rem; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .45rem .5rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { color: var(--muted); font-weight: 500; font-size: .85rem; }
.scroll { overflow-x: auto; }
.badge { display: inline-block; padding: .05rem .55rem; border-radius: 999px; font-size: .8rem; font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.badge.ok, .badge.accepted, .badge.replayed, .badge.applied { color: var(--ok); }
.badge.bad, .badge.rejected, .badge.conflict, .badge.error { color: var(--bad); }
.badge.warn, .badge.stale, .badge.duplicate { color: var(--warn); }
.badge.muted { color: var(--muted); }
.level { display: inline-flex; align-items: center; gap: .35rem; font-weight: 600; }
.level::before { content: ""; width: .7rem; height: .7rem; border-radius: 50%; background: var(--off); }
.level.active::before { background: var(--on); box-shadow: 0 0 0 3px color-mix(in srgb, var(--on) 25%, transparent); }
button, input, select { font: inherit; }
button { cursor: pointer; border: 1px solid var(--line); background: var(--bg); color: var(--text); border-radius: 8px; padding: .35rem .8rem; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button:disabled { opacity: .5; cursor: default; }
input[type=text], input[type=password], input[type=number] { border: 1px solid var(--line); background: var(--bg); color: var(--text); border-radius: 8px; padding: .35rem .5rem; min-width: 0; }
ol.events { list-style: none; margin: 0; padding: 0; max-height: 22rem; overflow-y: auto; font-size: .9rem; }
ol.events li { display: grid; grid-template-columns: 5.5rem 6rem 1fr; gap: .5rem; padding: .3rem 0; border-bottom: 1px solid var(--line); }
ol.events time { color: var(--muted); font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85em; overflow-wrap: anywhere; }
.notice { border-left: 4px solid var(--warn); padding: .6rem .8rem; background: var(--card); }
form.inline { display: inline-flex; gap: .4rem; align-items: center; flex-wrap: wrap; }
@media (max-width: 40rem) { ol.events li { grid-template-columns: 4.8rem 1fr; } ol.events li .kind { display: none; } .hide-sm { display: none; } }
`;
