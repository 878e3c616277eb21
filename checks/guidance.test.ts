/**
 * The two overlapping Gaussian classes of lesson 06's guidance demo (kernel-lib/src/data/gaussian-classes.ts) and
 * guidanceSampler (kernel-lib/src/models/diffusion/guidance.ts): the closed-form Bayes accuracy against Monte Carlo
 * and against a quadrature of the classifier's definition, the measures on hand-made points, and the sampler's
 * contract (same noise at every w, labels in blocks, no leaks, bad inputs refused).
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { bayesAccuracy, classSpread, DIFFUSION_POINTS_CONFIG, DiffusionMlp, guidanceSampler, linearSchedule, normalCdf, Rng, sampleGaussianClasses, tf } from "kernel-lib";

before(async () => {
  await tf.setBackend("cpu");
  await tf.ready();
});

test("normalCdf matches hand values and a quadrature of the density", () => {
  assert.ok(Math.abs(normalCdf(0) - 0.5) < 1e-7);
  assert.ok(Math.abs(normalCdf(1) - 0.8413447461) < 2e-7);
  assert.ok(Math.abs(normalCdf(-1.96) - 0.0249978952) < 2e-7);
  let q = 0;
  for (let x = -12; x <= 0.7; x += 1e-4) q += (Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI)) * 1e-4;
  assert.ok(Math.abs(normalCdf(0.7) - q) < 1e-4);
});

test("the Bayes accuracy Phi(d / 2 std) agrees with 40,000 drawn points, and the data's within-class variance is std^2", () => {
  for (const options of [{}, { separation: 3, std: 0.5 }]) {
    const { points, labels } = sampleGaussianClasses(40000, { ...options, rng: new Rng(3) });
    const s = classSpread(points, labels);
    points.dispose();
    assert.ok(Math.abs(s.bayesShare - bayesAccuracy(options)) < 4 * s.bayesShareStderr, `${JSON.stringify(options)}: ${s.bayesShare} vs ${bayesAccuracy(options)}`);
    const std = (options as { std?: number }).std ?? 1;
    assert.ok(Math.abs(s.withinVariance / (std * std) - 1) < 0.03, `within-class variance ${s.withinVariance}`);
  }
  assert.ok(Math.abs(bayesAccuracy() - 0.841345) < 1e-5);
});

test("classSpread on hand-made points: the share on the requested side and the variance around each class's mean", () => {
  const s = classSpread([[-1, 0], [-3, 0], [2, 1], [-0.5, 1]], [0, 0, 1, 1]);
  assert.equal(s.bayesShare, 0.75);
  // Class 0: mean (-2, 0), squared distances 1 + 1; class 1: mean (0.75, 1), 1.5625 + 1.5625. Sum 5.125 over 2 * 4.
  assert.ok(Math.abs(s.withinVariance - 5.125 / 8) < 1e-12);
  assert.throws(() => classSpread([[0, 0]], [2]), RangeError);
  assert.throws(() => classSpread([[0, 0]], [0, 1]), RangeError);
});

test("guidanceSampler: labels in blocks, the same noise at every w (w = 0 twice is identical), no leaks, bad inputs refused", () => {
  const model = new DiffusionMlp({ ...DIFFUSION_POINTS_CONFIG, hidden: 16, blocks: 1, numClasses: 2 }, new Rng(1));
  const s = linearSchedule(20);
  const at = guidanceSampler(model, s, { perClass: 5, seed: 3, scale: 2 });
  const before = tf.memory().numTensors;
  const a = at(0);
  const b = at(0);
  const c = at(3);
  assert.equal(tf.memory().numTensors, before, "the sampler leaks no tensors");
  assert.deepEqual(a.labels, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  assert.deepEqual(a.points, b.points);
  assert.notDeepEqual(a.points, c.points);
  assert.equal(c.w, 3);
  assert.throws(() => at(-1), RangeError);
  const unconditioned = new DiffusionMlp({ ...DIFFUSION_POINTS_CONFIG, hidden: 8, blocks: 1 }, new Rng(2));
  assert.throws(() => guidanceSampler(unconditioned, s), RangeError);
  model.dispose();
  unconditioned.dispose();
});
