/**
 * Checks of the encoder-decoder lesson that a wrong formula fails: cross-attention against lesson 01's float64
 * attention loops with the queries from the decoder and the keys and values from the encoder; the decoder's causal
 * mask (a changed later target token leaves the earlier outputs alone, and without the mask it would not); the
 * label-smoothed loss against a float64 hand computation. Taught in notebooks/03-encoder-decoder.ipynb;
 * checks/lesson-checks.test.ts shows each failing on a wrong input.
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../runtime/random";
import { CheckError, checkClose } from "../check";
import { attentionByLoops } from "./01-attention";

type Mat = number[][];

/** The projections of one cross-attention layer as plain numbers: W (in, out) and b (out). */
export interface CrossAttentionWeights {
  wq: Mat;
  wk: Mat;
  wv: Mat;
  wo: Mat;
  bq: number[];
  bk: number[];
  bv: number[];
  bo: number[];
}

const project = (x: Mat, w: Mat, b: number[]): Mat => x.map((row) => b.map((bj, j) => row.reduce((s, v, i) => s + v * w[i]![j]!, bj)));

/**
 * Multi-head cross-attention of one sequence in float64 loops: Q = x Wq + bq from the decoder's states x (Tq, d),
 * K = m Wk + bk and V = m Wv + bv from the encoder's output m (Tk, dMemory), lesson 01's attention in each head on
 * its d / h columns, the heads side by side, then Wo, bo.
 */
export function crossAttentionByLoops(x: Mat, memory: Mat, w: CrossAttentionWeights, numHeads: number): Mat {
  const [q, k, v] = [project(x, w.wq, w.bq), project(memory, w.wk, w.bk), project(memory, w.wv, w.bv)];
  const dK = q[0]!.length / numHeads;
  const cols = (m: Mat, h: number) => m.map((r) => r.slice(h * dK, (h + 1) * dK));
  const heads = Array.from({ length: numHeads }, (_, h) => attentionByLoops(cols(q, h), cols(k, h), cols(v, h)));
  return project(x.map((_, i) => heads.flatMap((o) => o[i]!)), w.wo, w.bo);
}

/**
 * Checks `apply` (queries from x (1, Tq, d), keys and values from memory (1, Tk, dMemory)) against
 * {@link crossAttentionByLoops} with the same weights on seeded inputs; throws a CheckError naming the worst
 * entry. Returns the largest difference.
 */
export function checkCrossAttention(
  apply: (x: tf.Tensor, memory: tf.Tensor) => tf.Tensor,
  weights: CrossAttentionWeights,
  numHeads: number,
  options: { tq?: number; tk?: number; seed?: number; name?: string } = {},
): number {
  const r = new Rng(options.seed ?? 1);
  const rows = (n: number, d: number) => Array.from({ length: n }, () => Array.from({ length: d }, () => r.normal()));
  const x = rows(options.tq ?? 4, weights.wq.length);
  const memory = rows(options.tk ?? 7, weights.wk.length);
  const actual = tf.tidy(() => (apply(tf.tensor3d([x]), tf.tensor3d([memory])).arraySync() as Mat[])[0]!);
  return checkClose(actual, crossAttentionByLoops(x, memory, weights, numHeads), { atol: 1e-5, rtol: 1e-4, name: `${options.name ?? "cross-attention"} vs float64 loops` });
}

/**
 * The causal-mask check: `outputsOf` maps decoder input ids to one row of outputs per position. Replacing the
 * token at `position` by `replacement` must leave every earlier row unchanged (below 1e-5) when `causal`, and
 * change some earlier row (above 1e-4) when not; either way the row at `position` must change, or the check would
 * prove nothing. Returns the largest change before `position` and from it on.
 */
export function checkCausalOutputs(outputsOf: (ids: number[]) => Mat, ids: number[], position: number, replacement: number, causal: boolean): { earlier: number; later: number } {
  if (!Number.isInteger(position) || position < 1 || position >= ids.length || ids[position] === replacement) {
    throw new RangeError(`checkCausalOutputs: position must be in 1..${ids.length - 1} and the replacement must differ from ids[position]`);
  }
  const a = outputsOf(ids);
  const b = outputsOf(ids.map((t, i) => (i === position ? replacement : t)));
  const change = (from: number, to: number) => Math.max(...a.slice(from, to).map((row, i) => Math.max(...row.map((v, j) => Math.abs(v - b[from + i]![j]!)))));
  const result = { earlier: change(0, position), later: change(position, a.length) };
  const what = `changing input ${position} of ${ids.length}`;
  if (!(result.later > 1e-4)) throw new CheckError(`${what} did not change the outputs at and after it (max change ${result.later}): the check would prove nothing`);
  if (causal && !(result.earlier < 1e-5)) throw new CheckError(`${what} changed an earlier output by ${result.earlier}: the decoder sees the future`);
  if (!causal && !(result.earlier > 1e-4)) throw new CheckError(`${what} left the earlier outputs alone (max change ${result.earlier}), though no mask was applied`);
  return result;
}

/**
 * The label-smoothed cross-entropy in float64: at each position whose target is not `pad`, the target distribution
 * q_v = (1 - ε) [v = y] + ε / V against log p = log softmax(logits), -Σ_v q_v log p_v, averaged over those positions.
 */
export function labelSmoothedLossByHand(logits: Mat[], targets: number[][], epsilon: number, pad = 0): number {
  let total = 0;
  let count = 0;
  logits.forEach((rows, b) =>
    rows.forEach((l, t) => {
      const y = targets[b]![t]!;
      if (y === pad) return;
      const top = Math.max(...l);
      const lse = top + Math.log(l.reduce((s, v) => s + Math.exp(v - top), 0));
      total -= l.reduce((s, v, k) => s + ((k === y ? 1 - epsilon : 0) + epsilon / l.length) * (v - lse), 0);
      count += 1;
    }),
  );
  if (count === 0) throw new RangeError("labelSmoothedLossByHand: every target is padding");
  return total / count;
}

/** Checks a label-smoothed loss against {@link labelSmoothedLossByHand} on the same logits and targets. */
export function checkLabelSmoothedLoss(loss: number, logits: Mat[], targets: number[][], epsilon: number, name = "label-smoothed loss"): number {
  return checkClose(loss, labelSmoothedLossByHand(logits, targets, epsilon), { atol: 1e-5, rtol: 1e-5, name: `${name} (ε = ${epsilon}) vs by hand` });
}
