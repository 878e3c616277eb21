/**
 * Pure functions that return Vega-Lite v5 specs. They draw nothing: pass a spec to `showChart` (charts.ts)
 * to see it, or inspect it as data in a test. Defaults are small, as in d2l.ai. Taught in
 * notebooks/00-tour.ipynb.
 */
import type { TopLevelSpec } from "vega-lite";

export type Spec = TopLevelSpec;
export type Row = Record<string, number | string | boolean | null>;

export interface ChartOptions {
  /** Chart title. Default none. */
  title?: string;
  /** Plot width in pixels. Default 320. */
  width?: number;
  /** Plot height in pixels. Default 200. */
  height?: number;
}

const SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";

function base(options: ChartOptions): { $schema: string; width: number; height: number; title?: string } {
  return { $schema: SCHEMA, width: options.width ?? 320, height: options.height ?? 200, ...(options.title ? { title: options.title } : {}) };
}

function finite(v: number, what: string): number | null {
  // JSON has no NaN or Infinity: a non-finite value becomes a gap (null) rather than a broken spec.
  if (typeof v !== "number") throw new TypeError(`${what} must be a number, got ${typeof v}`);
  return Number.isFinite(v) ? v : null;
}

export interface LineOptions extends ChartOptions {
  /** Field for the x axis. Default "x". */
  x?: string;
  /** Field for the y axis. Default "y". */
  y?: string;
  /** Field that splits the rows into coloured lines. Default none. */
  color?: string;
  /** Axis titles. Default: the field names. */
  xTitle?: string;
  yTitle?: string;
  /** Logarithmic y axis. Default false. */
  logY?: boolean;
  /** Logarithmic x axis. Default false. */
  logX?: boolean;
  /** Draw points on the line. Default false. */
  points?: boolean;
}

/** A line chart of rows such as `{ step: 10, loss: 2.3, split: "train" }`. */
export function lineChart(rows: Row[], options: LineOptions = {}): Spec {
  const { x = "x", y = "y", color } = options;
  return {
    ...base(options),
    data: { values: rows },
    mark: { type: "line", point: options.points ?? false, tooltip: true },
    encoding: {
      x: { field: x, type: "quantitative", title: options.xTitle ?? x, ...(options.logX ? { scale: { type: "log" } } : {}) },
      y: { field: y, type: "quantitative", title: options.yTitle ?? y, scale: options.logY ? { type: "log" } : { zero: false } },
      ...(color ? { color: { field: color, type: "nominal" } } : {}),
    },
  } as Spec;
}

/**
 * Lines from named series sharing an x axis: `seriesChart({ train: [..], val: [..] }, { xs: steps })`.
 * Series may be shorter than `xs` (a live chart); NaN values become gaps.
 */
export function seriesChart(series: Record<string, number[]>, options: LineOptions & { xs?: number[] } = {}): Spec {
  const x = options.x ?? "step";
  const y = options.y ?? "value";
  const rows: Row[] = [];
  for (const [name, values] of Object.entries(series)) {
    values.forEach((v, i) => rows.push({ [x]: options.xs ? options.xs[i]! : i, [y]: finite(v, `series ${name}[${i}]`), series: name }));
  }
  return lineChart(rows, { ...options, x, y, color: Object.keys(series).length > 1 ? "series" : undefined });
}

export interface HeatmapOptions extends ChartOptions {
  /** Labels of the columns (x) and rows (y). Default: indices. */
  xLabels?: string[];
  yLabels?: string[];
  /** Axis titles. Default "column" and "row". */
  xTitle?: string;
  yTitle?: string;
  /** Colour scheme (a Vega scheme name). Default "viridis". */
  scheme?: string;
  /** Fixed colour domain, e.g. [0, 1] for attention weights. Default: the data's range. */
  domain?: [number, number];
  /** Print each value in its cell (for small matrices). Default false. */
  showValues?: boolean;
}

/** A heatmap of a matrix given as rows (`matrix[row][col]`). */
export function heatmap(matrix: number[][], options: HeatmapOptions = {}): Spec {
  if (matrix.length === 0) throw new RangeError("heatmap: the matrix has no rows");
  const cols = matrix[0]!.length;
  const xl = options.xLabels ?? Array.from({ length: cols }, (_, j) => String(j));
  const yl = options.yLabels ?? matrix.map((_, i) => String(i));
  if (xl.length !== cols) throw new RangeError(`heatmap: ${xl.length} xLabels for ${cols} columns`);
  if (yl.length !== matrix.length) throw new RangeError(`heatmap: ${yl.length} yLabels for ${matrix.length} rows`);
  const rows: Row[] = [];
  matrix.forEach((r, i) => {
    if (r.length !== cols) throw new RangeError(`heatmap: row ${i} has ${r.length} values, row 0 has ${cols}`);
    // Labels may repeat (a word twice in a sentence): key the cells by position, show the label.
    r.forEach((v, j) => rows.push({ col: j, row: i, colLabel: xl[j]!, rowLabel: yl[i]!, value: finite(v, `matrix[${i}][${j}]`) }));
  });
  const sortCol = { field: "col", order: "ascending" } as const;
  const sortRow = { field: "row", order: "ascending" } as const;
  const x = { field: "colLabel", type: "ordinal", title: options.xTitle ?? "column", sort: sortCol, axis: { labelAngle: 0 } };
  const y = { field: "rowLabel", type: "ordinal", title: options.yTitle ?? "row", sort: sortRow };
  const layers: object[] = [
    {
      mark: { type: "rect", tooltip: true },
      encoding: {
        x,
        y,
        color: { field: "value", type: "quantitative", scale: { scheme: options.scheme ?? "viridis", ...(options.domain ? { domain: options.domain } : {}) } },
      },
    },
  ];
  if (options.showValues) {
    layers.push({ mark: { type: "text", fontSize: 10 }, encoding: { x, y, text: { field: "value", type: "quantitative", format: ".2f" }, color: { value: "white" } } });
  }
  const size = { width: options.width ?? Math.min(320, 24 * cols), height: options.height ?? Math.min(320, 24 * matrix.length) };
  return { ...base(options), ...size, data: { values: rows }, layer: layers } as Spec;
}

export interface ScatterOptions extends ChartOptions {
  /** Field names. Defaults "x", "y". */
  x?: string;
  y?: string;
  /** Field that colours the points (nominal). Default none. */
  color?: string;
  /** Point size. Default 12. */
  size?: number;
  /** Fixed axis domains. Default: the data's range. */
  xDomain?: [number, number];
  yDomain?: [number, number];
}

/** A scatter plot of rows such as `{ x: 0.1, y: -2, label: "shirt" }`. */
export function scatter(rows: Row[], options: ScatterOptions = {}): Spec {
  const { x = "x", y = "y", color } = options;
  return {
    ...base(options),
    data: { values: rows },
    mark: { type: "circle", size: options.size ?? 12, opacity: 0.7 },
    encoding: {
      x: { field: x, type: "quantitative", scale: options.xDomain ? { domain: options.xDomain } : { zero: false } },
      y: { field: y, type: "quantitative", scale: options.yDomain ? { domain: options.yDomain } : { zero: false } },
      ...(color ? { color: { field: color, type: "nominal" } } : {}),
    },
  } as Spec;
}

export interface HistogramOptions extends ChartOptions {
  /** Maximum number of bins. Default 30. */
  maxBins?: number;
  /** Axis title of the values. Default "value". */
  xTitle?: string;
}

/** A histogram of numbers. */
export function histogram(values: number[], options: HistogramOptions = {}): Spec {
  return {
    ...base(options),
    data: { values: values.map((v, i) => ({ value: finite(v, `values[${i}]`) })) },
    mark: { type: "bar", tooltip: true },
    encoding: {
      x: { field: "value", type: "quantitative", bin: { maxbins: options.maxBins ?? 30 }, title: options.xTitle ?? "value" },
      y: { aggregate: "count", type: "quantitative", title: "count" },
    },
  } as Spec;
}

/** Charts side by side (`hconcat`), keeping each one's own data. */
export function sideBySide(specs: Spec[], title?: string): Spec {
  const inner = specs.map((s) => {
    const { $schema: _schema, ...rest } = s as unknown as Record<string, unknown>;
    return rest;
  });
  return { $schema: SCHEMA, ...(title ? { title } : {}), hconcat: inner } as unknown as Spec;
}
