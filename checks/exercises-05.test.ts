/**
 * The reference solutions of notebooks/05-gan.ipynb's exercises, run outside the notebook against numbers
 * computed independently (the library, or by hand). checks/exercises.test.ts checks every lesson's exercise
 * cells and solutions fit together; checks/notebooks.test.ts runs the lesson with them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as kernelLib from "kernel-lib";
import { solutionFunction as solution } from "./lib/exercises";
import { nonSaturatingGeneratorLoss, optimalDiscriminator, ringCentres, ringCoverage, sampleRing, Rng, tf } from "kernel-lib";

const solutionFunction = (id: string) => solution("05-gan", id);

test("the non-saturating loss solution matches the library, is finite at ±100 and leaks nothing", async () => {
  await kernelLib.useBestBackend({ verbose: false });
  const loss = solutionFunction("non-saturating-loss") as (l: tf.Tensor) => tf.Scalar;
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const l = tf.tensor1d([-100, -3, 0, 2.5, 100]);
    kernelLib.checkClose(loss(l), nonSaturatingGeneratorLoss(l), { rtol: 1e-6, name: "vs library" });
    // By hand in float64: mean of softplus(-l).
    const sp = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    kernelLib.checkClose(loss(l), [100, 3, 0, -2.5, -100].reduce((s, v) => s + sp(v), 0) / 5, { rtol: 1e-6, name: "by hand" });
  });
  assert.equal(tf.memory().numTensors, before, "no tensors leaked");
});

test("the optimal-D solution is p / (p + q), 1/2 where both vanish", () => {
  const optimalD = solutionFunction("optimal-d") as (xs: number[], p: (x: number) => number, q: (x: number) => number) => number[];
  const p = (x: number) => Math.exp(-x * x);
  const q = (x: number) => (x > 0 ? 2 * Math.exp(-x) : 0);
  const xs = [-1, 0.5, 3];
  assert.deepEqual(optimalD(xs, p, q), xs.map((x) => optimalDiscriminator(p(x), q(x))));
  assert.deepEqual(optimalD([7], () => 0, () => 0), [0.5]);
});

test("the count-modes solution agrees with ringCoverage on real data, a collapsed set and noise", () => {
  const count = solutionFunction("count-modes") as (pts: [number, number][], c: [number, number][], std: number, min: number) => number;
  const centres = ringCentres();
  const data = sampleRing(2500, { rng: new Rng(3) });
  const flat = Array.from(data.dataSync());
  data.dispose();
  const points = Array.from({ length: 2500 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!] as [number, number]);
  assert.equal(count(points, centres, 0.02, 25), ringCoverage(points).modesCovered);
  assert.equal(count(points, centres, 0.02, 25), 8);
  // Keep only the samples near modes 0-2: three modes.
  const three = points.filter(([x, y]) => [0, 1, 2].some((k) => Math.hypot(x - centres[k]![0], y - centres[k]![1]) < 0.5));
  assert.equal(count(three, centres, 0.02, 25), 3);
  assert.equal(count(three, centres, 0.02, 25), ringCoverage(three, { minShare: 25 / three.length }).modesCovered);
  const noise = Array.from({ length: 500 }, (_, i) => [1.2 * Math.cos(i), 1.2 * Math.sin(i)] as [number, number]);
  assert.equal(count(noise, centres, 0.02, 25), 0);
});
