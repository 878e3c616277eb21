/**
 * The lessons' formula checks (kernel-lib notebook/lesson-checks/ and models/{transformer,diffusion}/checks.ts):
 * each passes on the library's implementation and fails on a deliberately wrong one, so none of them can
 * pass whatever it is given. Runs on the cpu backend.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import {
  CheckError,
  checkAttentionFormula,
  checkCausalOutputs,
  checkCrossAttention,
  checkLabelSmoothedLoss,
  crossAttentionByLoops,
  EncoderDecoder,
  labelSmoothedLossByHand,
  MultiHeadCrossAttention,
  checkCosineSchedule,
  checkDeterministicSampler,
  checkDiscriminatorLoss,
  checkElbo,
  checkEpsilonLoss,
  checkGaussianKl,
  checkLinearSchedule100,
  checkOneHotAttention,
  checkOrderSensitivity,
  cosineSchedule,
  ddimSample,
  ddpmSample,
  DiffusionMlp,
  DIFFUSION_POINTS_CONFIG,
  discriminatorLoss,
  epsilonLoss,
  gaussianKl,
  linearSchedule,
  MultiHeadAttention,
  NoisePredictor,
  NoiseSchedule,
  qSample,
  Rng,
  scaledDotProductAttention,
  sinusoidalPositionalEncoding,
  stackAttentionWeights,
  tf,
} from "kernel-lib";

before(async () => {
  await tf.setBackend("cpu");
  await tf.ready();
});

const fails = (fn: () => unknown) => assert.throws(fn, CheckError);

test("checkAttentionFormula passes on softmax(QK^T / sqrt(d_k)) V and fails without the scale or with d_k", () => {
  checkAttentionFormula((q, k, v) => scaledDotProductAttention(q, k, v).output);
  const scaledBy = (c: (dK: number) => number) => (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
    tf.matMul(tf.softmax(tf.div(tf.matMul(q, k, false, true), c(q.shape[q.rank - 1]!))), v);
  checkAttentionFormula(scaledBy(Math.sqrt));
  fails(() => checkAttentionFormula(scaledBy(() => 1)));
  fails(() => checkAttentionFormula(scaledBy((d) => d))); // a common tutorial's scale
  // The softmax over the queries instead of the keys.
  const overQueries = (s: tf.Tensor) => tf.transpose(tf.softmax(tf.transpose(s, [0, 2, 1])), [0, 2, 1]);
  fails(() => checkAttentionFormula((q, k, v) => tf.matMul(overQueries(tf.div(tf.matMul(q, k, false, true), Math.sqrt(8))), v)));
});

test("checkOneHotAttention passes on the library's weights and fails on weights without 1/sqrt(d_k)", () => {
  const sentence = ["the", "cat", "sat", "on", "the", "mat", "the", "end"];
  const vocab = [...new Set(sentence)];
  const weightsWith = (attend: (x: tf.Tensor) => tf.Tensor) => tf.tidy(() => {
    const x = tf.oneHot(tf.tensor1d(sentence.map((w) => vocab.indexOf(w)), "int32"), vocab.length).mul(3);
    return attend(x).arraySync() as number[][];
  });
  checkOneHotAttention(sentence, weightsWith((x) => scaledDotProductAttention(x, x, x).weights), 3);
  fails(() => checkOneHotAttention(sentence, weightsWith((x) => tf.softmax(tf.matMul(x, x, false, true))), 3));
});

test("checkOrderSensitivity: with the encoding after layer 1's attention, layer 1 is blind and layer 2 sees order; wrong placements fail", () => {
  const [T, d] = [6, 16];
  const r = new Rng(5);
  const layers = [0, 1].map(() => new MultiHeadAttention({ dModel: d, numHeads: 2 }, r.fork()));
  for (const layer of layers) for (const w of ["wq", "wk", "wv", "wo"] as const) layer.weights[w].assign(tf.randomNormal([d, d], 0, 0.5, "float32", r.seed()));
  const x = tf.randomNormal([1, T, d], 0, 1, "float32", r.seed());
  const pe = sinusoidalPositionalEncoding(T, d);
  const perm = [2, 0, 5, 1, 4, 3];
  const expect = [false, true];
  const [l1, l2] = checkOrderSensitivity((h) => stackAttentionWeights(layers, h, pe, "afterFirstAttention"), x, perm, expect, "after layer 1");
  assert.ok(l1! < 1e-5 && l2! > 1e-2);
  // Wrong: the encoding on the inputs (layer 1 is no longer blind); an all-zero encoding (layer 2 stays blind).
  fails(() => checkOrderSensitivity((h) => stackAttentionWeights(layers, h, pe, "input"), x, perm, expect, "input"));
  fails(() => checkOrderSensitivity((h) => stackAttentionWeights(layers, h, tf.zerosLike(pe), "afterFirstAttention"), x, perm, expect, "zeros"));
  tf.dispose([x, pe]);
  layers.forEach((l) => l.dispose());
});

// The toy model of lesson 04: three Bernoulli pixels with logits a z + b, the image (1, 0, 1).
const softplus = (l: number) => Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l)));
const logN = (z: number, m: number, s: number) => -0.5 * ((z - m) / s) ** 2 - Math.log(s) - 0.5 * Math.log(2 * Math.PI);
const logJoint = (z: number) => [[2, -0.5, 1], [-1.5, 0.3, 0], [0.8, 1, 1]].reduce((s, [a, b, x]) => s - (softplus(a! * z + b!) - x! * (a! * z + b!)), 0) + logN(z, 0, 1);
function quadrature(dz: number, withLogS = true) {
  const grid = Array.from({ length: Math.round(24 / dz) + 1 }, (_, i) => -12 + i * dz);
  const lj = grid.map(logJoint);
  const logPx = Math.log(lj.reduce((s, v) => s + Math.exp(v) * dz, 0));
  const elbo = (m: number, s: number) => grid.reduce((acc, z, i) => {
    const lq = logN(z, m, s) + (withLogS ? 0 : Math.log(s)); // the wrong version forgets -log s
    return acc + Math.exp(logN(z, m, s)) * dz * (lj[i]! - lq);
  }, 0);
  return { logPx, elbo };
}

test("checkElbo passes on the quadrature and fails on a log p(x) without dz or an ELBO without -log s", () => {
  const at: [number, number][] = [[0.3, 0.6], [1, 0.3]];
  const right = quadrature(1e-3);
  const result = checkElbo({ logJoint, logPx: right.logPx, elbo: right.elbo, at, samples: 50_000 });
  assert.ok(result.logPx.stderr < 0.01);
  fails(() => checkElbo({ logJoint, logPx: right.logPx - Math.log(1e-3), elbo: right.elbo, at, samples: 50_000 }));
  fails(() => checkElbo({ logJoint, logPx: right.logPx, elbo: quadrature(1e-3, false).elbo, at, samples: 50_000 }));
});

test("checkGaussianKl passes on gaussianKl and fails without the -1 or with sigma for sigma^2", () => {
  checkGaussianKl(gaussianKl);
  fails(() => checkGaussianKl((m, lv) => tf.sum(tf.exp(lv).add(m.square()).sub(lv), 1).mul(0.5)));
  fails(() => checkGaussianKl((m, lv) => tf.sum(tf.exp(lv.mul(0.5)).add(m.square()).sub(1).sub(lv), 1).mul(0.5)));
});

test("checkDiscriminatorLoss passes on discriminatorLoss and fails on log(sigmoid) in float32 and on a swapped sign", () => {
  checkDiscriminatorLoss(discriminatorLoss);
  fails(() => checkDiscriminatorLoss((r, f) => tf.neg(tf.add(tf.mean(tf.log(tf.sigmoid(r))), tf.mean(tf.log(tf.sub(1, tf.sigmoid(f)))))) as tf.Scalar));
  fails(() => checkDiscriminatorLoss((r, f) => tf.add(tf.mean(tf.softplus(r)), tf.mean(tf.softplus(tf.neg(f)))) as tf.Scalar));
});

test("checkCosineSchedule passes on cosineSchedule and fails on a wrong offset s; checkLinearSchedule100 fails on unscaled ends", () => {
  for (const T of [10, 100, 1000]) checkCosineSchedule(cosineSchedule(T));
  fails(() => checkCosineSchedule(cosineSchedule(100, { s: 0.08 })));
  checkLinearSchedule100(linearSchedule(100));
  fails(() => checkLinearSchedule100(linearSchedule(100, { rescale: false })));
});

test("checkEpsilonLoss passes on epsilonLoss and fails when x_t is not the closed form", () => {
  const s = linearSchedule(100);
  checkEpsilonLoss((m, sch, x0, t, eps) => epsilonLoss(m as DiffusionMlp, sch, x0, t, eps), s);
  const wrong = (model: NoisePredictor, sch: NoiseSchedule, x0: tf.Tensor2D, t: ArrayLike<number>, eps: tf.Tensor2D) => tf.tidy(() => {
    const ab = tf.tensor2d(Array.from(t, (u) => [sch.alphaBars[u]!]));
    const xt = tf.add(tf.mul(ab, x0), tf.mul(tf.sub(1, ab), eps)); // alphaBar instead of its square root
    return tf.mean(tf.square(tf.sub(eps, model.predictNoise(xt, t)))) as tf.Scalar;
  });
  fails(() => checkEpsilonLoss(wrong, s));
  // qSample itself builds the closed form, so a loss through it passes.
  checkEpsilonLoss((m, sch, x0, t, eps) => tf.tidy(() => tf.mean(tf.square(tf.sub(eps, m.predictNoise(qSample(sch, x0, t, eps), t)))) as tf.Scalar), s);
});

test("checkDeterministicSampler passes on DDIM (eta = 0) and fails on DDPM and on DDIM with eta = 1", () => {
  const s = linearSchedule(20);
  const model = new DiffusionMlp({ ...DIFFUSION_POINTS_CONFIG, hidden: 16, blocks: 1 }, new Rng(3));
  const n = 8;
  checkDeterministicSampler((xT, seed) => ddimSample(model, s, { n, seed, steps: 10, xT }).samples, n, 2);
  fails(() => checkDeterministicSampler((xT, seed) => ddpmSample(model, s, { n, seed, xT }).samples, n, 2));
  fails(() => checkDeterministicSampler((xT, seed) => ddimSample(model, s, { n, seed, steps: 10, eta: 1, xT }).samples, n, 2));
  // A sampler that ignores x_T altogether must not pass either.
  fails(() => checkDeterministicSampler((_xT, seed) => ddimSample(model, s, { n, seed: 0 * seed, steps: 10 }).samples, n, 2));
  model.dispose();
});

test("checkCrossAttention passes on MultiHeadCrossAttention (memory of another width too) and fails on self-attention or swapped keys", () => {
  for (const dMemory of [16, 24]) {
    const ca = new MultiHeadCrossAttention(16, 4, new Rng(dMemory), dMemory);
    // Weights larger than the initialisation's, so that the attention is far from uniform.
    Object.values(ca.weights).forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.5, "float32", 10 * dMemory + i)));
    const w = ca.weightArrays();
    checkCrossAttention((x, m) => ca.apply(x, m).output, w, 4);
    if (dMemory === 16) fails(() => checkCrossAttention((x) => ca.apply(x, x).output, w, 4));
    // Keys projected with the query weights: the formula's shape, the wrong numbers.
    const wrong = { ...w, wk: w.wq };
    if (dMemory === 16) fails(() => checkCrossAttention((x, m) => ca.apply(x, m).output, wrong, 4));
    ca.dispose();
  }
  // One head, identity projections: softmax(x mᵀ / √d) m by hand.
  const I = [[1, 0], [0, 1]];
  const z = [0, 0];
  const got = crossAttentionByLoops([[1, 0]], [[2, 0], [0, 2]], { wq: I, wk: I, wv: I, wo: I, bq: z, bk: z, bv: z, bo: z }, 1);
  const e = Math.exp(2 / Math.sqrt(2));
  assert.ok(Math.abs(got[0]![0]! - (2 * e) / (e + 1)) < 1e-12 && Math.abs(got[0]![1]! - 2 / (e + 1)) < 1e-12);
});

const tinySeq2Seq = { srcVocab: 9, tgtVocab: 7, maxSrcLen: 8, maxTgtLen: 6, dModel: 16, numHeads: 2, encoderLayers: 1, decoderLayers: 2 };

test("checkCausalOutputs passes on the masked decoder, fails on the unmasked one, and refuses a change that reaches nothing", () => {
  const model = new EncoderDecoder(tinySeq2Seq, new Rng(4));
  const logitsOf = (causal: boolean) => (ids: number[]) => tf.tidy(() => {
    const src = tf.tensor2d([[3, 4, 5]], undefined, "int32");
    const mask = model.sourceMask(src);
    return (model.decode(model.encode(src, mask), mask, tf.tensor2d([ids], undefined, "int32"), { causal }).logits.arraySync() as number[][][])[0]!;
  });
  const ids = [1, 3, 4, 5, 6];
  assert.ok(checkCausalOutputs(logitsOf(true), ids, 2, 6, true).earlier < 1e-6);
  fails(() => checkCausalOutputs(logitsOf(false), ids, 2, 6, true));
  assert.ok(checkCausalOutputs(logitsOf(false), ids, 2, 6, false).earlier > 1e-4);
  fails(() => checkCausalOutputs(logitsOf(true), ids, 2, 6, false));
  // Outputs that ignore their input prove nothing, so they fail both ways.
  const constant = (tokens: number[]) => tokens.map(() => [0, 1, 2]);
  fails(() => checkCausalOutputs(constant, ids, 2, 6, true));
  model.dispose();
});

test("checkLabelSmoothedLoss passes on EncoderDecoder.loss and fails on ε spread over V - 1 tokens, on PAD counted, and on no smoothing", () => {
  const model = new EncoderDecoder(tinySeq2Seq, new Rng(5));
  const src = tf.tensor2d([[3, 4, 5], [6, 7, 0]], undefined, "int32");
  const tgtIn = tf.tensor2d([[1, 3, 4, 5], [1, 6, 0, 0]], undefined, "int32");
  const tgtOut = tf.tensor2d([[3, 4, 5, 2], [6, 2, 0, 0]], undefined, "int32");
  const logits = tf.tidy(() => {
    const mask = model.sourceMask(src);
    return model.decode(model.encode(src, mask), mask, tgtIn).logits.arraySync() as number[][][];
  });
  const targets = tgtOut.arraySync() as number[][];
  const loss = (eps: number) => tf.tidy(() => model.loss(src, tgtIn, tgtOut, eps).dataSync()[0]!);
  for (const eps of [0, 0.1, 0.3]) checkLabelSmoothedLoss(loss(eps), logits, targets, eps);
  // ε spread over the V - 1 wrong tokens (another convention), by hand.
  const overOthers = (eps: number) => {
    let total = 0;
    let n = 0;
    logits.forEach((rows, b) => rows.forEach((l, t) => {
      const y = targets[b]![t]!;
      if (y === 0) return;
      const lse = Math.log(l.reduce((s, v) => s + Math.exp(v), 0));
      total -= l.reduce((s, v, k) => s + (k === y ? 1 - eps : eps / (l.length - 1)) * (v - lse), 0);
      n++;
    }));
    return total / n;
  };
  fails(() => checkLabelSmoothedLoss(overOthers(0.1), logits, targets, 0.1));
  fails(() => checkLabelSmoothedLoss(labelSmoothedLossByHand(logits, targets, 0.1, -1), logits, targets, 0.1)); // PAD counted
  fails(() => checkLabelSmoothedLoss(loss(0), logits, targets, 0.1));
  tf.dispose([src, tgtIn, tgtOut]);
  model.dispose();
});
