/**
 * Bad and edge-case inputs of kernel-lib/src/models/attention.ts (and the nn/ layers it uses), from issue 19's
 * fuzzing pass: d_k = 0 (was all-NaN), an empty batch (was tfjs-wasm's "divide by zero"), plain JS arrays
 * (was "Cannot read properties of undefined"), a NaN in a mask (was counted as allowed). Each now gives an
 * error naming the argument, or, for empty inputs, empty results of the right shape. Default backend.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { causalMask, layerNorm, linear, maskedSoftmax, MultiHeadAttention, paddingMask, Rng, scaledDotProductAttention, ShapeError, tf, useBestBackend } from "kernel-lib";

before(async () => {
  await useBestBackend({ verbose: false });
});

/** Runs `f`, disposing whatever tensors it returns, and asserts it leaves no tensor behind. */
function noLeak(what: string, f: () => unknown): void {
  const n = tf.memory().numTensors;
  try {
    const out = f() as { output?: tf.Tensor; weights?: tf.Tensor } | undefined;
    if (out?.output) tf.dispose([out.output, out.weights!]);
  } finally {
    assert.equal(tf.memory().numTensors, n, `${what}: tensors leaked`);
  }
}

test("d_k = 0 is a ShapeError naming d_k, in attention and in multi-head attention (not NaN)", () => {
  const q = tf.zeros([2, 3, 0]);
  const v = tf.ones([2, 3, 4]);
  assert.throws(() => noLeak("attention", () => scaledDotProductAttention(q, q, v)), (e: unknown) => e instanceof ShapeError && /d_k >= 1/.test(e.message) && /\[2, 3, 0\]/.test(e.message));
  assert.throws(() => new MultiHeadAttention({ dModel: 0, numHeads: 1 }, new Rng(1)), (e: unknown) => e instanceof ShapeError && /d_k = dModel \/ numHeads = 0 \/ 1 = 0/.test(e.message));
  tf.dispose([q, v]);
});

test("multi-head attention on a batch of 0 (or sequences of length 0) returns empty results of the right shape", () => {
  const mha = new MultiHeadAttention({ dModel: 8, numHeads: 2 }, new Rng(2));
  const mask = causalMask(5);
  for (const [shape, m] of [[[0, 5, 8], undefined], [[0, 5, 8], mask], [[3, 0, 8], undefined]] as [number[], tf.Tensor | undefined][]) {
    const x = tf.zeros(shape);
    noLeak(`x ${shape}`, () => {
      const { output, weights } = mha.apply(x, m);
      assert.deepEqual(output.shape, shape, "output shape");
      assert.deepEqual(weights.shape, [shape[0], 2, shape[1], shape[1]], "weights shape");
      return { output, weights };
    });
    x.dispose();
  }
  const q = tf.zeros([0, 3, 4]);
  const v = tf.zeros([0, 3, 6]);
  noLeak("attention on an empty batch", () => {
    const r = scaledDotProductAttention(q, q, v);
    assert.deepEqual([r.output.shape, r.weights.shape], [[0, 3, 6], [0, 3, 3]]);
    return r;
  });
  tf.dispose([q, v, mask]);
  mha.dispose();
});

test("plain JS arrays where tensors are expected are TypeErrors naming the argument", () => {
  const t = tf.ones([2, 2]);
  const arr = [[1, 0], [0, 1]] as unknown as tf.Tensor;
  const mha = new MultiHeadAttention({ dModel: 2, numHeads: 1 }, new Rng(3));
  const cases: [string, () => unknown][] = [
    ["q", () => scaledDotProductAttention(arr, t, t)],
    ["k", () => scaledDotProductAttention(t, arr, t)],
    ["v", () => scaledDotProductAttention(t, t, arr)],
    ["mask", () => scaledDotProductAttention(t, t, t, arr)],
    ["scores", () => maskedSoftmax(arr)],
    ["mask", () => maskedSoftmax(t, arr)],
    ["x", () => mha.apply(arr)],
    ["x", () => linear(arr, t)],
    ["w", () => linear(t, arr)],
    ["gamma", () => layerNorm(t, arr, t)],
  ];
  for (const [name, f] of cases) {
    assert.throws(() => noLeak(name, f), (e: unknown) => e instanceof TypeError && new RegExp(`: ${name} must be a tf.Tensor, got a plain array`).test(e.message), name);
  }
  tf.dispose(t);
  mha.dispose();
});

test("a NaN in a mask is an error naming the mask (not counted as allowed); clean, bool and built masks still work", () => {
  const s = tf.ones([2, 3]);
  const bad = tf.tensor2d([[1, NaN, 0], [1, 1, 1]]);
  const q = tf.ones([2, 3, 2]);
  const mha = new MultiHeadAttention({ dModel: 4, numHeads: 2 }, new Rng(4));
  const x = tf.ones([2, 3, 4]);
  const badCausal = tf.tensor2d([[1, 0, 0], [1, 1, 0], [1, NaN, 1]]);
  const nanMask = (e: unknown) => e instanceof RangeError && /mask holds NaN/.test(e.message);
  assert.throws(() => noLeak("maskedSoftmax", () => maskedSoftmax(s, bad)), nanMask);
  assert.throws(() => noLeak("attention", () => scaledDotProductAttention(q, q, q, badCausal)), nanMask);
  assert.throws(() => noLeak("multi-head", () => mha.apply(x, badCausal)), nanMask);
  const clean = tf.tensor2d([[1, 1, 0], [1, 0, 1]]);
  const cleanBool = tf.cast(clean, "bool");
  const w = maskedSoftmax(s, clean);
  const wb = maskedSoftmax(s, cleanBool);
  assert.deepEqual(Array.from(w.dataSync()).map((a) => Math.round(a * 2) / 2), [0.5, 0.5, 0, 0.5, 0, 0.5]);
  assert.deepEqual(Array.from(wb.dataSync()), Array.from(w.dataSync()));
  const pm = paddingMask([2, 3], 3);
  const pm4 = pm.expandDims(1);
  const causal = causalMask(3);
  noLeak("padding mask", () => mha.apply(x, pm4));
  noLeak("causal mask", () => mha.apply(x, causal));
  tf.dispose([s, bad, q, x, badCausal, clean, cleanBool, w, wb, pm, pm4, causal]);
  mha.dispose();
});
