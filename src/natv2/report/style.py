"""The page's stylesheet, inlined into index.html (no external fonts or files: the page works offline).

Kept in Python so it ships with the package without package-data settings.
"""

CSS = """\
:root {
  --ink: #1f2933; --muted: #6b7280; --line: #e5e7eb; --soft: #f6f7f9; --accent: #1f5fa8;
  --warn-bg: #fff7e6; --warn-line: #f0b429; --info-bg: #eef4fb; --info-line: #9cc0e8;
  --pick-bg: #fef9e7; --ok: #15803d;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
}
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.layout { display: grid; grid-template-columns: 230px minmax(0, 1fr); max-width: 1480px; margin: 0 auto; }
nav.toc {
  position: sticky; top: 0; align-self: start; height: 100vh; overflow-y: auto;
  padding: 28px 18px 28px 24px; border-right: 1px solid var(--line); font-size: 13.5px;
}
nav.toc .brand { font-weight: 650; font-size: 14px; margin-bottom: 14px; letter-spacing: .01em; }
nav.toc ol { list-style: none; margin: 0; padding: 0; }
nav.toc li { margin: 3px 0; }
nav.toc ol ol { margin: 2px 0 6px 12px; font-size: 12.5px; }
nav.toc ol ol a { color: var(--muted); }
nav.toc li.absent { color: #9ca3af; }
nav.toc li.absent span { font-size: 11.5px; }
main { padding: 28px 32px 60px; min-width: 0; }
header.top h1 { font-size: 26px; line-height: 1.25; margin: 0 0 4px; font-weight: 650; }
header.top .meta { color: var(--muted); font-size: 13px; margin: 0 0 18px; }
section { margin: 0 0 44px; }
section > h2 { font-size: 20px; font-weight: 650; margin: 26px 0 12px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15.5px; font-weight: 650; margin: 26px 0 10px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 8px 0 12px; font-size: 14px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.table-wrap { overflow-x: auto; margin: 6px 0 6px; }
table.data { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
table.data caption { caption-side: top; text-align: left; color: var(--muted); font-size: 12.5px; padding: 0 0 4px; }
table.data th, table.data td { padding: 4px 7px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; white-space: nowrap; }
table.data th { font-weight: 600; color: #374151; background: var(--soft); border-bottom: 1px solid #d1d5db; white-space: normal; vertical-align: bottom; line-height: 1.25; }
table.data td.files { white-space: normal; min-width: 170px; max-width: 220px; line-height: 1.35; }
table.data td.num, table.data th.num { text-align: right; }
table.data tbody tr:hover { background: #fafbfc; }
table.data tr.pick { background: var(--pick-bg); }
table.data tr.muted td { color: #9ca3af; }
table.data .sub { display: block; color: var(--muted); font-size: 11px; white-space: normal; }
.pick-badge { color: #a16207; font-weight: 600; white-space: nowrap; }
.links a { margin-right: 8px; white-space: nowrap; display: inline-block; }
.status.ok { color: var(--ok); font-weight: 600; }
.status.warn { color: #b45309; font-weight: 600; }
.status.muted { color: #9ca3af; }
figure { margin: 8px 0 14px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
figcaption, p.caption { color: var(--muted); font-size: 12.5px; max-width: 980px; margin: 4px 0 8px; }
figure figcaption { width: 0; min-width: 100%; }  /* as wide as the image, never wider */
.svg-fronts { display: flex; flex-wrap: wrap; gap: 8px 28px; }
.front-svg { max-width: 100%; height: auto; font: 11px system-ui, sans-serif; background: #fff; }
.front-svg .grid { stroke: #e5e7eb; stroke-width: 1; }
.front-svg .frame { fill: none; stroke: #d1d5db; stroke-width: 1; }
.front-svg .tick { fill: #6b7280; }
.front-svg .label { fill: #374151; }
.front-svg .pt { fill: #2563eb; fill-opacity: 0.75; stroke: #fff; stroke-width: 1; }
.front-svg .pt.linked { fill: #d97706; cursor: pointer; }
.front-svg .pt:hover, .front-svg a:focus .pt { stroke: #111827; stroke-width: 2; }
table.data tr:target { outline: 2px solid #d97706; background: #fef3c7; }
.figs { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: flex-start; }
.figs > figure { flex: 0 1 auto; }
.figs .aside { flex: 0 1 340px; margin-top: 8px; }
div.note, p.note { padding: 8px 12px; border-radius: 4px; font-size: 13.5px; margin: 8px 0 12px; max-width: 980px; }
div.note.info, p.note.info { background: var(--info-bg); border-left: 3px solid var(--info-line); }
div.note.warn, p.note.warn { background: var(--warn-bg); border-left: 3px solid var(--warn-line); }
ul.problems { margin: 4px 0 0 18px; padding: 0; }
details { margin: 14px 0; }
details summary { cursor: pointer; color: var(--accent); font-size: 13.5px; }
pre.config { background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: 12px 14px; max-height: 520px; overflow: auto; line-height: 1.4; }
footer { color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 12px; }
@media (max-width: 900px) {
  .layout { display: block; }
  nav.toc { position: static; height: auto; border-right: 0; border-bottom: 1px solid var(--line); }
  main { padding: 20px 16px 40px; }
}
@media print { nav.toc { display: none; } .layout { display: block; } }
"""
