/**
 * The checks of notebooks/01-attention.ipynb's exercises: the causal mask, masked attention from matMul and
 * softmax, the padding mask, and the experiment with the scale of the scores. Expected values come from plain
 * float64 loops; each check recognises the usual wrong answers (the mask of the future, d_k for sqrt(d_k), the
 * mask forgotten or applied after the softmax, the padding on the queries) and says what is wrong.
 * checks/exercise-hints.test.ts shows each diagnosis.
 */
import * as tf from "@tensorflow/tfjs";
import { Exercise, expectValue, miss } from "../../notebook/exercise";
import { Rng } from "../../runtime/random";
import { scaledDotProductAttention } from "../attention";
import { comparePrediction, directionOf, Direction, requirePrediction } from "./predictions";

type Mat = number[][];
const grid = (T: number, f: (i: number, j: number) => number): Mat => Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => f(i, j)));

export const causalMaskExercise: Exercise<(T: number) => number[][]> = {
  id: "causal-mask",
  check: (buildCausalMask) => {
    for (const T of [3, 7, 1]) {
      const got = buildCausalMask(T);
      const name = `buildCausalMask(${T})`;
      if (!Array.isArray(got) || got.length !== T || got.some((r) => !Array.isArray(r) || r.length !== T)) miss(`${name} should be a ${T} x ${T} array of rows; got ${JSON.stringify(got)}.`);
      expectValue(got, grid(T, (i, j) => (j <= i ? 1 : 0)), {
        name,
        atol: 0,
        suspects: [
          { value: grid(T, (i, j) => (j >= i ? 1 : 0)), hints: [`${name} lets query i see keys j >= i: that is the future. Query i predicts token i + 1, so it may look only at keys j <= i (the lower triangle).`] },
          { value: grid(T, (i, j) => (j < i ? 1 : 0)), hints: [`${name} forbids the diagonal: query i may not look at itself. Token i is already known when predicting token i + 1, so j = i is allowed.`] },
          { value: grid(T, (i, j) => (j <= i ? 0 : 1)), hints: [`${name} is inverted: 1 must mean "may look", 0 "masked". Your 1s mark exactly the keys to hide.`] },
        ],
      });
    }
  },
  hints: ["Row i lists what query i may see: keys 0..i. So row i has i + 1 ones, then T - i - 1 zeros.", "Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => (j <= i ? 1 : 0)))."],
};

/** Masked attention for one batch entry in float64 loops, with the mistakes it can also make. */
function attentionLoops(q: Mat, k: Mat, v: Mat, mask: Mat, how: { scale?: number; mask?: "before" | "after" | "none"; axis?: "keys" | "queries" } = {}): Mat {
  const scale = how.scale ?? Math.sqrt(q[0]!.length);
  const scores = q.map((qi) => k.map((kj) => qi.reduce((s, x, c) => s + x * kj[c]!, 0) / scale));
  const allowed = (i: number, j: number) => (how.mask ?? "before") === "none" || mask[i]![j] === 1;
  const masked = scores.map((row, i) => row.map((s, j) => ((how.mask ?? "before") === "before" && !allowed(i, j) ? -1e9 : s)));
  let w: Mat;
  if ((how.axis ?? "keys") === "keys") {
    w = masked.map((row) => {
      const top = Math.max(...row);
      const e = row.map((s) => Math.exp(s - top));
      const total = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / total);
    });
  } else {
    const cols = masked[0]!.map((_, j) => masked.map((row) => row[j]!));
    const soft = cols.map((col) => {
      const top = Math.max(...col);
      const e = col.map((s) => Math.exp(s - top));
      const total = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / total);
    });
    w = masked.map((row, i) => row.map((_, j) => soft[j]![i]!));
  }
  if (how.mask === "after") w = w.map((row, i) => row.map((x, j) => (mask[i]![j] === 1 ? x : 0)));
  return w.map((row) => v[0]!.map((_, c) => row.reduce((s, x, j) => s + x * v[j]![c]!, 0)));
}

const randomMat = (r: Rng, rows: number, cols: number): Mat => Array.from({ length: rows }, () => Array.from({ length: cols }, () => r.normal()));

export type MaskedAttentionFn = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor) => tf.Tensor;

export const attentionFromMatmulExercise: Exercise<MaskedAttentionFn> = {
  id: "attention-from-matmul",
  check: (myAttention) => {
    const r = new Rng(7);
    const [B, Tq, Tk, dK, dV] = [2, 4, 6, 16, 3];
    const q = Array.from({ length: B }, () => randomMat(r, Tq, dK).map((row) => row.map((x) => 2 * x)));
    const k = Array.from({ length: B }, () => randomMat(r, Tk, dK));
    const v = Array.from({ length: B }, () => randomMat(r, Tk, dV));
    const mask = [[1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0], [1, 0, 1, 0, 1, 0]];
    const out = tf.tidy(() => myAttention(tf.tensor3d(q), tf.tensor3d(k), tf.tensor3d(v), tf.tensor2d(mask)).arraySync()) as number[][][];
    const as = (how: Parameters<typeof attentionLoops>[4]) => q.map((_, b) => attentionLoops(q[b]!, k[b]!, v[b]!, mask, how));
    expectValue(out, as({}), {
      name: "myAttention on a seeded masked batch (d_k = 16)",
      atol: 1e-4,
      rtol: 1e-4,
      suspects: [
        { value: as({ scale: dK }), hints: ["You divided the scores by d_k = 16, not sqrt(d_k) = 4 (a common tutorial's slip). q.k of unit vectors has variance d_k, so its standard deviation, sqrt(d_k), is what brings it back to 1."] },
        { value: as({ scale: 1 }), hints: ["Your scores are not scaled: divide q k^T by sqrt(d_k) before the softmax (section 'Why sqrt(d_k)')."] },
        { value: as({ mask: "none" }), hints: ["Your output does not depend on the mask: masked keys still get weight. Replace their scores by a very negative number before the softmax."] },
        { value: as({ mask: "after" }), hints: ["Masked keys get weight 0, but each row's weights no longer sum to 1: you masked after the softmax. Mask the scores before it, so the softmax renormalises over the allowed keys."] },
        { value: as({ axis: "queries" }), hints: ["Your softmax runs over the queries (each column sums to 1). Each query's weights over the keys must sum to 1: softmax over the last axis."] },
      ],
    });
  },
  hints: [
    "The steps: scores = q k^T / sqrt(d_k) (shape (B, Tq, Tk)); masked scores -> -1e9; softmax over the last axis; weights times v.",
    "tf.matMul(q, k, false, true).div(Math.sqrt(dK)); tf.where(tf.cast(mask, 'bool'), scores, tf.fill(scores.shape, -1e9)); tf.softmax; tf.matMul(weights, v).",
  ],
};

export const paddingMaskExercise: Exercise<(lengths: number[], T: number) => tf.Tensor> = {
  id: "padding-mask",
  check: (buildPaddingMask) => {
    const lengths = [3, 1, 4];
    const got = tf.tidy(() => {
      const m = buildPaddingMask(lengths, 4);
      return { shape: m.shape, values: m.arraySync() };
    });
    const keys = lengths.map((n) => Array.from({ length: 4 }, (_, j) => (j < n ? 1 : 0)));
    if (got.shape.length === 3 && got.shape[1] === 4 && got.shape[2] === 1) miss(`Your mask has shape [${got.shape.join(", ")}]: it masks queries (the middle axis), not keys. The padding must be hidden as keys: shape (B, 1, T), broadcast over the queries.`);
    if (got.shape.length === 2) miss(`Your mask has shape [${got.shape.join(", ")}], (B, T). Attention's weights are (B, T_q, T_k): give the mask a middle axis of size 1, (B, 1, T), so one row per sequence broadcasts over every query.`);
    expectValue(got.values as number[][][], keys.map((row) => [row]), {
      name: "buildPaddingMask([3, 1, 4], 4)",
      atol: 0,
      suspects: [
        { value: keys.map((row) => [row.map((x) => 1 - x)]), hints: ["Your mask is inverted: it is 1 on the padding. 1 must mark the real tokens, the keys that may be looked at."] },
        { value: lengths.map((n) => [Array.from({ length: 4 }, (_, j) => (j <= n ? 1 : 0))]), hints: ["One key too many per sequence: a sequence of length n has real tokens at positions 0..n-1, so j < n, not j <= n."] },
      ],
    });
    // With the mask, changing the padding's keys and values must not change the output.
    const [a, b] = tf.tidy(() => {
      const mask = buildPaddingMask([2, 3], 4);
      const [q, k, v] = [3, 4, 5].map((s) => tf.randomNormal([2, 4, 5], 0, 1, "float32", s));
      const noise = tf.randomNormal([2, 4, 5], 0, 10, "float32", 6).mul(tf.tensor3d([[[0], [0], [1], [1]], [[0], [0], [0], [1]]]));
      return [scaledDotProductAttention(q!, k!, v!, mask).output.arraySync(), scaledDotProductAttention(q!, k!.add(noise), v!.add(noise), mask).output.arraySync()];
    });
    expectValue(b as number[][][], a as number[][][], { name: "attention output after changing only the padding", atol: 1e-5 });
  },
  hints: ["Entry [b, 0, j] is 1 when j < lengths[b]: build the numbers first, then tf.tensor3d(rows, [B, 1, T]).", "lengths.map((n) => [Array.from({ length: T }, (_, j) => (j < n ? 1 : 0))]) gives the (B, 1, T) rows."],
};

/** The learner's measurement: the median over the batch of |dL/ds|, s = q k^T / scale, L = sum(softmax(s) v * g). */
export type ScoreGradientFn = (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, g: tf.Tensor3D, scale: number) => number;

export interface ScaleExperiment {
  prediction: { unscaled: Direction; overDk: Direction } | undefined;
  measure: ScoreGradientFn;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** |dL/ds| and |dL/dq| per batch entry in float64: dL/ds_j = p_j (u_j - sum_i p_i u_i) with u_j = v_j . g. */
export function scoreGradientsByHand(q: number[][][], k: number[][][], v: number[][][], g: number[][][], scale: number): { scores: number[]; query: number[] } {
  const scores: number[] = [];
  const query: number[] = [];
  q.forEach((qb, b) => {
    const qi = qb[0]!;
    const s = k[b]!.map((kj) => qi.reduce((acc, x, c) => acc + x * kj[c]!, 0) / scale);
    const top = Math.max(...s);
    const e = s.map((x) => Math.exp(x - top));
    const total = e.reduce((a, c) => a + c, 0);
    const p = e.map((x) => x / total);
    const u = v[b]!.map((vj) => vj.reduce((acc, x, c) => acc + x * g[b]![0]![c]!, 0));
    const mean = p.reduce((acc, pj, j) => acc + pj * u[j]!, 0);
    const ds = p.map((pj, j) => pj * (u[j]! - mean));
    scores.push(Math.hypot(...ds));
    query.push(Math.hypot(...qi.map((_, c) => ds.reduce((acc, d, j) => acc + (d * k[b]![j]![c]!) / scale, 0))));
  });
  return { scores, query };
}

export const scoreScaleExercise: Exercise<ScaleExperiment> = {
  id: "score-scale",
  check: ({ prediction, measure }) => {
    const predicted = requirePrediction(prediction, "unscaled and overDk, each smaller, about the same or larger");
    const [n, T, d] = [64, 16, 256];
    const r = new Rng(17);
    const draw = (rows: number, cols: number) => Array.from({ length: n }, () => randomMat(r, rows, cols));
    const [q, k, v, g] = [draw(1, d), draw(T, d), draw(T, 8), draw(1, 8)];
    const scales = { sqrt: Math.sqrt(d), unscaled: 1, overDk: d };
    const mine = tf.tidy(() => {
      const [qt, kt, vt, gt] = [q, k, v, g].map((x) => tf.tensor3d(x));
      return Object.fromEntries(Object.entries(scales).map(([name, c]) => [name, measure(qt!, kt!, vt!, gt!, c)])) as Record<keyof typeof scales, number>;
    });
    for (const [name, c] of Object.entries(scales) as [keyof typeof scales, number][]) {
      const byHand = scoreGradientsByHand(q, k, v, g, c);
      expectValue(mine[name], median(byHand.scores), {
        name: `scoreGradient(..., scale = ${c})`,
        rtol: 2e-3,
        atol: 1e-9,
        suspects: [
          { value: median(byHand.query), hints: ["You measured the gradient at the query, dL/dq. The question is about the gradient at the scores s = q k^T / scale: differentiate L with respect to s (tf.grad of a function of s)."] },
          { value: byHand.scores.reduce((a, b) => a + b, 0) / n, hints: ["You took the mean over the batch; take the median (the gradients are heavy-tailed, one saturated row should not decide)."] },
        ],
      });
    }
    if (Math.abs(mine.unscaled - mine.sqrt) <= 1e-9 * mine.sqrt) miss("Your numbers do not depend on the scale: s must be q k^T divided by `scale`.");
    const why = `The scores' standard deviation is sqrt(d_k) / scale: 16 without a scale (the softmax is one-hot and its Jacobian diag(p) - p p^T vanishes), 1/16 over d_k (the softmax is nearly uniform, p = 1/16, and the Jacobian is about (I - 1/16)/16).`;
    comparePrediction("leaving the scale out", predicted.unscaled, directionOf(mine.unscaled, mine.sqrt), why);
    comparePrediction("dividing by d_k", predicted.overDk, directionOf(mine.overDk, mine.sqrt), why);
    return `Median |dL/ds| at d_k = 256: ${mine.sqrt.toExponential(2)} with sqrt(d_k), ${mine.unscaled.toExponential(2)} unscaled, ${mine.overDk.toExponential(2)} over d_k.`;
  },
  hints: [
    "Make s a function argument: const lossOfScores = (s) => tf.sum(tf.mul(tf.matMul(tf.softmax(s), v), g)); then tf.grad(lossOfScores)(scores).",
    "Norm per batch entry: tf.sqrt(tf.sum(tf.square(grad), [1, 2])); then the median of those n numbers.",
  ],
};
