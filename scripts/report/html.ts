/**
 * The report's HTML, rendered entirely here so that the pages open offline from file://: Markdown with
 * math by markdown-it + markdown-it-texmath + KaTeX, code highlighted by highlight.js, outputs in order
 * (streams, errors, images, charts), and the index of lessons. Charts are drawn in the browser by the
 * bundled vega-embed; the SVG rendered in the kernel stays underneath as the fallback.
 */
import hljs from "highlight.js/lib/core";
import typescript from "highlight.js/lib/languages/typescript";
import katex from "katex";
import MarkdownIt from "markdown-it";
import texmath from "markdown-it-texmath";
import type { Output } from "../../kernel/client";
import { CellReport, cellSource, Notebook, NotebookReport } from "../../kernel/runner";
import { ansiToHtml, escapeHtml, stripAnsi } from "./ansi";
import { formatMetricValue, METRIC_KEY, Metric, VEGALITE_MIME } from "./outputs";

hljs.registerLanguage("typescript", typescript);

// texmath's "dollars" rule (pandoc's) rejects a closing `$` after a space, so `$l = $ D's logit` pairs the
// wrong dollars; Jupyter accepts it. This variant differs only there, so the report reads notebooks as Jupyter does.
texmath.rules.jupyter = {
  inline: texmath.rules.dollars.inline.map((rule: { name: string; rex: RegExp }) => (rule.name === "math_inline" ? { ...rule, rex: /\$((?:[^\s\\])|(?:\S.*?[^\\]))\$/gy } : rule)),
  block: texmath.rules.dollars.block,
};

/** One markdown-it for every page: math on `$...$`, `$$...$$`, `\(...\)` and `\[...\]`, as Jupyter accepts. */
const markdown = new MarkdownIt({ html: true, linkify: true }).use(texmath, {
  engine: katex,
  delimiters: ["jupyter", "brackets"],
  // Errors render in place as .katex-error (red source) instead of aborting the page; the browser test looks for them.
  katexOptions: { throwOnError: false },
});

/** Renders notebook Markdown (with math) to HTML. */
export function renderMarkdown(source: string): string {
  return markdown.render(source);
}

/** Highlights TypeScript source to HTML (hljs classes). */
export function highlightTypeScript(source: string): string {
  return hljs.highlight(source, { language: "typescript", ignoreIllegals: true }).value;
}

/** Seconds for people: "0.12 s", "12.3 s", "2:05", "1:02:05". */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const pad = (x: number) => String(x).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** Everything a lesson's header and the index say about one run. */
export interface LessonSummary {
  /** File name without .ipynb, e.g. "00-tour"; also the page's name. */
  name: string;
  /** The notebook's first heading. */
  title: string;
  status: "ok" | "failed";
  /** Where it failed (1-based, among all cells and among code cells) and the error's main line; absent when ok. */
  failedCell?: { cell: number; codeCell: number };
  error?: string;
  seconds: number;
  mode: string;
  /** ISO date of the run. */
  date: string;
  /** Git commit of the checkout, with "+ changes" when the working tree differed from it. */
  commit: string;
  seed: number | null;
  backend: string | null;
  metrics: Metric[];
  /** Digest of the outputs with timings masked (equal across reproducible runs). */
  digest: string;
  versions: Record<string, string>;
  cells: { cell: number; codeCell: number; status: CellReport["status"]; seconds: number; firstLine: string }[];
}

const ASSET_HEAD = `<link rel="stylesheet" href="assets/katex/katex.min.css">
<link rel="stylesheet" href="assets/highlight.css">
<link rel="stylesheet" href="assets/report.css">`;

const ASSET_SCRIPTS = `<script src="assets/vega.min.js"></script>
<script src="assets/vega-lite.min.js"></script>
<script src="assets/vega-embed.min.js"></script>
<script src="assets/report.js"></script>`;

function page(title: string, body: string, scripts: boolean): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
${ASSET_HEAD}
</head>
<body>
${body}
${scripts ? ASSET_SCRIPTS : ""}
</body>
</html>
`;
}

/** The line of an error worth showing alone: its "SomeError: message" line when there is one, else its first. */
export function failureHeadline(error: string): string {
  const lines = stripAnsi(error)
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const named = lines.find((l) => /^[\w$.]*(Error|Exception|Timeout)\b[^:]*:/.test(l));
  const line = named ?? lines[0] ?? "";
  return line.length > 200 ? line.slice(0, 197) + "..." : line;
}

function text(data: unknown): string {
  return Array.isArray(data) ? data.join("") : String(data ?? "");
}

function jsonForScript(value: unknown): string {
  // Inside <script>, "</script>" or "<!--" in a string would end the element: escape every "<".
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

/** Renders one output bundle, choosing the richest MIME type the report can show, as Jupyter does. */
export function renderBundle(data: Record<string, unknown>, metadata: Record<string, unknown>, chartCounter: { n: number }): string {
  if (metadata[METRIC_KEY] && typeof metadata[METRIC_KEY] === "object") {
    const m = metadata[METRIC_KEY] as Metric;
    return `<div class="metric"><span class="metric-name">${escapeHtml(String(m.name))}</span> <span class="metric-value">${escapeHtml(formatMetricValue(m))}</span></div>`;
  }
  const svg = data["image/svg+xml"] !== undefined ? text(data["image/svg+xml"]) : null;
  const svgImg = svg ? `<img alt="chart" src="data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}">` : "";
  if (data[VEGALITE_MIME] && typeof data[VEGALITE_MIME] === "object") {
    chartCounter.n += 1;
    const caption = data["text/plain"] !== undefined ? text(data["text/plain"]) : "";
    // The kernel's SVG is the fallback: it stays visible until vega-embed has drawn the live chart.
    return `<figure class="chart" data-chart="${chartCounter.n}">
<div class="chart-live"></div>
<div class="chart-fallback">${svgImg || `<pre>${escapeHtml(caption)}</pre>`}</div>
<script type="application/json" class="chart-spec">${jsonForScript(data[VEGALITE_MIME])}</script>
${caption && !caption.startsWith("[Vega-Lite chart") ? `<figcaption>${escapeHtml(caption)}</figcaption>` : ""}
</figure>`;
  }
  if (data["text/html"] !== undefined) return `<div class="output-html">${text(data["text/html"])}</div>`;
  if (svg) return `<div class="output-image">${svgImg}</div>`;
  for (const mime of ["image/png", "image/jpeg", "image/gif"]) {
    if (data[mime] === undefined) continue;
    const meta = (metadata[mime] ?? {}) as { width?: number; height?: number };
    const size = `${meta.width ? ` width="${meta.width}"` : ""}${meta.height ? ` height="${meta.height}"` : ""}`;
    const caption = data["text/plain"] !== undefined ? `<figcaption>${escapeHtml(text(data["text/plain"]))}</figcaption>` : "";
    return `<figure class="output-image"><img alt="output image"${size} src="data:${mime};base64,${text(data[mime]).replace(/\s/g, "")}">${caption}</figure>`;
  }
  if (data["text/markdown"] !== undefined) return `<div class="output-markdown">${renderMarkdown(text(data["text/markdown"]))}</div>`;
  if (data["text/latex"] !== undefined) return `<div class="output-latex">${renderMarkdown(text(data["text/latex"]))}</div>`;
  if (data["application/json"] !== undefined) return `<pre class="output-text">${escapeHtml(JSON.stringify(data["application/json"], null, 2))}</pre>`;
  if (data["text/plain"] !== undefined) return `<pre class="output-text">${ansiToHtml(text(data["text/plain"]))}</pre>`;
  return `<pre class="output-text output-unknown">[output of type ${escapeHtml(Object.keys(data).join(", "))}]</pre>`;
}

function renderOutput(out: Output, chartCounter: { n: number }): string {
  switch (out.output_type) {
    case "stream":
      return `<pre class="output-stream ${out.name === "stderr" ? "stderr" : "stdout"}">${ansiToHtml(text(out.text))}</pre>`;
    case "error": {
      const trace = out.traceback.length ? out.traceback.join("\n") : `${out.ename}: ${out.evalue}`;
      return `<pre class="output-error">${ansiToHtml(trace)}</pre>`;
    }
    case "display_data":
    case "execute_result":
      return renderBundle(out.data, out.metadata ?? {}, chartCounter);
  }
}

/** What a lesson page needs besides the summary. */
export interface LessonPageInput {
  summary: LessonSummary;
  /** The executed notebook, or the source notebook when the run could not start. */
  notebook: Notebook;
  /** The runner's report; absent when the kernel could not run the lesson at all. */
  report?: NotebookReport;
  /** An error outside any cell (the kernel did not start, the notebook is unreadable). */
  fatal?: string;
  /** File name of the executed notebook beside the page. */
  ipynb: string;
  /** Names of the lessons before and after this one, for the navigation links. */
  prev?: string;
  next?: string;
}

function runFacts(s: LessonSummary, ipynb: string | null): string {
  const rows: [string, string][] = [
    ["status", s.status === "ok" ? "ok" : `failed${s.failedCell ? ` at code cell ${s.failedCell.codeCell}` : ""}`],
    ["mode", s.mode],
    ["seed", s.seed === null ? "not reported" : String(s.seed)],
    ["backend", s.backend ?? "not reported"],
    ["total time", formatSeconds(s.seconds)],
    ["date", s.date],
    ["git commit", s.commit],
    ["outputs digest", s.digest],
    ["versions", Object.entries(s.versions).map(([k, v]) => `${k} ${v}`).join(", ")],
  ];
  const value = (k: string, v: string) => (k === "status" && s.failedCell ? `<a href="#cell-${s.failedCell.cell}">${escapeHtml(v)}</a>` : escapeHtml(v));
  const dl = rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd${k === "status" ? ` class="status-${s.status}"` : ""}>${value(k, v)}</dd>`).join("\n");
  return `<dl class="run-facts">\n${dl}${ipynb ? `\n<dt>notebook</dt><dd><a href="${escapeHtml(ipynb)}">${escapeHtml(ipynb)}</a> (executed)</dd>` : ""}\n</dl>`;
}

function metricsBlock(metrics: Metric[]): string {
  if (!metrics.length) return "";
  return `<ul class="headline">${metrics.map((m) => `<li><span class="metric-name">${escapeHtml(m.name)}</span> <span class="metric-value">${escapeHtml(formatMetricValue(m))}</span></li>`).join("")}</ul>`;
}

function cellTimes(s: LessonSummary): string {
  const rows = s.cells
    .map((c) => `<tr class="status-${c.status.replace(" ", "-")}"><td><a href="#cell-${c.cell}">${c.codeCell}</a></td><td>${escapeHtml(c.status)}</td><td class="num">${c.status === "not run" ? "" : formatSeconds(c.seconds)}</td><td><code>${escapeHtml(c.firstLine)}</code></td></tr>`)
    .join("\n");
  return `<details class="cell-times"><summary>Time per cell</summary>
<table><thead><tr><th>cell</th><th>status</th><th>time</th><th>first line</th></tr></thead><tbody>
${rows}
</tbody></table></details>`;
}

/** The HTML page of one lesson: header with the run's facts, then every cell with its outputs. */
export function renderLessonPage(input: LessonPageInput): string {
  const { summary: s, notebook: nb } = input;
  const byCell = new Map((input.report?.cells ?? []).map((c) => [c.cell, c]));
  const charts = { n: 0 };
  const cells: string[] = [];
  let codeCount = 0;
  nb.cells.forEach((cell, i) => {
    const n = i + 1;
    const src = cellSource(cell);
    if (cell.cell_type === "markdown") {
      cells.push(`<section class="cell markdown" id="cell-${n}">${renderMarkdown(src)}</section>`);
      return;
    }
    if (cell.cell_type !== "code") {
      cells.push(`<section class="cell raw" id="cell-${n}"><pre>${escapeHtml(src)}</pre></section>`);
      return;
    }
    codeCount += 1;
    const rep = byCell.get(n);
    const status = rep?.status ?? "not run";
    const outputs = (cell.outputs ?? []).map((o) => renderOutput(o, charts));
    // A kernel that sends no error message leaves only stderr behind: state the failure where it happened,
    // in one line when the details are already on the page as that stderr.
    if (rep && (rep.status === "error" || rep.status === "timeout") && !(cell.outputs ?? []).some((o) => o.output_type === "error")) {
      const error = rep.error ?? rep.status;
      const stderr = (cell.outputs ?? []).map((o) => (o.output_type === "stream" && o.name === "stderr" ? text(o.text) : "")).join("");
      const shown = stderr.trim() !== "" && stderr.includes(error.trim()) ? failureHeadline(error) : error;
      outputs.push(`<pre class="output-error">${ansiToHtml(shown)}</pre>`);
    }
    const label = status === "ok" ? "" : `<span class="cell-status">${status === "not run" ? "not run" : status === "timeout" ? "timed out" : "failed"}</span>`;
    cells.push(`<section class="cell code status-${status.replace(" ", "-")}" id="cell-${n}">
<div class="cell-head"><span class="prompt">[${status === "not run" ? " " : (cell.execution_count ?? codeCount)}]</span>${label}<span class="cell-time">${rep && status !== "not run" ? formatSeconds(rep.seconds) : ""}</span></div>
<pre class="source"><code class="hljs language-typescript">${highlightTypeScript(src)}</code></pre>
${outputs.length ? `<div class="outputs">\n${outputs.join("\n")}\n</div>` : ""}
</section>`);
  });
  const nav = [
    `<a href="index.html">All lessons</a>`,
    input.prev ? `<a href="${escapeHtml(input.prev)}.html">&larr; ${escapeHtml(input.prev)}</a>` : "",
    input.next ? `<a href="${escapeHtml(input.next)}.html">${escapeHtml(input.next)} &rarr;</a>` : "",
  ].filter(Boolean);
  const fatal = input.fatal ? `<pre class="output-error fatal">${ansiToHtml(input.fatal)}</pre>` : "";
  const body = `<header class="lesson-header">
<nav>${nav.join(" · ")}</nav>
<h1>${escapeHtml(s.title)}</h1>
<p class="subtitle">${escapeHtml(s.name)}.ipynb</p>
${metricsBlock(s.metrics)}
${runFacts(s, input.ipynb)}
${s.cells.length ? cellTimes(s) : ""}
${fatal}
</header>
<main class="notebook">
${cells.join("\n")}
</main>`;
  return page(`${s.title} · aigc-lab report`, body, charts.n > 0);
}

/** What the index shows about the whole set of runs. */
export interface IndexInput {
  /** Every lesson in the notebooks folder, in order, with its latest summary (null: never run into this folder). */
  lessons: { name: string; summary: LessonSummary | null }[];
  generated: string;
  commit: string;
  /**
   * The image models' FID/KID table as Markdown (notebooks/checkpoints/image-scores.md, written by
   * scripts/score-images.ts with kernel-lib's imageScoreMarkdown, so the index needs no TensorFlow.js), shown below
   * the lessons.
   */
  imageScoresMarkdown?: string | null;
}

/** The index page: one row per lesson with status, time, mode, backend and headline numbers. */
export function renderIndex(input: IndexInput): string {
  const rows = input.lessons
    .map(({ name, summary: s }) => {
      if (!s) return `<tr class="status-none"><td>${escapeHtml(name)}</td><td></td><td class="status">not run</td><td></td><td></td><td></td><td></td><td></td></tr>`;
      const status = s.status === "ok" ? "ok" : `failed${s.failedCell ? ` (code cell ${s.failedCell.codeCell})` : ""}`;
      const error = s.error ? `<div class="error-line">${escapeHtml(s.error)}</div>` : "";
      return `<tr class="status-${s.status}"><td><a href="${escapeHtml(s.name)}.html">${escapeHtml(s.name)}</a></td><td>${escapeHtml(s.title)}${error}</td><td class="status">${escapeHtml(status)}</td><td class="num">${formatSeconds(s.seconds)}</td><td>${escapeHtml(s.mode)}</td><td>${escapeHtml(s.backend ?? "")}</td><td>${metricsBlock(s.metrics)}</td><td><code>${escapeHtml(s.digest)}</code><br><span class="date">${escapeHtml(s.date)}</span></td></tr>`;
    })
    .join("\n");
  const ran = input.lessons.filter((l) => l.summary);
  const failed = ran.filter((l) => l.summary!.status === "failed").length;
  const total = ran.reduce((t, l) => t + l.summary!.seconds, 0);
  const body = `<header class="index-header">
<h1>aigc-lab lesson reports</h1>
<p>${ran.length} of ${input.lessons.length} lesson${input.lessons.length === 1 ? "" : "s"} reported, ${failed ? `<span class="status-failed">${failed} failed</span>` : "none failed"}, ${formatSeconds(total)} in all. Updated ${escapeHtml(input.generated)} at commit ${escapeHtml(input.commit)}. Regenerate with <code>npm start</code> (quick) or <code>npm start -- --full</code>.</p>
</header>
<main>
<table class="lessons">
<thead><tr><th>lesson</th><th>title</th><th>status</th><th>time</th><th>mode</th><th>backend</th><th>headline numbers</th><th>outputs digest, date</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
${input.imageScoresMarkdown ? `<section class="image-scores">\n<h2>The image models, scored the same way</h2>\n${markdown.render(input.imageScoresMarkdown)}</section>` : ""}
</main>`;
  return page("aigc-lab lesson reports", body, false);
}
