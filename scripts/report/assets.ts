/**
 * The files the report pages load, copied into `<reports>/assets/` so that they open offline: KaTeX's CSS
 * and fonts from the very katex package that rendered the math (another version's CSS misplaces
 * subscripts), the browser builds of vega, vega-lite and vega-embed, highlight.js's theme, and our own
 * CSS and the script that turns each chart's spec into a live vega-embed view.
 */
import * as fs from "node:fs";
import * as path from "node:path";

function packageDir(name: string): string {
  // Looked up along node's search path by hand: some packages (vega-embed) do not export their package.json.
  for (const base of require.resolve.paths(name) ?? []) {
    const dir = path.join(base, name);
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
  }
  throw new Error(`package ${name} is not installed (run npm install)`);
}

/** The version of an installed package, or "not installed". */
export function packageVersion(name: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageDir(name), "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

const REPORT_CSS = `
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --code-bg: #f6f8fa; --ok: #1a7f37; --bad: #cf222e; }
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0 auto; max-width: 980px; padding: 1.5rem; }
a { color: #0969da; }
h1 { margin: .2em 0; }
.subtitle, .date { color: var(--muted); font-size: .9em; }
nav { font-size: .9em; }
.lesson-header { border-bottom: 1px solid var(--line); padding-bottom: 1rem; margin-bottom: 1rem; }
.run-facts { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; font-size: .9em; margin: .8rem 0; }
.run-facts dt { color: var(--muted); }
.run-facts dd { margin: 0; }
td.status, dd.status-ok, dd.status-failed { font-weight: 600; }
tr.status-ok > td.status, dd.status-ok { color: var(--ok); }
tr.status-failed > td.status, dd.status-failed, span.status-failed { color: var(--bad); }
table.lessons td:first-child { white-space: nowrap; }
.headline { list-style: none; padding: 0; margin: .5rem 0; display: flex; flex-wrap: wrap; gap: .4rem; }
.headline li, .metric { display: inline-block; background: #ddf4ff; border-radius: 6px; padding: .15rem .55rem; font-size: .92em; }
.metric-name { color: var(--muted); }
.metric-value { font-weight: 600; font-variant-numeric: tabular-nums; }
.cell { margin: 1rem 0; }
.cell.code { border-left: 3px solid var(--line); padding-left: .8rem; }
.cell.code.status-failed, .cell.code.status-error, .cell.code.status-timeout { border-left-color: var(--bad); }
.cell.code.status-not-run { opacity: .6; }
.cell-head { display: flex; gap: .8rem; font: 12px ui-monospace, monospace; color: var(--muted); }
.cell-status { color: var(--bad); font-weight: 700; }
.cell-time { margin-left: auto; }
pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-x: auto; margin: .3rem 0; white-space: pre-wrap; word-break: break-word; }
pre.source { background: var(--code-bg); border-radius: 6px; }
pre.source code.hljs { background: transparent; padding: .6rem .8rem; display: block; }
.outputs { margin-top: .3rem; }
pre.output-stream.stderr { background: #fff8f0; }
pre.output-error { background: #ffebe9; color: #82071e; padding: .5rem .7rem; border-radius: 6px; }
figure { margin: .4rem 0; }
figcaption { font-size: .85em; color: var(--muted); }
.chart.rendered .chart-fallback { display: none; }
.output-image img { image-rendering: pixelated; max-width: 100%; height: auto; }
.chart-fallback img { max-width: 100%; }
table { border-collapse: collapse; font-size: .9em; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.lessons .headline { margin: 0; }
.error-line { color: var(--bad); font-size: .85em; font-family: ui-monospace, monospace; }
.cell-times { margin: .5rem 0; font-size: .9em; }
eq { display: inline-block; }
eqn { display: block; overflow-x: auto; }
section.eqno { display: flex; align-items: center; }
section.eqno > eqn { width: 100%; }
section.eqno > span { width: 3em; text-align: right; }
.ansi-bold { font-weight: 700; } .ansi-dim { opacity: .7; } .ansi-italic { font-style: italic; } .ansi-underline { text-decoration: underline; }
.ansi-fg-black { color: #24292f; } .ansi-fg-red { color: #cf222e; } .ansi-fg-green { color: #116329; } .ansi-fg-yellow { color: #7d4e00; }
.ansi-fg-blue { color: #0550ae; } .ansi-fg-magenta { color: #8250df; } .ansi-fg-cyan { color: #1b7c83; } .ansi-fg-white { color: #6e7781; }
.ansi-fg-bright-black { color: #57606a; } .ansi-fg-bright-red { color: #a40e26; } .ansi-fg-bright-green { color: #1a7f37; } .ansi-fg-bright-yellow { color: #633c01; }
.ansi-fg-bright-blue { color: #218bff; } .ansi-fg-bright-magenta { color: #a475f9; } .ansi-fg-bright-cyan { color: #3192aa; } .ansi-fg-bright-white { color: #8c959f; }
.ansi-bg-red { background: #ffebe9; } .ansi-bg-green { background: #dafbe1; } .ansi-bg-yellow { background: #fff8c5; } .ansi-bg-blue { background: #ddf4ff; }
`;

// Runs in the browser. Each chart keeps its SVG fallback until vega-embed has drawn it; a failure is
// reported on the console (which the browser test watches) and leaves the fallback in place.
const REPORT_JS = `"use strict";
(function () {
  var charts = document.querySelectorAll("figure.chart");
  if (!charts.length) return;
  if (typeof vegaEmbed !== "function") {
    console.error("aigc-lab report: vega-embed did not load; showing the static SVG charts");
    return;
  }
  charts.forEach(function (fig) {
    var spec = JSON.parse(fig.querySelector("script.chart-spec").textContent);
    vegaEmbed(fig.querySelector(".chart-live"), spec, { actions: false, renderer: "svg" })
      .then(function () { fig.classList.add("rendered"); })
      .catch(function (e) { console.error("aigc-lab report: chart " + fig.dataset.chart + " did not render: " + e); });
  });
})();
`;

function copyFile(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

/** Writes every asset into `<outDir>/assets/`. */
export function writeAssets(outDir: string): void {
  const assets = path.join(outDir, "assets");
  const katexDist = path.join(packageDir("katex"), "dist");
  copyFile(path.join(katexDist, "katex.min.css"), path.join(assets, "katex", "katex.min.css"));
  for (const font of fs.readdirSync(path.join(katexDist, "fonts"))) {
    copyFile(path.join(katexDist, "fonts", font), path.join(assets, "katex", "fonts", font));
  }
  copyFile(path.join(packageDir("vega"), "build", "vega.min.js"), path.join(assets, "vega.min.js"));
  copyFile(path.join(packageDir("vega-lite"), "build", "vega-lite.min.js"), path.join(assets, "vega-lite.min.js"));
  copyFile(path.join(packageDir("vega-embed"), "build", "vega-embed.min.js"), path.join(assets, "vega-embed.min.js"));
  copyFile(path.join(packageDir("highlight.js"), "styles", "github.min.css"), path.join(assets, "highlight.css"));
  fs.writeFileSync(path.join(assets, "report.css"), REPORT_CSS.trimStart());
  fs.writeFileSync(path.join(assets, "report.js"), REPORT_JS);
}
