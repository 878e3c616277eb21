/**
 * Showing a Vega-Lite chart: one display bundle with the spec (JupyterLab and VS Code draw it), an SVG rendered
 * here with vega (classic Notebook, GitHub, nbconvert) and a text line. Taught in notebooks/00-tour.ipynb.
 */
import { newDisplayId, sendDisplay } from "./display";
import { Spec } from "./plot";

type VegaModule = typeof import("vega");
type VegaLiteModule = typeof import("vega-lite");
let vegaModules: { vega: VegaModule; vl: VegaLiteModule } | null = null;

function loadVega(): { vega: VegaModule; vl: VegaLiteModule } {
  // Loaded on first use: vega takes about 200 ms to load and most cells never draw.
  if (!vegaModules) vegaModules = { vega: require("vega") as VegaModule, vl: require("vega-lite") as VegaLiteModule };
  return vegaModules;
}

/** Charts with more inline data rows than this get a compact SVG (see {@link renderSvg}). */
export const COMPACT_SVG_ROWS = 1000;

/** The number of inline data rows in a Vega-Lite spec: every `data.values` array and every named dataset, in all sub-views. */
export function inlineRows(spec: unknown): number {
  if (Array.isArray(spec)) return spec.reduce((n: number, s) => n + inlineRows(s), 0);
  if (!spec || typeof spec !== "object") return 0;
  let n = 0;
  for (const [key, value] of Object.entries(spec)) {
    if (key === "data" && value && typeof value === "object" && Array.isArray((value as { values?: unknown }).values)) n += (value as { values: unknown[] }).values.length;
    else if (key === "datasets" && value && typeof value === "object") n += Object.values(value).reduce((m: number, v) => m + (Array.isArray(v) ? v.length : 0), 0);
    else if (typeof value === "object") n += inlineRows(value);
  }
  return n;
}

/**
 * Renders a Vega-Lite spec to an SVG string in Node (no browser, no canvas). The SVG is the static
 * fallback (classic Notebook, GitHub, nbconvert); JupyterLab and VS Code draw the Vega-Lite spec. For a
 * chart of more than {@link COMPACT_SVG_ROWS} rows it is made compact, at about half the size with the
 * same picture: no per-mark ARIA description (vega writes one per point, "x: 0.3999; y: -1.2999") and
 * mark positions rounded to 1/100 pixel.
 */
export async function renderSvg(spec: Spec): Promise<string> {
  const { vega, vl } = loadVega();
  const compact = inlineRows(spec) > COMPACT_SVG_ROWS;
  const source = compact ? { ...spec, config: { ...((spec as { config?: object }).config ?? {}), aria: false } } : spec;
  const compiled = vl.compile(source as Spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    const svg = await view.toSVG();
    return compact ? svg.replace(/translate\((-?\d+\.\d{3,}),(-?\d+\.\d{3,})\)/g, (_, x: string, y: string) => `translate(${+(+x).toFixed(2)},${+(+y).toFixed(2)})`) : svg;
  } finally {
    view.finalize();
  }
}

function chartTitle(spec: Spec): string {
  const t = (spec as { title?: unknown }).title;
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof (t as { text?: unknown }).text === "string") return (t as { text: string }).text;
  return "chart";
}

/** The three-MIME bundle for a chart: Vega-Lite spec, SVG and a text line. */
export async function chartBundle(spec: Spec): Promise<Record<string, unknown>> {
  return {
    "application/vnd.vegalite.v5+json": spec,
    "image/svg+xml": await renderSvg(spec),
    "text/plain": `[Vega-Lite chart: ${chartTitle(spec)}]`,
  };
}

/** Shows a Vega-Lite chart as one output with three MIME types. Pass `displayId` to replace it later. */
export async function showChart(spec: Spec, options: { displayId?: string; update?: boolean } = {}): Promise<void> {
  const data = await chartBundle(spec);
  sendDisplay({ data, metadata: {}, ...(options.displayId ? { transient: { display_id: options.displayId } } : {}) }, options.update ?? false);
}

/** A chart shown in one output that later charts replace in place: a live plot during training. */
export interface LiveChart {
  /** Shows `spec`: the first call adds the output, later calls redraw it. */
  show(spec: Spec): Promise<void>;
}

/** A {@link LiveChart} under a fresh display id (taught in notebooks/05-gan.ipynb's live ring scatter). */
export function liveChart(prefix = "chart"): LiveChart {
  const displayId = newDisplayId(prefix);
  let shown = false;
  return {
    show: async (spec) => {
      await showChart(spec, { displayId, update: shown });
      shown = true;
    },
  };
}
