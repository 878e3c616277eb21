/**
 * What the report reads out of an executed notebook: the lesson's headline numbers, its title, and a
 * fingerprint of every output with timings and dates masked, so that two runs with the same seed, backend
 * and mode can be compared (checks/reports.test.ts) and the index can show a digest of each run.
 */
import { createHash } from "node:crypto";
import type { Output } from "../../kernel/client";
import { cellSource, Notebook } from "../../kernel/runner";
import { stripAnsi } from "./ansi";

/**
 * The output-metadata key under which kernel-lib's reportMetric sends a headline number, beside a
 * text/plain-only bundle (kernel-lib/src/notebook/report.ts). Repeated here rather than imported: importing
 * kernel-lib would load TensorFlow.js into the report generator.
 */
export const METRIC_KEY = "aigc-lab.metric";

/** The MIME type of a Jupyter widget's view (kernel-lib/src/notebook/widgets/model.ts). */
export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";

/** The MIME type of a Vega-Lite v5 chart. */
export const VEGALITE_MIME = "application/vnd.vegalite.v5+json";

/** The chart specs JupyterLab's Vega 5 renderer draws (Vega 5, Vega-Lite 3 to 5). */
const VEGA_SPEC = /^application\/vnd\.vega(?:lite)?\.v\d+\+json$/;

/**
 * Whether a bundle's `mime` is the PNG that JupyterLab's Vega renderer writes into the output model after
 * drawing a chart (@jupyterlab/vega5-extension), which a notebook saved from JupyterLab then keeps: an
 * image/png beside a Vega or Vega-Lite spec. Our kernel never sends one there, so it is not part of a run.
 */
export function isClientChartImage(mime: string, data: Record<string, unknown>): boolean {
  return mime === "image/png" && Object.keys(data).some((m) => VEGA_SPEC.test(m));
}

/** The metric an output carries in its metadata, if it is one of reportMetric's. */
export function outputMetric(out: Output): Metric | null {
  if (out.output_type !== "display_data" && out.output_type !== "execute_result") return null;
  const m = out.metadata?.[METRIC_KEY];
  return isMetric(m) ? m : null;
}

/** A headline number as the report stores it (see kernel-lib's Metric). */
export interface Metric {
  name: string;
  value: number | string;
  unit?: string;
}

function isMetric(x: unknown): x is Metric {
  if (!x || typeof x !== "object") return false;
  const m = x as Record<string, unknown>;
  return typeof m.name === "string" && (typeof m.value === "number" || typeof m.value === "string") && (m.unit === undefined || typeof m.unit === "string");
}

/** Every metric output of the notebook in order; a name reported twice keeps its last value, in its first place. */
export function collectMetrics(nb: Notebook): Metric[] {
  const byName = new Map<string, Metric>();
  for (const cell of nb.cells) {
    for (const out of cell.outputs ?? []) {
      const m = outputMetric(out);
      if (m) byName.set(m.name, m);
    }
  }
  return [...byName.values()];
}

/** The text of the notebook's first Markdown heading, else the fallback. */
export function notebookTitle(nb: Notebook, fallback: string): string {
  for (const cell of nb.cells) {
    if (cell.cell_type !== "markdown") continue;
    const m = /^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$/m.exec(cellSource(cell));
    if (m) return m[1]!.replace(/[*_`]/g, "");
  }
  return fallback;
}

/** Formats a metric value for people: integers as they are, other numbers to 4 significant digits. */
export function formatMetricValue(m: Metric): string {
  const v = typeof m.value === "number" ? (Number.isInteger(m.value) ? String(m.value) : String(Number(m.value.toPrecision(4)))) : m.value;
  return m.unit ? `${v} ${m.unit}` : v;
}

const TIMING_PATTERNS: [RegExp, string][] = [
  // ISO dates and times (2026-11-28T16:02:08.123Z, 2026-11-28 16:02).
  [/\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?/g, "<date>"],
  // Clock readings (ETA 0:03, done in 1:02:03).
  [/\b\d+:\d{2}(?::\d{2})?\b/g, "<clock>"],
  // Rates (15 steps/s, 3.2 GFLOP/s, 120 samples/sec).
  [/[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?\s*[A-Za-z]*\/s(?:ec)?\b/gi, "<rate>"],
  // Durations (12 ms, 1.5s, 3 seconds, 2 min).
  [/[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?\s*(?:ns|µs|us|ms|s|sec|secs|seconds?|min|mins|minutes?|h|hours?)\b/gi, "<duration>"],
];

/**
 * Masks what legitimately differs between two identical runs: dates, clock readings, rates and
 * durations. Every other number stays, so a changed loss still changes the text. ANSI escapes are removed.
 */
export function maskTimings(text: string): string {
  let t = stripAnsi(text);
  for (const [re, token] of TIMING_PATTERNS) t = t.replace(re, token);
  return t;
}

function stable(value: unknown): string {
  // Key order is not part of a value: sort it, so equal specs give equal strings.
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * nbformat's multiline string: on disk (as jupyter-server saves a notebook), stream text and the text of
 * a non-JSON MIME type may be a list of lines; in memory it is one string. Both read as the string.
 */
function multiline(mime: string, v: unknown): unknown {
  return Array.isArray(v) && !/json$/.test(mime) && v.every((line) => typeof line === "string") ? v.join("") : v;
}

function fingerprintOutput(out: Output): string {
  switch (out.output_type) {
    case "stream":
      return `${out.name}: ${maskTimings(multiline("text/plain", out.text) as string)}`;
    case "error":
      // The traceback holds file paths and line numbers of the kernel itself; the error is what matters.
      return `error: ${out.ename}: ${maskTimings(out.evalue)}`;
    case "display_data":
    case "execute_result": {
      // A client's own additions are not part of the run: the PNG JupyterLab draws from a chart spec.
      const parts = Object.keys(out.data)
        .filter((mime) => !isClientChartImage(mime, out.data))
        .sort()
        .map((mime) => {
          const v = multiline(mime, out.data[mime]);
          // A widget's model id is a fresh comm id each run: the view it names is what is compared.
          if (mime === WIDGET_VIEW_MIME && v && typeof v === "object") return `${mime}: ${stable({ ...v, model_id: "(comm id)" })}`;
          if (typeof v === "string") return `${mime}: ${mime.startsWith("image/") && mime !== "image/svg+xml" ? v : maskTimings(v)}`;
          return `${mime}: ${maskTimings(stable(v))}`;
        });
      return `${out.output_type}\n${parts.join("\n")}`;
    }
  }
}

/** The outputs of one code cell with timings masked (see {@link maskTimings}). */
export interface CellFingerprint {
  /** 1-based position among all cells. */
  cell: number;
  outputs: string[];
}

/** Every code cell's masked outputs, and a short digest of them all. */
export interface Fingerprint {
  cells: CellFingerprint[];
  /** The first 16 hex digits of the SHA-256 of the cells. */
  digest: string;
}

/** The fingerprint of an executed notebook: equal for two runs with the same seed, backend and mode. */
export function fingerprint(nb: Notebook): Fingerprint {
  const cells: CellFingerprint[] = [];
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type === "code") cells.push({ cell: i + 1, outputs: (cell.outputs ?? []).map(fingerprintOutput) });
  });
  const digest = createHash("sha256").update(JSON.stringify(cells)).digest("hex").slice(0, 16);
  return { cells, digest };
}

/** The first difference between two fingerprints, described for a test failure; null when equal. */
export function firstDifference(a: Fingerprint, b: Fingerprint): string | null {
  if (a.digest === b.digest) return null;
  const n = Math.max(a.cells.length, b.cells.length);
  for (let i = 0; i < n; i++) {
    const ca = a.cells[i];
    const cb = b.cells[i];
    if (!ca || !cb) return `the runs have different numbers of code cells (${a.cells.length} vs ${b.cells.length})`;
    const m = Math.max(ca.outputs.length, cb.outputs.length);
    for (let j = 0; j < m; j++) {
      const oa = ca.outputs[j] ?? "(no output)";
      const ob = cb.outputs[j] ?? "(no output)";
      if (oa === ob) continue;
      let k = 0;
      while (k < oa.length && oa[k] === ob[k]) k++;
      const from = Math.max(0, k - 80);
      return `cell ${ca.cell}, output ${j + 1} differs at character ${k}:\n  first run:  ...${oa.slice(from, k + 80)}\n  second run: ...${ob.slice(from, k + 80)}`;
    }
  }
  return "the digests differ but no output does (fingerprint bug)";
}
