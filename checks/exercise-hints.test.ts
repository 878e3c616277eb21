/**
 * The exercise checks of lessons 00-02 (kernel-lib/src/models/exercises/): each passes on the reference solution,
 * fails on deliberately wrong answers with the diagnosis that names the mistake (from the value returned), and
 * its hints escalate when the same wrong answer is checked again. Lessons 04-06: exercise-hints-2.test.ts.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as kernelLib from "kernel-lib";
import { Rng, tf } from "kernel-lib";
import { checkpointsDir, diagnoses, experiment, passes, solved, verdict } from "./lib/exercise-verdicts";

before(async () => {
  await kernelLib.useBestBackend({ verbose: false });
});

type T = tf.Tensor;

test("hints escalate: the diagnosis first, one more level per failed run, none for an untouched todo(); strict mode throws", async () => {
  const unnormalised = (z: number[]) => z.map((v) => Math.exp(v - Math.max(...z)));
  const first = await verdict("stable-softmax", unnormalised);
  assert.equal(first.failures, 1);
  assert.equal(first.hints.length, 1);
  assert.match(first.hints[0]!, /sum to .*not 1/);
  const second = await verdict("stable-softmax", unnormalised, false);
  assert.equal(second.hints.length, 2);
  assert.match(second.hints[1]!, /shift-invariant/);
  const third = await verdict("stable-softmax", unnormalised, false);
  const fourth = await verdict("stable-softmax", unnormalised, false);
  assert.deepEqual([third.hints.length, fourth.hints.length], [3, 4]);
  assert.match(fourth.hints[3]!, /Math.max\(\.\.\.scores\)/, "the last level comes close to the answer");
  const fifth = await verdict("stable-softmax", unnormalised, false);
  assert.equal(fifth.hints.length, 4, "no more levels than there are");
  assert.ok((await verdict("stable-softmax", solved("00-tour", "stable-softmax"), false)).passed);
  const untouched = await verdict("stable-softmax", () => kernelLib.todo("x"));
  assert.equal(untouched.failures, 0, "an untouched placeholder does not count as a try");
  assert.match(untouched.hints[0]!, /^TODO/);
  process.env["AIGC_EXERCISES"] = "strict";
  const log = console.log;
  try {
    kernelLib.resetExercise("stable-softmax");
    await assert.rejects(kernelLib.checkExercise("stable-softmax", unnormalised), /not yet/);
  } finally {
    delete process.env["AIGC_EXERCISES"];
    console.log = log;
  }
});

test("00 stable-softmax: the solution passes; no normalisation, overflow and reversed order are named", async () => {
  await passes("stable-softmax", solved("00-tour", "stable-softmax"));
  const naive = (z: number[]) => {
    const e = z.map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  await diagnoses("stable-softmax", naive, /NaN or Infinity.*overflowed/, "exp without subtracting the max");
  await diagnoses("stable-softmax", (z: number[]) => naive(z.map((v) => -v + Math.min(...z))), /largest score got the smallest weight/, "softmax of -z");
  await diagnoses("stable-softmax", (z: number[]) => z.map((v) => Math.exp(v - Math.max(...z))), /sum to .*not 1/, "no division by the sum");
});

test("01 causal-mask: the solution passes; the future, a forbidden diagonal and an inverted mask are named", async () => {
  await passes("causal-mask", solved("01-attention", "causal-mask"));
  const grid = (f: (i: number, j: number) => number) => (T: number) => Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => f(i, j)));
  await diagnoses("causal-mask", grid((i, j) => (j >= i ? 1 : 0)), /the future/, "upper triangle");
  await diagnoses("causal-mask", grid((i, j) => (j < i ? 1 : 0)), /diagonal/, "strict lower triangle");
  await diagnoses("causal-mask", grid((i, j) => (j <= i ? 0 : 1)), /inverted/, "inverted");
});

test("01 attention-from-matmul: the solution passes; d_k for sqrt(d_k), no scale, no mask, mask after softmax, softmax over queries are named", async () => {
  await passes("attention-from-matmul", solved("01-attention", "attention-from-matmul"));
  const attend = (o: { scale?: (d: number) => number; mask?: "none" | "after"; overQueries?: boolean }) => (q: T, k: T, v: T, mask: T) => tf.tidy(() => {
    const d = q.shape[q.rank - 1]!;
    const s = tf.div(tf.matMul(q, k, false, true), (o.scale ?? Math.sqrt)(d));
    const m = o.mask ? s : tf.where(tf.cast(tf.broadcastTo(mask, s.shape), "bool"), s, tf.fill(s.shape, -1e9));
    let w = o.overQueries ? tf.transpose(tf.softmax(tf.transpose(m, [0, 2, 1])), [0, 2, 1]) : tf.softmax(m);
    if (o.mask === "after") w = tf.mul(w, mask);
    return tf.matMul(w, v);
  });
  await passes("attention-from-matmul", attend({}));
  await diagnoses("attention-from-matmul", attend({ scale: (d) => d }), /d_k = 16, not sqrt\(d_k\)/, "divided by d_k");
  await diagnoses("attention-from-matmul", attend({ scale: () => 1 }), /not scaled/, "no scale");
  await diagnoses("attention-from-matmul", attend({ mask: "none" }), /does not depend on the mask/, "mask forgotten");
  await diagnoses("attention-from-matmul", attend({ mask: "after" }), /after the softmax/, "mask after softmax");
  await diagnoses("attention-from-matmul", attend({ overQueries: true }), /over the queries/, "softmax over queries");
});

test("01 padding-mask: the solution passes; (B, T), (B, T, 1), inverted and one-too-many masks are named", async () => {
  await passes("padding-mask", solved("01-attention", "padding-mask"));
  const rows = (f: (j: number, n: number) => number) => (lengths: number[], T: number) => lengths.map((n) => Array.from({ length: T }, (_, j) => f(j, n)));
  await diagnoses("padding-mask", (l: number[], T: number) => tf.tensor2d(rows((j, n) => (j < n ? 1 : 0))(l, T)), /\(B, T\)/, "shape (B, T)");
  await diagnoses("padding-mask", (l: number[], T: number) => tf.tensor3d(rows((j, n) => (j < n ? 1 : 0))(l, T).map((r) => r.map((x) => [x]))), /masks queries/, "shape (B, T, 1)");
  await diagnoses("padding-mask", (l: number[], T: number) => tf.tensor3d(rows((j, n) => (j < n ? 0 : 1))(l, T).map((r) => [r])), /inverted/, "inverted");
  await diagnoses("padding-mask", (l: number[], T: number) => tf.tensor3d(rows((j, n) => (j <= n ? 1 : 0))(l, T).map((r) => [r])), /j < n, not j <= n/, "j <= n");
});

test("01 score-scale (experiment): the solution passes; no prediction, the query's gradient and a wrong prediction are named", async () => {
  const right = { unscaled: "smaller", overDk: "about the same" };
  await passes("score-scale", experiment("01-attention", "score-scale", right));
  await diagnoses("score-scale", experiment("01-attention", "score-scale", undefined), /Write your prediction first/, "no prediction");
  await diagnoses("score-scale", experiment("01-attention", "score-scale", { ...right, overDk: "larger" }), /your prediction is not.*dividing by d_k/, "wrong prediction");
  const queryGradient = (q: T, k: T, v: T, g: T, scale: number) => tf.tidy(() => {
    const loss = (qq: T) => tf.sum(tf.mul(tf.matMul(tf.softmax(tf.div(tf.matMul(qq, k, false, true), scale)), v), g)) as tf.Scalar;
    const norms = Array.from(tf.sqrt(tf.sum(tf.square(tf.grad(loss)(q)), [1, 2])).dataSync()).sort((a, b) => a - b);
    return norms[Math.floor(norms.length / 2)]!;
  });
  await diagnoses("score-scale", { prediction: right, measure: queryGradient }, /gradient at the query/, "dL/dq measured");
});

test("02 sinusoidal-pe: the solution passes; the odd column's own exponent, sin/cos swapped and i for 2i are named", async () => {
  await passes("sinusoidal-pe", solved("02-transformer", "sinusoidal-pe"));
  const pe = (e: (j: number) => number, sinEven = true) => (T: number, d: number) => Array.from({ length: T }, (_, p) => Array.from({ length: d }, (_, j) => {
    const a = p / Math.pow(10000, e(j) / d);
    return (j % 2 === 0) === sinEven ? Math.sin(a) : Math.cos(a);
  }));
  await diagnoses("sinusoidal-pe", pe((j) => j), /share one frequency/, "exponent j");
  await diagnoses("sinusoidal-pe", pe((j) => j - (j % 2), false), /swapped/, "sin/cos swapped");
  await diagnoses("sinusoidal-pe", pe((j) => Math.floor(j / 2)), /exponent is i \/ d/, "i for 2i");
});

test("02 layer-norm: the solution passes; d - 1, epsilon outside the root, no epsilon, no gamma/beta are named", async () => {
  await passes("layer-norm", solved("02-transformer", "layer-norm"));
  const ln = (o: { ddof?: number; outside?: boolean; eps?: number; affine?: boolean }) => (rows: number[][], gamma: number[], beta: number[]) => rows.map((x) => {
    const d = x.length;
    const m = x.reduce((s, v) => s + v, 0) / d;
    const variance = x.reduce((s, v) => s + (v - m) ** 2, 0) / (d - (o.ddof ?? 0));
    const eps = o.eps ?? 1e-5;
    const den = o.outside ? Math.sqrt(variance) + eps : Math.sqrt(variance + eps);
    return x.map((v, j) => ((v - m) / den) * (o.affine === false ? 1 : gamma[j]!) + (o.affine === false ? 0 : beta[j]!));
  });
  await diagnoses("layer-norm", ln({ ddof: 1 }), /d - 1/, "unbiased variance");
  await diagnoses("layer-norm", ln({ outside: true }), /outside the square root/, "epsilon outside");
  await diagnoses("layer-norm", ln({ eps: 0 }), /constant row .* NaN/, "no epsilon");
  await diagnoses("layer-norm", ln({ affine: false }), /gamma and beta are not applied/, "no affine");
});

test("02 top-k-sampling: the solution passes; draws outside the top k, the temperature ignored or multiplied are named", async () => {
  await passes("top-k-sampling", solved("02-transformer", "top-k-sampling"));
  const topK = (o: { scale?: (l: number, t: number) => number; all?: boolean }) => (logits: number[], k: number, t: number, r: Rng) => {
    const kept = logits.map((_, i) => i).sort((a, b) => logits[b]! - logits[a]!).slice(0, o.all ? logits.length : k);
    const e = kept.map((i) => Math.exp((o.scale ?? ((l, tt) => l / tt))(logits[i]!, t)));
    const total = e.reduce((a, b) => a + b, 0);
    const u = r.uniform();
    let acc = 0;
    for (let j = 0; j < kept.length; j++) if (u < (acc += e[j]! / total)) return kept[j]!;
    return kept[kept.length - 1]!;
  };
  await diagnoses("top-k-sampling", topK({ all: true }), /not among the 3 largest/, "no truncation");
  await diagnoses("top-k-sampling", topK({ scale: (l) => l }), /temperature is not used/, "temperature ignored");
  await diagnoses("top-k-sampling", topK({ scale: (l, t) => l * t }), /multiplied the logits by the temperature/, "temperature multiplied");
});

test("02 temperature-fit (experiment): the solution passes; bits, a multiplied temperature and a wrong prediction are named", async () => {
  const dir = checkpointsDir;
  await passes("temperature-fit", experiment("02-transformer", "temperature-fit", 1, { dir }));
  const right = solved("02-transformer", "temperature-fit") as (m: unknown, ids: Int32Array, t: number) => number;
  await diagnoses("temperature-fit", { prediction: 1, dir, measure: (m: unknown, ids: Int32Array, t: number) => right(m, ids, t) / Math.LN2 }, /bits/, "bits");
  await diagnoses("temperature-fit", { prediction: 1, dir, measure: (m: unknown, ids: Int32Array, t: number) => right(m, ids, 1 / t) }, /multiplied the logits/, "logits times t");
  await diagnoses("temperature-fit", experiment("02-transformer", "temperature-fit", 0.8, { dir }), /your prediction is not/, "wrong prediction");
});
