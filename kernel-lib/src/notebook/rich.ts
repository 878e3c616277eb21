/**
 * How a cell's last value looks in the notebook. The aigc-lab kernel hands the value of a cell's last
 * expression to {@link resultBundle} (when the notebook has loaded kernel-lib) and sends what it returns
 * as the cell's `execute_result`: a Vega-Lite spec becomes a chart, a tensor its shape, dtype and
 * abbreviated values, an image tensor a PNG. Taught in notebooks/00-tour.ipynb.
 *
 * An image is recognised when it is wrapped with {@link asImage}, or, conservatively, when a tensor
 * could hardly be anything else: rank 4 `[N, H, W, C]` with C = 1 or 3, H and W at least 8, and every
 * value in [0, 1] (float32) or [0, 255] (int32). Such a tensor keeps its text summary next to the PNG.
 */
import * as tf from "@tensorflow/tfjs";
import { inspect } from "node:util";
import { chartBundle } from "./charts";
import { ImageGridOptions, imageGrid } from "./images";
import { Spec } from "./plot";

/** The data and metadata of an `execute_result` (or `display_data`) message. */
export interface ResultBundle {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

const IMAGE_VALUE = Symbol.for("aigc-lab.image");

/** Options of {@link asImage}: those of `imageGrid` plus a caption for the text/plain line. */
export type AsImageOptions = ImageGridOptions & { caption?: string };

/** A tensor marked to be shown as an image grid; made by {@link asImage}. */
export interface ImageValue {
  readonly [IMAGE_VALUE]: true;
  readonly images: tf.Tensor;
  readonly options: AsImageOptions;
}

/**
 * Marks a tensor of images (`[N, H, W]`, `[N, H, W, 1|3]`, `[H, W]` or `[H, W, 1|3]`, values in
 * `options.range`, default [0, 1]) to be shown as a PNG grid when it is a cell's last value:
 * `asImage(samples)` at the end of a cell. The tensor is not copied or disposed.
 */
export function asImage(images: tf.Tensor, options: AsImageOptions = {}): ImageValue {
  return { [IMAGE_VALUE]: true, images, options };
}

/** True for a value made by {@link asImage}. */
export function isImageValue(value: unknown): value is ImageValue {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[IMAGE_VALUE] === true;
}

/**
 * True for a tf.Tensor. Duck-typed rather than `instanceof`, so a tensor from another copy of tfjs
 * (a notebook may resolve its own) is recognised too.
 */
export function isTensor(value: unknown): value is tf.Tensor {
  if (typeof value !== "object" || value === null) return false;
  const t = value as Partial<Record<keyof tf.Tensor, unknown>>;
  return Array.isArray(t.shape) && typeof t.dtype === "string" && typeof t.dataSync === "function" && typeof t.isDisposed === "boolean";
}

/** True for a Vega-Lite spec: an object whose `$schema` names Vega-Lite (every kernel-lib chart sets it). */
export function isVegaLiteSpec(value: unknown): value is Spec {
  if (typeof value !== "object" || value === null) return false;
  const schema = (value as { $schema?: unknown }).$schema;
  return typeof schema === "string" && /vega-lite/i.test(schema);
}

/** Tensors larger than this are not scanned for the image heuristic (nor printed value by value). */
const MAX_SCANNED = 1 << 22;

/** The value range of `t` when it looks like a batch of images (see the module comment), else null. */
export function imageRange(t: tf.Tensor): [number, number] | null {
  if (t.isDisposed || t.rank !== 4 || t.size > MAX_SCANNED) return null;
  const [n, h, w, c] = t.shape as [number, number, number, number];
  if (n < 1 || h < 8 || w < 8 || (c !== 1 && c !== 3)) return null;
  const hi = t.dtype === "float32" ? 1 : t.dtype === "int32" ? 255 : null;
  if (hi === null) return null;
  const values = t.dataSync() as Float32Array | Int32Array;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // NaN fails both comparisons' negation, so it rules the tensor out too.
    if (!(v >= 0 && v <= hi)) return null;
  }
  return [0, hi];
}

function formatNumber(v: number, dtype: string): string {
  if (dtype === "bool") return v ? "true" : "false";
  if (!Number.isFinite(v) || Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a < 1e-4 || a >= 1e6) return v.toExponential(3);
  return String(Number(v.toFixed(4)));
}

/** Per axis, at most this many entries are shown: the first and last half, with "..." between. */
const EDGE = 3;

function formatValues(values: ArrayLike<number | string>, shape: number[], dtype: string): string {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const show = (n: number): number[] => (n > 2 * EDGE ? [...Array(EDGE).keys(), -1, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)] : [...Array(n).keys()]);
  const item = (x: number | string): string => (typeof x === "string" ? JSON.stringify(x) : formatNumber(x, dtype));
  const rec = (offset: number, axis: number): string => {
    const n = shape[axis]!;
    if (axis === shape.length - 1) return `[${show(n).map((i) => (i < 0 ? "..." : item(values[offset + i]!))).join(", ")}]`;
    const pad = " ".repeat(axis + 1);
    return `[${show(n).map((i) => (i < 0 ? "..." : rec(offset + i * strides[axis]!, axis + 1))).join(`,\n${pad}`)}]`;
  };
  return shape.length === 0 ? item(values[0]!) : rec(0, 0);
}

/**
 * A tensor as text: `Tensor float32 [2, 3]` and its values, each axis longer than 6 abbreviated to its
 * first and last 3 entries. A disposed tensor says so instead of failing.
 */
export function formatTensor(t: tf.Tensor): string {
  const head = `Tensor ${t.dtype} [${t.shape.join(", ")}]`;
  if (t.isDisposed) return `${head} (disposed)`;
  if (t.dtype === "complex64") return `${head} (complex values not shown)`;
  if (t.size > MAX_SCANNED) return `${head} (${t.size} values, not shown)`;
  if (t.size === 0) return `${head} (empty)`;
  return `${head}\n${formatValues(t.dataSync() as ArrayLike<number | string>, t.shape, t.dtype)}`;
}

function imageBundle(images: tf.Tensor, options: AsImageOptions, text: string): ResultBundle {
  const grid = imageGrid(images, options);
  const caption = options.caption ?? `${grid.count} image${grid.count === 1 ? "" : "s"}`;
  return {
    data: { "image/png": grid.png.toString("base64"), "text/plain": `${text}\n[image grid: ${caption}, ${grid.width}x${grid.height} px]`.trimStart() },
    metadata: { "image/png": { width: grid.width, height: grid.height } },
  };
}

/**
 * The display bundle for a cell's last value, or null for `undefined` (no result). A chart gives the
 * chart bundle (Vega-Lite + SVG + text), a tensor its text summary (plus a PNG for an image batch),
 * an {@link asImage} value a PNG grid, anything else Node's `util.inspect` text.
 */
export async function resultBundle(value: unknown): Promise<ResultBundle | null> {
  if (value === undefined) return null;
  if (isImageValue(value)) return imageBundle(value.images, value.options, "");
  if (isVegaLiteSpec(value)) return { data: await chartBundle(value), metadata: {} };
  if (isTensor(value)) {
    const text = formatTensor(value);
    const range = imageRange(value);
    return range ? imageBundle(value, { range }, text) : { data: { "text/plain": text }, metadata: {} };
  }
  return { data: { "text/plain": inspect(value, { depth: 4, maxArrayLength: 50, breakLength: 100 }) }, metadata: {} };
}
