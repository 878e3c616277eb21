/**
 * Attention: scaled dot-product attention softmax(Q K^T / sqrt(d_k)) V with optional masks, and
 * multi-head attention with its Q, K, V and output projections (Vaswani et al. 2017, §3.2.1-3.2.2).
 * Taught in notebooks/01-attention.ipynb.
 *
 * Masks follow one convention everywhere: a mask holds 1 (or true) where a query may look at a key and
 * 0 (or false) where it may not, with a shape that broadcasts to the scores' (..., T_q, T_k). A NaN in a
 * mask is an error (it is neither 0 nor a clear 1). Plain arrays where a tensor is expected, d_k = 0 and
 * masks that do not broadcast raise an error naming the argument; empty batches give empty results.
 */
import * as tf from "@tensorflow/tfjs";
import { requireTensor, ShapeError, shapeText } from "../nn/errors";
import { linear } from "../nn/linear";
import { Rng, rng as globalRng } from "../runtime/random";

/** A finite stand-in for -infinity: exp of it underflows to exactly 0 in float32, and it never makes NaN. */
const MASKED = -1e30;

/** Masks already checked for NaN (tensors are immutable; variables are never cached), so each is read once. */
const checkedMasks = new WeakSet<tf.Tensor>();

/** Checks that `mask` is a tensor that broadcasts to `scoresShape` and holds no NaN (one read per mask). */
function checkMask(mask: tf.Tensor, scoresShape: readonly number[], where: string): void {
  requireTensor(mask, "mask", where);
  let broadcastOk = mask.rank <= scoresShape.length;
  for (let i = 1; broadcastOk && i <= mask.rank; i++) {
    const m = mask.shape[mask.rank - i]!;
    broadcastOk = m === 1 || m === scoresShape[scoresShape.length - i];
  }
  if (!broadcastOk) throw new ShapeError(`mask has shape ${shapeText(mask.shape)}, which does not broadcast to the scores' shape ${shapeText(scoresShape)}`);
  if (mask.dtype !== "float32" || checkedMasks.has(mask)) return;
  const nan = tf.tidy(() => tf.any(tf.isNaN(mask)));
  const hasNaN = nan.dataSync()[0] !== 0;
  nan.dispose();
  if (hasNaN) throw new RangeError(`${where}: mask holds NaN; a mask entry must be 1 (may look) or 0 (may not)`);
  if (!(mask instanceof tf.Variable)) checkedMasks.add(mask);
}

/**
 * The softmax over the last axis restricted to the entries where `mask` is nonzero. Masked entries get
 * weight exactly 0; a row with no allowed entry gets all zeros (never NaN, which is what softmax over a
 * row of -Infinity gives). tf.softmax subtracts the row maximum first, so huge logits do not overflow.
 *
 * The gradient is written out (dS = w * (dy - sum(dy * w))): it is the softmax's own, zero on masked
 * entries because their weight is 0, and it spares the backward pass the broadcasts and comparisons that
 * differentiating through the masking would cost.
 */
export function maskedSoftmax(scores: tf.Tensor, mask?: tf.Tensor): tf.Tensor {
  requireTensor(scores, "scores", "maskedSoftmax");
  if (mask === undefined) return tf.softmax(scores);
  checkMask(mask, scores.shape, "maskedSoftmax");
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const s = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const weights = tf.tidy(() => {
      const keep = tf.cast(tf.notEqual(mask, 0), "float32");
      // 1) Push the masked scores to MASKED (kept scores get + 0, so they stay exact).
      const biased = tf.add(s, tf.mul(tf.sub(1, keep), MASKED));
      // 2) Softmax; a fully masked row comes out uniform here...
      const w = tf.softmax(biased);
      // 3) ...and is zeroed by the row's "any key allowed" flag.
      return tf.mul(w, tf.max(keep, -1, true));
    });
    save([weights]);
    return {
      value: weights,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const w = saved[0]!;
        return tf.mul(w, tf.sub(dy, tf.sum(tf.mul(dy, w), -1, true)));
      },
    };
  });
  return op(scores);
}

export interface AttentionResult {
  /** The attended values, (..., T_q, d_v). */
  output: tf.Tensor;
  /** The attention weights, (..., T_q, T_k); each row sums to 1 (0 for a fully masked row). */
  weights: tf.Tensor;
}

/**
 * Scaled dot-product attention: `weights = softmax(q k^T / sqrt(d_k))` (masked), `output = weights v`.
 * `q` is (..., T_q, d_k), `k` is (..., T_k, d_k), `v` is (..., T_k, d_v) with equal leading (batch) axes;
 * `mask` broadcasts to (..., T_q, T_k). Throws a {@link ShapeError} naming the shapes when they do not fit.
 */
export function scaledDotProductAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask?: tf.Tensor): AttentionResult {
  requireTensor(q, "q", "scaledDotProductAttention");
  requireTensor(k, "k", "scaledDotProductAttention");
  requireTensor(v, "v", "scaledDotProductAttention");
  const r = q.rank;
  if (r < 2 || k.rank !== r || v.rank !== r) {
    throw new ShapeError(`attention needs q, k, v of equal rank >= 2; got q ${shapeText(q.shape)}, k ${shapeText(k.shape)}, v ${shapeText(v.shape)}`);
  }
  const dK = q.shape[r - 1]!;
  if (k.shape[r - 1] !== dK) throw new ShapeError(`q's last axis (d_k) must equal k's: q has shape ${shapeText(q.shape)}, k has shape ${shapeText(k.shape)}`);
  if (k.shape[r - 2] !== v.shape[r - 2]) throw new ShapeError(`k and v must have the same number of keys (axis -2): k has shape ${shapeText(k.shape)}, v has shape ${shapeText(v.shape)}`);
  for (let i = 0; i < r - 2; i++) {
    if (q.shape[i] !== k.shape[i] || q.shape[i] !== v.shape[i]) {
      throw new ShapeError(`q, k and v must share their leading (batch) axes: q ${shapeText(q.shape)}, k ${shapeText(k.shape)}, v ${shapeText(v.shape)}`);
    }
  }
  if (dK === 0) throw new ShapeError(`attention needs d_k >= 1 (q's and k's last axis): q has shape ${shapeText(q.shape)}; with d_k = 0 the scores are 0 / sqrt(0) = NaN`);
  const lead = q.shape.slice(0, r - 2);
  const [tQ, tK, dV] = [q.shape[r - 2]!, k.shape[r - 2]!, v.shape[r - 1]!];
  if (mask !== undefined) checkMask(mask, [...lead, tQ, tK], "scaledDotProductAttention");
  if (q.size === 0 || k.size === 0 || v.size === 0) {
    // An empty batch, no queries or no keys: every row attends to nothing, so weights and output are zeros.
    return { output: tf.zeros([...lead, tQ, dV]), weights: tf.zeros([...lead, tQ, tK]) };
  }
  return tf.tidy(() => {
    // 1) Scores: every query against every key, scaled so their variance does not grow with d_k.
    const scores = tf.div(tf.matMul(q, k, false, true), Math.sqrt(dK)); // (..., T_q, T_k)
    // 2) Weights: a (masked) softmax over the keys.
    const weights = maskedSoftmax(scores, mask); // (..., T_q, T_k)
    // 3) Output: the weighted average of the values.
    const output = tf.matMul(weights, v); // (..., T_q, d_v)
    return { output, weights };
  });
}

/**
 * The causal mask (T, T): query i may look at keys 0..i only, so a language model cannot read the
 * character it has to predict. Lower-triangular ones (float32).
 */
export function causalMask(T: number): tf.Tensor2D {
  if (!Number.isInteger(T) || T < 1) throw new RangeError(`causalMask: T must be a positive integer, got ${T}`);
  const m = tf.tidy(() => tf.linalg.bandPart(tf.ones([T, T]), -1, 0) as tf.Tensor2D);
  checkedMasks.add(m);
  return m;
}

/**
 * A padding mask (B, 1, T) from each sequence's true length: key j of sequence b is allowed when
 * j < lengths[b]. It broadcasts over the queries; add a head axis (`expandDims(1)`) for multi-head scores.
 */
export function paddingMask(lengths: number[], T: number): tf.Tensor3D {
  for (const n of lengths) {
    if (!Number.isInteger(n) || n < 0 || n > T) throw new RangeError(`paddingMask: each length must be an integer in [0, ${T}], got ${n}`);
  }
  const data = new Float32Array(lengths.length * T);
  lengths.forEach((n, b) => data.fill(1, b * T, b * T + n));
  const m = tf.tensor3d(data, [lengths.length, 1, T]);
  checkedMasks.add(m);
  return m;
}

export interface MultiHeadAttentionConfig {
  /** Width of the model's vectors, d_model. */
  dModel: number;
  /** Number of heads h; must divide dModel (each head has d_k = dModel / h). */
  numHeads: number;
  /** Biases on the four projections. Default true (as nanoGPT). */
  bias?: boolean;
}

/** The weights of one multi-head attention layer (names as stored in checkpoints). */
export interface MultiHeadAttentionWeights {
  wq: tf.Variable;
  wk: tf.Variable;
  wv: tf.Variable;
  wo: tf.Variable;
  bq?: tf.Variable;
  bk?: tf.Variable;
  bv?: tf.Variable;
  bo?: tf.Variable;
}

/**
 * Multi-head attention (Vaswani et al. 2017, §3.2.2): project the input to h sets of queries, keys and
 * values of width d_k = dModel / h, attend in each head, concatenate the heads and project back.
 * Self-attention only (queries, keys and values all come from the same x), which is what the
 * decoder-only models here need. Owns its variables: call {@link dispose} when done.
 */
export class MultiHeadAttention {
  readonly dModel: number;
  readonly numHeads: number;
  readonly dK: number;
  readonly weights: MultiHeadAttentionWeights;

  /** @param r the generator that seeds the initialisers (default: the lesson-wide one). */
  constructor(config: MultiHeadAttentionConfig, r: Rng = globalRng()) {
    const { dModel, numHeads, bias = true } = config;
    if (!Number.isInteger(dModel) || !Number.isInteger(numHeads) || numHeads < 1 || dModel % numHeads !== 0) {
      throw new RangeError(`MultiHeadAttention: numHeads (${numHeads}) must be a positive integer dividing dModel (${dModel})`);
    }
    if (dModel < numHeads) throw new ShapeError(`MultiHeadAttention: d_k = dModel / numHeads = ${dModel} / ${numHeads} = ${dModel / numHeads}; each head needs d_k >= 1`);
    this.dModel = dModel;
    this.numHeads = numHeads;
    this.dK = dModel / numHeads;
    // Weights ~ N(0, 0.02^2) as GPT-2; biases start at 0. tidy disposes the initial values (a variable
    // holds its own reference to the data), so building a model leaves only its variables behind.
    const w = () => tf.tidy(() => tf.variable(tf.randomNormal([dModel, dModel], 0, 0.02, "float32", r.seed())));
    const b = () => tf.tidy(() => tf.variable(tf.zeros([dModel])));
    this.weights = { wq: w(), wk: w(), wv: w(), wo: w() };
    if (bias) Object.assign(this.weights, { bq: b(), bk: b(), bv: b(), bo: b() });
  }

  /** Splits (B, T, dModel) into heads: (B, h, T, d_k). */
  private split(x: tf.Tensor, B: number, T: number): tf.Tensor {
    return x.reshape([B, T, this.numHeads, this.dK]).transpose([0, 2, 1, 3]);
  }

  /**
   * x (B, T, dModel) → output (B, T, dModel) and the weights of every head (B, h, T, T). `mask`
   * broadcasts to (B, h, T, T): a causal mask (T, T) or a padding mask (B, 1, 1, T).
   */
  apply(x: tf.Tensor, mask?: tf.Tensor): AttentionResult {
    requireTensor(x, "x", "MultiHeadAttention.apply");
    if (x.rank !== 3 || x.shape[2] !== this.dModel) {
      throw new ShapeError(`MultiHeadAttention expects x of shape [B, T, ${this.dModel}], got ${shapeText(x.shape)}`);
    }
    const [B, T] = x.shape as [number, number, number];
    if (mask !== undefined) checkMask(mask, [B, this.numHeads, T, T], "MultiHeadAttention.apply");
    // An empty batch (or empty sequences): empty results of the right shapes (tfjs-wasm cannot transpose them).
    if (B === 0 || T === 0) return { output: tf.zeros([B, T, this.dModel]), weights: tf.zeros([B, this.numHeads, T, T]) };
    const W = this.weights;
    return tf.tidy(() => {
      // 1) Project and split into heads.
      const q = this.split(linear(x, W.wq, W.bq), B, T); // (B, h, T, dK)
      const k = this.split(linear(x, W.wk, W.bk), B, T); // (B, h, T, dK)
      const v = this.split(linear(x, W.wv, W.bv), B, T); // (B, h, T, dK)
      // 2) Attend in every head at once.
      const { output, weights } = scaledDotProductAttention(q, k, v, mask);
      // 3) Concatenate the heads and project back.
      const concat = output.transpose([0, 2, 1, 3]).reshape([B, T, this.dModel]); // (B, T, dModel)
      return { output: linear(concat, W.wo, W.bo), weights };
    });
  }

  /** The variables by name (for optimisers and checkpoints). */
  variables(): Record<string, tf.Variable> {
    return Object.fromEntries(Object.entries(this.weights).filter(([, v]) => v !== undefined)) as Record<string, tf.Variable>;
  }

  dispose(): void {
    tf.dispose(Object.values(this.variables()));
  }
}
