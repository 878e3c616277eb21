/**
 * kernel-lib/src/models/attention.ts: scaled dot-product attention against hand-computed values, the masks and
 * their edge cases (fully masked row, huge logits, length-1 sequences), shape errors, multi-head
 * attention against a naive loop over heads, and tf.grad against central finite differences.
 * Runs on the default backend (wasm here); one test compares with the cpu backend.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { causalMask, checkNoLeak, maskedSoftmax, MultiHeadAttention, paddingMask, Rng, scaledDotProductAttention, ShapeError, tf, useBestBackend } from "kernel-lib";
import { assertClose, values } from "./lib/tensors";

before(async () => {
  await useBestBackend({ verbose: false });
});

test("3-token attention equals the softmax computed by hand", () => {
  // d_k = 4, so the scale is sqrt(4) = 2. With these q and k the scaled scores are
  //   row 0: [1, 0, 0], row 1: [0, 1, 0], row 2: [1, 1, 0].
  const q = tf.tensor2d([[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 0]]);
  const k = tf.tensor2d([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]]);
  const v = tf.tensor2d([[1, 0], [0, 1], [1, 1]]);
  const { output, weights } = scaledDotProductAttention(q, k, v);
  const e = Math.E;
  const a = e + 2; // row 0 and row 1: one score 1, two scores 0
  const b = 2 * e + 1; // row 2: two scores 1, one score 0
  const expectedWeights = [e / a, 1 / a, 1 / a, 1 / a, e / a, 1 / a, e / b, e / b, 1 / b];
  assertClose(values(weights), expectedWeights, 1e-6, "weights");
  // output = weights @ v: row i = (w_i0 + w_i2, w_i1 + w_i2).
  const expectedOutput = [(e + 1) / a, 2 / a, 2 / a, (e + 1) / a, (e + 1) / b, (e + 1) / b];
  assertClose(values(output), expectedOutput, 1e-6, "output");
  tf.dispose([q, k, v, output, weights]);
});

test("causal mask: lower-triangular ones; query i sees keys 0..i only", () => {
  const m = causalMask(3);
  assert.deepEqual(values(m), [1, 0, 0, 1, 1, 0, 1, 1, 1]);
  const q = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
  const k = tf.tensor2d([[1, 0], [0, 1], [1, 1]]);
  const v = tf.tensor2d([[10], [20], [30]]);
  const { output, weights } = scaledDotProductAttention(q, k, v, m);
  const w = values(weights);
  assertClose(w.slice(0, 3), [1, 0, 0], 0, "row 0 weights");
  assert.equal(w[5], 0, "row 1 cannot see key 2");
  assertClose([w[3]! + w[4]!], [1], 1e-6, "row 1 sums to 1");
  assertClose([values(output)[0]!], [10], 1e-6, "row 0 output is v_0");
  tf.dispose([m, q, k, v, output, weights]);
});

test("a fully masked row gives zero weights and zero output, never NaN, with finite gradients", () => {
  const s = tf.tensor2d([[0.3, -1, 2], [1, 2, 3]]);
  const mask = tf.tensor2d([[0, 0, 0], [1, 0, 1]]);
  const w = maskedSoftmax(s, mask);
  assert.deepEqual(values(w).slice(0, 3), [0, 0, 0]);
  assertClose(values(w).slice(3), [1 / (1 + Math.exp(2)), 0, Math.exp(2) / (1 + Math.exp(2))], 1e-6, "row 1");
  const q = tf.ones([2, 3, 4]);
  const k = tf.ones([2, 3, 4]);
  const v = tf.ones([2, 3, 5]);
  const pm = paddingMask([0, 2], 3); // sequence 0 has no real tokens at all
  const { output } = scaledDotProductAttention(q, k, v, pm);
  const out = values(output);
  assert.ok(out.every(Number.isFinite), "no NaN in the output");
  assert.deepEqual(out.slice(0, 15), new Array(15).fill(0), "sequence 0 attends to nothing");
  const g = tf.grad((x: tf.Tensor) => tf.sum(scaledDotProductAttention(x, k, v, pm).output))(q);
  assert.ok(values(g).every(Number.isFinite), "no NaN in the gradient");
  tf.dispose([s, mask, w, q, k, v, pm, output, g]);
});

test("huge logits do not overflow: the weights become one-hot", () => {
  const q = tf.tensor2d([[1e4, 0], [0, 1e4]]);
  const k = tf.tensor2d([[1e4, 0], [0, 1e4], [-1e4, 0]]);
  const v = tf.tensor2d([[1], [2], [3]]);
  for (const mask of [undefined, causalMask(3).slice([0, 0], [2, 3])]) {
    const { output, weights } = scaledDotProductAttention(q, k, v, mask);
    assertClose(values(weights), [1, 0, 0, 0, 1, 0], 0, `weights (mask ${mask ? "causal" : "none"})`);
    assertClose(values(output), [1, 2], 0, "output");
    tf.dispose([output, weights, ...(mask ? [mask] : [])]);
  }
  tf.dispose([q, k, v]);
});

test("length-1 sequences: the single weight is 1 and the output is v", () => {
  const q = tf.tensor3d([[[0.5, -2]]]);
  const k = tf.tensor3d([[[3, 1]]]);
  const v = tf.tensor3d([[[7, 8, 9]]]);
  const m = causalMask(1);
  const { output, weights } = scaledDotProductAttention(q, k, v, m);
  assert.deepEqual(weights.shape, [1, 1, 1]);
  assert.deepEqual(values(weights), [1]);
  assert.deepEqual(values(output), [7, 8, 9]);
  const mha = new MultiHeadAttention({ dModel: 4, numHeads: 2 }, new Rng(1));
  const x = tf.randomNormal([2, 1, 4], 0, 1, "float32", 3);
  const r = mha.apply(x, causalMask(1));
  assert.deepEqual(r.output.shape, [2, 1, 4]);
  assert.deepEqual(values(r.weights), [1, 1, 1, 1]);
  tf.dispose([q, k, v, m, output, weights, x, r.output, r.weights]);
  mha.dispose();
});

test("shape mismatches throw a ShapeError naming both shapes", () => {
  const q = tf.zeros([2, 3, 4]);
  const k5 = tf.zeros([2, 3, 5]);
  const v = tf.zeros([2, 3, 6]);
  assert.throws(() => scaledDotProductAttention(q, k5, v), (e: Error) => e instanceof ShapeError && e.message.includes("[2, 3, 4]") && e.message.includes("[2, 3, 5]"));
  const k = tf.zeros([2, 3, 4]);
  const v2 = tf.zeros([2, 2, 6]);
  assert.throws(() => scaledDotProductAttention(q, k, v2), (e: Error) => e instanceof ShapeError && e.message.includes("[2, 3, 4]") && e.message.includes("[2, 2, 6]"));
  const kb = tf.zeros([1, 3, 4]);
  assert.throws(() => scaledDotProductAttention(q, kb, v), (e: Error) => e instanceof ShapeError && e.message.includes("[2, 3, 4]") && e.message.includes("[1, 3, 4]"));
  const badMask = tf.ones([4, 4]);
  assert.throws(() => scaledDotProductAttention(q, k, v, badMask), (e: Error) => e instanceof ShapeError && e.message.includes("[4, 4]") && e.message.includes("[2, 3, 3]"));
  const mha = new MultiHeadAttention({ dModel: 8, numHeads: 2 }, new Rng(0));
  assert.throws(() => mha.apply(q), (e: Error) => e instanceof ShapeError && e.message.includes("[2, 3, 4]") && e.message.includes("8"));
  assert.throws(() => new MultiHeadAttention({ dModel: 10, numHeads: 3 }), /numHeads \(3\) must be a positive integer dividing dModel \(10\)/);
  mha.dispose();
  tf.dispose([q, k5, v, k, v2, kb, badMask]);
});

test("multi-head attention equals a naive loop over heads followed by concatenation", () => {
  const dModel = 12;
  const h = 3;
  const dK = dModel / h;
  const mha = new MultiHeadAttention({ dModel, numHeads: h }, new Rng(7));
  // Non-zero biases, so a bias applied to the wrong head would show.
  for (const b of ["bq", "bk", "bv", "bo"] as const) mha.weights[b]!.assign(tf.randomNormal([dModel], 0, 0.5, "float32", b.charCodeAt(1)));
  const x = tf.randomNormal([2, 5, dModel], 0, 1, "float32", 11);
  const mask = causalMask(5);
  const fast = mha.apply(x, mask);
  const W = mha.weights;
  const naive = tf.tidy(() => {
    const outputs: tf.Tensor[] = [];
    for (let b = 0; b < 2; b++) {
      const xb = x.slice([b, 0, 0], [1, 5, dModel]).reshape([5, dModel]);
      const heads: tf.Tensor[] = [];
      for (let i = 0; i < h; i++) {
        const cols = (w: tf.Tensor) => w.slice([0, i * dK], [dModel, dK]);
        const bias = (v: tf.Tensor) => v.slice([i * dK], [dK]);
        const q = tf.add(tf.matMul(xb, cols(W.wq)), bias(W.bq!));
        const k = tf.add(tf.matMul(xb, cols(W.wk)), bias(W.bk!));
        const v = tf.add(tf.matMul(xb, cols(W.wv)), bias(W.bv!));
        heads.push(scaledDotProductAttention(q, k, v, mask).output);
      }
      outputs.push(tf.add(tf.matMul(tf.concat(heads, 1), W.wo), W.bo!));
    }
    return tf.stack(outputs);
  });
  assertClose(values(fast.output), values(naive), 1e-5, "multi-head output");
  tf.dispose([x, mask, fast.output, fast.weights, naive]);
  mha.dispose();
});

test("tf.grad of attention agrees with central finite differences", () => {
  // float32 finite differences: eps 1e-2 keeps rounding error near 1e-5 while truncation error stays ~1e-4.
  const r = new Rng(5);
  const rand = (shape: number[]) => tf.randomNormal(shape, 0, 1, "float32", r.seed());
  const q = rand([3, 4]);
  const k = rand([3, 4]);
  const v = rand([3, 2]);
  const w = rand([3, 2]);
  const mask = causalMask(3);
  const f = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => tf.sum(tf.mul(scaledDotProductAttention(qq, kk, vv, mask).output, w)) as tf.Scalar;
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => f(a, b, c))([q, k, v]);
  const eps = 1e-2;
  const inputs = [q, k, v];
  inputs.forEach((input, which) => {
    const base = Array.from(input.dataSync());
    const numeric = base.map((_, i) => {
      const at = (delta: number) =>
        tf.tidy(() => {
          const moved = base.slice();
          moved[i]! += delta;
          const args = inputs.map((t, j) => (j === which ? tf.tensor(moved, t.shape) : t)) as [tf.Tensor, tf.Tensor, tf.Tensor];
          return f(...args).dataSync()[0]!;
        });
      return (at(eps) - at(-eps)) / (2 * eps);
    });
    assertClose(values(grads[which]!), numeric, 2e-3, `d/d${"qkv"[which]}`);
  });
  tf.dispose([q, k, v, w, mask, ...grads]);
});

test("the wasm result equals the cpu backend's on a masked multi-head case", async () => {
  const run = () =>
    tf.tidy(() => {
      const mha = new MultiHeadAttention({ dModel: 8, numHeads: 2 }, new Rng(3));
      const x = tf.randomNormal([2, 4, 8], 0, 1, "float32", 9);
      const out = mha.apply(x, paddingMask([4, 2], 4).expandDims(1)).output;
      const result = Array.from(out.dataSync());
      mha.dispose();
      return result;
    });
  const here = run();
  const name = tf.getBackend();
  await tf.setBackend("cpu");
  const cpu = run();
  await useBestBackend({ verbose: false });
  assert.equal(tf.getBackend(), name);
  assertClose(here, cpu, 1e-4, `${name} vs cpu`);
});

test("attention and multi-head attention leak no tensors", async () => {
  const mha = new MultiHeadAttention({ dModel: 8, numHeads: 2 }, new Rng(1));
  const x = tf.randomNormal([2, 4, 8], 0, 1, "float32", 2);
  const mask = causalMask(4);
  await checkNoLeak(() => {
    const r = mha.apply(x, mask);
    tf.dispose([r.output, r.weights]);
    const g = tf.grad((y: tf.Tensor) => tf.sum(mha.apply(y, mask).output))(x);
    g.dispose();
  }, "multi-head attention forward + backward");
  tf.dispose([x, mask]);
  mha.dispose();
});
