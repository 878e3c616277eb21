/**
 * Checks of lesson 01's attention that a wrong formula fails: attention against plain float64 loops on a
 * seeded batch, and one-hot self-attention against its closed-form weights. Taught in
 * notebooks/01-attention.ipynb; checks/lesson-checks.test.ts shows each failing on a wrong attention.
 * Also the lesson's plumbing: the saturation experiment's table and charts, the masks' panels.
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../runtime/random";
import { checkClose } from "../check";
import { heatmap, seriesChart, sideBySide, Spec } from "../plot";

/** An attention under test: (q, k, v) -> output, with the shapes of tf.matMul's batched product. */
export type AttentionFn = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor;

type Mat = number[][];
const randomMat = (r: Rng, rows: number, cols: number): Mat => Array.from({ length: rows }, () => Array.from({ length: cols }, () => r.normal()));

/** softmax(q k^T / sqrt(d_k)) v for one batch entry, in float64 loops: no tensor, no shared code. */
export function attentionByLoops(q: Mat, k: Mat, v: Mat): Mat {
  const dK = q[0]!.length;
  return q.map((qi) => {
    const scores = k.map((kj) => qi.reduce((s, x, c) => s + x * kj[c]!, 0) / Math.sqrt(dK));
    const top = Math.max(...scores);
    const e = scores.map((s) => Math.exp(s - top));
    const total = e.reduce((s, x) => s + x, 0);
    return v[0]!.map((_, c) => e.reduce((s, w, j) => s + (w / total) * v[j]![c]!, 0));
  });
}

/**
 * Checks `attention` against {@link attentionByLoops} on a seeded batch (B = 2, T_q = 5, T_k = 7, d_k = 8,
 * d_v = 3); throws a CheckError naming the worst entry. Returns the largest difference.
 */
export function checkAttentionFormula(attention: AttentionFn, name = "attention", seed = 1): number {
  const r = new Rng(seed);
  const [B, Tq, Tk, dK, dV] = [2, 5, 7, 8, 3];
  const q = Array.from({ length: B }, () => randomMat(r, Tq, dK));
  const k = Array.from({ length: B }, () => randomMat(r, Tk, dK));
  const v = Array.from({ length: B }, () => randomMat(r, Tk, dV));
  const expected = q.map((_, b) => attentionByLoops(q[b]!, k[b]!, v[b]!));
  const actual = tf.tidy(() => attention(tf.tensor3d(q), tf.tensor3d(k), tf.tensor3d(v)).arraySync() as number[][][]);
  return checkClose(actual, expected, { atol: 1e-5, rtol: 1e-4, name: `${name} vs float64 loops` });
}

/**
 * The weights of self-attention on one-hot word vectors times `scale`, by hand: the score of two equal
 * words is scale^2 / sqrt(V) (V distinct words, the width), of two different words 0, so a word with c
 * copies among n tokens puts e^a / (c e^a + n - c) on each copy (a = scale^2 / sqrt(V)) and
 * 1 / (c e^a + n - c) on every other token.
 */
export function oneHotAttentionWeights(sentence: string[], scale: number): Mat {
  const V = new Set(sentence).size;
  const a = (scale * scale) / Math.sqrt(V);
  const n = sentence.length;
  return sentence.map((w) => {
    const c = sentence.filter((u) => u === w).length;
    const denominator = c * Math.exp(a) + n - c;
    return sentence.map((u) => (u === w ? Math.exp(a) : 1) / denominator);
  });
}

/** Checks attention weights of one-hot word vectors (times `scale`) against {@link oneHotAttentionWeights}. */
export function checkOneHotAttention(sentence: string[], weights: Mat, scale: number): number {
  return checkClose(weights, oneHotAttentionWeights(sentence, scale), { atol: 1e-6, rtol: 1e-5, name: "one-hot self-attention weights vs by hand" });
}

/** One width's measurements of the softmax-saturation experiment of notebooks/01-attention.ipynb (section 2). */
export interface SaturationRow {
  /** The mean over queries of the largest attention weight (1 is one-hot). */
  maxWeight: number;
  /** The median norm of dL/ds, the gradient at the scores. */
  gradScores: number;
  /** The median norm of dL/dq, the gradient at the query. */
  gradQuery: number;
}

/** The experiment's results: one row per width, with the 1/sqrt(d_k) scale and without it. */
export type SaturationResults = Record<"scaled" | "unscaled", SaturationRow[]>;

function checkSaturationShape(widths: number[], results: SaturationResults, who: string): void {
  for (const kind of ["scaled", "unscaled"] as const) {
    const rows = results[kind];
    if (!Array.isArray(rows) || rows.length !== widths.length) {
      throw new RangeError(`${who}: ${widths.length} widths but ${Array.isArray(rows) ? rows.length : "no"} ${kind} rows`);
    }
  }
}

/** The experiment as a text table: a header, then one line per width (scaled and unscaled side by side). */
export function saturationTable(widths: number[], results: SaturationResults): string[] {
  checkSaturationShape(widths, results, "saturationTable");
  const e = (x: number) => x.toExponential(2).padStart(9);
  const lines = ["  d_k | max weight: scaled  unscaled | |dL/ds|: scaled  unscaled | |dL/dq|: scaled  unscaled"];
  widths.forEach((d, i) => {
    const s = results.scaled[i]!;
    const u = results.unscaled[i]!;
    const weights = `${s.maxWeight.toFixed(3)}    ${u.maxWeight.toFixed(3)}`;
    lines.push(`${String(d).padStart(5)} |            ${weights} |      ${e(s.gradScores)} ${e(u.gradScores)} |      ${e(s.gradQuery)} ${e(u.gradQuery)}`);
  });
  return lines;
}

/** Three charts side by side (max weight, |dL/ds|, |dL/dq| against d_k), scaled and unscaled in each. */
export function saturationCharts(widths: number[], results: SaturationResults): Spec {
  checkSaturationShape(widths, results, "saturationCharts");
  const series = (key: keyof SaturationRow) => ({
    scaled: results.scaled.map((r) => r[key]),
    unscaled: results.unscaled.map((r) => r[key]),
  });
  const common = { xs: widths, x: "d_k", points: true, width: 220 };
  return sideBySide([
    seriesChart(series("maxWeight"), { ...common, y: "mean max weight", title: "softmax saturation" }),
    seriesChart(series("gradScores"), { ...common, y: "median |dL/ds|", logY: true, title: "gradient at the scores" }),
    seriesChart(series("gradQuery"), { ...common, y: "median |dL/dq|", logY: true, title: "gradient at the query" }),
  ]);
}

/**
 * The masks section's three panels side by side, each with its own colour scale: the causal mask, the padding
 * masks of sequences of the given `lengths` (one row per sequence) and attention weights under the causal mask
 * (values printed in the cells).
 */
export function maskPanels(pictures: { causal: Mat; padding: Mat; weights: Mat }, lengths: number[]): Spec {
  const keys = pictures.causal[0]?.length ?? 0;
  for (const [name, m] of Object.entries(pictures)) {
    if (m.length === 0 || m.some((row) => row.length !== keys)) throw new RangeError(`maskPanels: every row of ${name} must have ${keys} keys`);
  }
  if (lengths.length !== pictures.padding.length) {
    throw new RangeError(`maskPanels: ${lengths.length} lengths for ${pictures.padding.length} rows of the padding mask`);
  }
  const paddingTitle = `padding mask (lengths ${lengths.join(", ")})`;
  const xLabels = Array.from({ length: keys }, (_, j) => `k${j}`);
  const mask = { xTitle: "key", xLabels, domain: [0, 1] as [number, number], scheme: "greys" };
  return {
    ...sideBySide([
      heatmap(pictures.causal, { ...mask, title: "causal mask", yTitle: "query" }),
      heatmap(pictures.padding, { ...mask, title: paddingTitle, yTitle: "sequence" }),
      heatmap(pictures.weights, { ...mask, scheme: "viridis", title: "weights under the causal mask", yTitle: "query", showValues: true }),
    ]),
    // Vega-Lite would otherwise merge the three colour scales into one.
    resolve: { scale: { color: "independent" } },
  } as Spec;
}
