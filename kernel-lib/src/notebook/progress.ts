/**
 * Progress: one output updated in place (update_display_data) with a text line and a live loss chart.
 * Taught in notebooks/00-tour.ipynb.
 */
import { renderSvg } from "./charts";
import { inKernel, newDisplayId, sendDisplay } from "./display";
import { Spec, lineChart } from "./plot";

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
