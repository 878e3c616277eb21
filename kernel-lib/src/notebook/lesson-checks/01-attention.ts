/**
 * Checks of lesson 01's attention that a wrong formula fails: attention against plain float64 loops on a
 * seeded batch, and one-hot self-attention against its closed-form weights. Taught in
 * notebooks/01-attention.ipynb; checks/lesson-checks.test.ts shows each failing on a wrong attention.
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../runtime/random";
import { checkClose } from "../check";

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
