/**
 * Showing things in the notebook. A chart goes out as ONE display_data bundle holding the Vega-Lite
 * spec (`application/vnd.vegalite.v5+json`: JupyterLab and VS Code draw it), an SVG rendered here with
 * vega (`image/svg+xml`: classic Notebook, GitHub and nbconvert show it) and `text/plain`. Image grids
 * go out as PNG. {@link Progress} updates one output in place (update_display_data). Outside a kernel
 * (scripts, unit tests) everything falls back to text on the console. Taught in notebooks/00-tour.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import type { Spec } from "./plot";
import { lineChart } from "./plot";
import { encodePng } from "./png";

/** The content of a display_data or update_display_data message. */
export interface DisplayContent {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  transient?: { display_id?: string };
}

/**
 * What the aigc-lab kernel installs on `globalThis[Symbol.for("aigc-lab.kernel")]` while it runs a cell:
 * a way to send display messages, and the interrupt flag a training loop polls between steps.
 */
export interface KernelHooks {
  display(content: DisplayContent, update: boolean): void;
  /** Set by the kernel when the user interrupts; reset when the next cell starts. */
  interruptRequested: boolean;
}

export const KERNEL_HOOKS = Symbol.for("aigc-lab.kernel");

/** The hooks of the aigc-lab kernel, when this code runs inside it. */
export function kernelHooks(): KernelHooks | undefined {
  return (globalThis as Record<symbol, KernelHooks | undefined>)[KERNEL_HOOKS];
}

type TslabWrite = (content: DisplayContent, update: boolean) => void;

function tslabWriter(): TslabWrite | undefined {
  // Plain tslab exposes the current cell's display writer as a module variable.
  try {
    const jupyter = require("tslab/dist/jupyter") as { lastWriteDisplayData?: TslabWrite | null };
    // tslab sets it to null outside a kernel (a script, a test): that is "no writer", not a writer.
    return jupyter.lastWriteDisplayData ?? undefined;
  } catch {
    return undefined;
  }
}

/** True when a Jupyter kernel (ours or plain tslab) will receive display messages. */
export function inKernel(): boolean {
  return kernelHooks() !== undefined || tslabWriter() !== undefined;
}

/** True when the user interrupted the kernel since the current cell started. */
export function interruptRequested(): boolean {
  return kernelHooks()?.interruptRequested ?? false;
}

/** Sends one display bundle (or updates the output with the same display id). Outside a kernel, prints its text/plain. */
export function sendDisplay(content: DisplayContent, update = false): void {
  const hooks = kernelHooks();
  if (hooks) return hooks.display(content, update);
  const write = tslabWriter();
  if (write) return write(content, update);
  const text = content.data["text/plain"];
  if (typeof text === "string") console.log(text);
}

let displayCounter = 0;

/** A fresh display id for outputs that will be updated in place. */
export function newDisplayId(prefix = "aigc"): string {
  displayCounter += 1;
  return `${prefix}-${process.pid}-${displayCounter}`;
}

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

export interface ImageGridOptions {
  /** Images per row. Default: ceil(sqrt(N)). */
  cols?: number;
  /** Each pixel becomes scale x scale pixels (nearest neighbour). Default 2. */
  scale?: number;
  /** Gap between images in output pixels. Default 2. */
  gap?: number;
  /** Value range mapped to black..white. Default [0, 1]; values outside are clipped. */
  range?: [number, number];
}

export interface ImageGrid {
  png: Buffer;
  width: number;
  height: number;
  count: number;
}

/**
 * Lays images out on a grid and encodes it as PNG. `images` is [N, H, W], [N, H, W, 1] or [N, H, W, 3]
 * (a single [H, W] or [H, W, C] image is also accepted). The tensor is not disposed.
 */
export function imageGrid(images: tf.Tensor, options: ImageGridOptions = {}): ImageGrid {
  let shape = images.shape;
  if (shape.length === 2) shape = [1, shape[0]!, shape[1]!, 1];
  else if (shape.length === 3 && (shape[2] === 1 || shape[2] === 3) && shape[0]! > 4) shape = [1, ...shape];
  else if (shape.length === 3) shape = [...shape, 1];
  if (shape.length !== 4 || (shape[3] !== 1 && shape[3] !== 3)) {
    throw new RangeError(`imageGrid: expected images of shape [N, H, W], [N, H, W, 1] or [N, H, W, 3], got [${images.shape.join(", ")}]`);
  }
  const [n, h, w, c] = shape as [number, number, number, 1 | 3];
  if (n === 0) throw new RangeError("imageGrid: no images to show");
  const { scale = 2, gap = 2, range = [0, 1] } = options;
  const cols = Math.min(n, options.cols ?? Math.ceil(Math.sqrt(n)));
  const rows = Math.ceil(n / cols);
  const width = cols * w * scale + (cols - 1) * gap;
  const height = rows * h * scale + (rows - 1) * gap;
  const values = images.dataSync();
  const out = new Uint8Array(width * height * c).fill(255);
  const [lo, hi] = range;
  const span = hi - lo || 1;
  for (let k = 0; k < n; k++) {
    const ox = (k % cols) * (w * scale + gap);
    const oy = Math.floor(k / cols) * (h * scale + gap);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++) {
          const v = values[((k * h + y) * w + x) * c + ch]!;
          const byte = Number.isNaN(v) ? 0 : Math.round(255 * Math.min(1, Math.max(0, (v - lo) / span)));
          for (let dy = 0; dy < scale; dy++) {
            const row = (oy + y * scale + dy) * width;
            for (let dx = 0; dx < scale; dx++) out[(row + ox + x * scale + dx) * c + ch] = byte;
          }
        }
      }
    }
  }
  return { png: encodePng(out, width, height, c), width, height, count: n };
}

/** Shows an image grid (see {@link imageGrid}) as a PNG output, with an optional caption in text/plain. */
export function showImages(images: tf.Tensor, options: ImageGridOptions & { caption?: string; displayId?: string; update?: boolean } = {}): void {
  const grid = imageGrid(images, options);
  const caption = options.caption ?? `${grid.count} image${grid.count === 1 ? "" : "s"}`;
  sendDisplay(
    {
      data: { "image/png": grid.png.toString("base64"), "text/plain": `[image grid: ${caption}, ${grid.width}x${grid.height} px]` },
      metadata: { "image/png": { width: grid.width, height: grid.height } },
      ...(options.displayId ? { transient: { display_id: options.displayId } } : {}),
    },
    options.update ?? false,
  );
}

/** Shows Markdown (rendered by the front end), with the same text as text/plain. */
export function showMarkdown(markdown: string): void {
  sendDisplay({ data: { "text/markdown": markdown, "text/plain": markdown }, metadata: {} });
}

export interface ProgressOptions {
  /** Number of steps the work will take. */
  total: number;
  /** Shown before the numbers. Default "progress". */
  title?: string;
  /** Seconds between text updates in the notebook. Default 0.25. */
  textEvery?: number;
  /** Seconds between redraws of the live chart (an SVG render costs tens of ms). Default 2. */
  chartEvery?: number;
  /** Seconds between lines printed when not in a kernel (training scripts). Default 10. */
  consoleEvery?: number;
  /** Metrics to chart; default every metric passed to update(). */
  chart?: string[];
  /** Logarithmic y axis on the chart. Default false. */
  logY?: boolean;
  /** Injected clock in milliseconds, for tests. Default Date.now. */
  now?: () => number;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const pad = (x: number) => String(x).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m % 60)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

function formatMetric(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toFixed(4);
}

/**
 * An in-place progress display: step k of n, the latest metrics, steps per second, ETA and a live chart
 * of the metrics. In a notebook it is one output updated in place; elsewhere it prints a line now and then.
 */
export class Progress {
  readonly total: number;
  readonly title: string;
  private readonly options: ProgressOptions;
  private readonly now: () => number;
  private readonly displayId = newDisplayId("progress");
  private readonly start: number;
  private lastText = -Infinity;
  private lastChart = -Infinity;
  private lastConsole: number;
  private shown = false;
  private step = 0;
  private latest: Record<string, number> = {};
  private readonly history: Record<string, { steps: number[]; values: number[] }> = {};
  private chartSvg: string | null = null;
  private chartSpec: Spec | null = null;
  private rendering: Promise<void> | null = null;
  private finished = false;

  constructor(options: ProgressOptions) {
    if (!(options.total > 0)) throw new RangeError(`Progress: total must be positive, got ${options.total}`);
    this.options = options;
    this.total = options.total;
    this.title = options.title ?? "progress";
    this.now = options.now ?? Date.now;
    this.start = this.now();
    this.lastConsole = this.start;
  }

  /** Records step `step` (1-based count of steps done) with its metrics, and refreshes the display when due. */
  update(step: number, metrics: Record<string, number> = {}): void {
    this.step = step;
    for (const [k, v] of Object.entries(metrics)) {
      this.latest[k] = v;
      const h = (this.history[k] ??= { steps: [], values: [] });
      h.steps.push(step);
      h.values.push(v);
    }
    const t = this.now();
    const inNotebook = inKernel();
    if (inNotebook) {
      if ((t - this.lastChart) / 1000 >= (this.options.chartEvery ?? 2) && !this.rendering) {
        this.lastChart = t;
        this.rendering = this.renderChart().finally(() => {
          this.rendering = null;
        });
      }
      if ((t - this.lastText) / 1000 >= (this.options.textEvery ?? 0.25)) {
        this.lastText = t;
        this.publish();
      }
    } else if ((t - this.lastConsole) / 1000 >= (this.options.consoleEvery ?? 10)) {
      this.lastConsole = t;
      console.error(this.line());
    }
  }

  /** The text line: title, step, metrics, rate and ETA. */
  line(): string {
    const elapsed = (this.now() - this.start) / 1000;
    const rate = elapsed > 0 ? this.step / elapsed : NaN;
    const eta = rate > 0 ? (this.total - this.step) / rate : NaN;
    const pct = Math.floor((100 * this.step) / this.total);
    const metrics = Object.entries(this.latest)
      .map(([k, v]) => `${k} ${formatMetric(v)}`)
      .join(" | ");
    const timing = this.finished ? `done in ${clock(elapsed)}` : `${rate >= 10 || !Number.isFinite(rate) ? rate.toFixed(0) : rate.toFixed(2)} steps/s | ETA ${clock(eta)}`;
    return `${this.title}: step ${this.step}/${this.total} (${pct}%)${metrics ? " | " + metrics : ""} | ${timing}`;
  }

  /** The chart of the recorded metrics (at most 400 points per series). */
  chart(): Spec | null {
    const names = this.options.chart ?? Object.keys(this.history);
    const rows: { step: number; value: number | null; metric: string }[] = [];
    for (const name of names) {
      const h = this.history[name];
      if (!h) continue;
      const stride = Math.max(1, Math.ceil(h.steps.length / 400));
      for (let i = 0; i < h.steps.length; i += stride) rows.push({ step: h.steps[i]!, value: Number.isFinite(h.values[i]!) ? h.values[i]! : null, metric: name });
      const last = h.steps.length - 1;
      if (last % stride !== 0) rows.push({ step: h.steps[last]!, value: h.values[last]!, metric: name });
    }
    if (rows.length === 0) return null;
    // Series may be logged at different steps (train every step, validation every 100): one row per point.
    return lineChart(rows, { title: this.title, x: "step", y: "value", color: "metric", logY: this.options.logY });
  }

  private async renderChart(): Promise<void> {
    const spec = this.chart();
    if (!spec) return;
    try {
      this.chartSvg = await renderSvg(spec);
      this.chartSpec = spec;
    } catch (e) {
      this.chartSvg = null;
      this.latest["chart error"] = NaN;
      console.error(`Progress chart failed to render: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.publish();
  }

  private publish(): void {
    const data: Record<string, unknown> = { "text/plain": this.line() };
    if (this.chartSpec && this.chartSvg) {
      data["application/vnd.vegalite.v5+json"] = this.chartSpec;
      data["image/svg+xml"] = this.chartSvg;
    }
    sendDisplay({ data, metadata: {}, transient: { display_id: this.displayId } }, this.shown);
    this.shown = true;
  }

  /** Marks the work done: waits for a pending redraw, draws the final chart and the final line. */
  async finish(): Promise<void> {
    this.finished = true;
    if (this.rendering) await this.rendering;
    if (inKernel()) {
      await this.renderChart();
      if (!this.chartSpec) this.publish();
    } else {
      console.error(this.line());
    }
  }
}
