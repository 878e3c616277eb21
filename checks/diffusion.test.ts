/**
 * kernel-lib diffusion: schedules against the papers' numbers, the closed-form forward process against the
 * iterated one-step process (empirical mean and variance), the posterior against Bayes' rule, the loss on a
 * hand case, samplers (shapes, determinism with a seed, DDIM's one-step case, guidance, trajectories), the
 * trainer, checkpoints, and no tensor leaks. Runs on the cpu backend: exact and independent of the others.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  checkClose,
  checkFlatTensors,
  checkNoLeak,
  cosineSchedule,
  ddimSample,
  ddimTimesteps,
  ddpmSample,
  DiffusionMlp,
  DiffusionMlpConfig,
  DiffusionTrainer,
  epsilonLoss,
  linearSchedule,
  loadDiffusion,
  noiseSchedule,
  posteriorCoefficients,
  predictX0,
  qSample,
  qStep,
  Rng,
  sampleTimesteps,
  tf,
  timestepEmbedding,
} from "kernel-lib";

before(async () => {
  await tf.setBackend("cpu");
  await tf.ready();
});

const small: DiffusionMlpConfig = { dataDim: 2, hidden: 16, blocks: 2, timeDim: 8, numClasses: 0, activation: "relu" };
const conditioned: DiffusionMlpConfig = { ...small, numClasses: 3, activation: "silu" };

test("the linear schedule with T = 1000 is Ho et al.'s: beta from 1e-4 to 0.02, alphaBar_1000 = 4.0358e-5", () => {
  const s = linearSchedule(1000);
  assert.equal(s.betas.length, 1001);
  assert.equal(s.betas[0], 0);
  assert.equal(s.alphaBars[0], 1);
  checkClose(s.betas[1]!, 1e-4, { rtol: 1e-12, name: "beta_1" });
  checkClose(s.betas[1000]!, 0.02, { rtol: 1e-12, name: "beta_T" });
  // numpy: np.cumprod(1 - np.linspace(1e-4, 0.02, 1000)) at indices 999 and 499.
  checkClose(s.alphaBars[1000]!, 4.035829765375676e-5, { rtol: 1e-9, name: "alphaBar_1000" });
  checkClose(s.alphaBars[500]!, 0.07858724288177824, { rtol: 1e-9, name: "alphaBar_500" });
  for (let t = 1; t <= 1000; t++) assert.ok(s.alphaBars[t]! < s.alphaBars[t - 1]!, `alphaBar must fall at t = ${t}`);
});

test("a short linear schedule is rescaled by 1000 / T unless asked not to", () => {
  const s = linearSchedule(100);
  checkClose([s.betas[1]!, s.betas[100]!], [1e-3, 0.2], { rtol: 1e-12, name: "rescaled ends" });
  const raw = linearSchedule(100, { rescale: false });
  checkClose([raw.betas[1]!, raw.betas[100]!], [1e-4, 0.02], { rtol: 1e-12, name: "unscaled ends" });
  assert.ok(s.alphaBars[100]! < 1e-4 && raw.alphaBars[100]! > 0.3, "rescaling is what brings a 100-step schedule to pure noise");
});

test("the cosine schedule follows f(t)/f(0) and caps beta at 0.999", () => {
  const s = cosineSchedule(100);
  // By hand (Python): cos^2(((0.5 + 0.008) / 1.008) pi / 2) / cos^2((0.008 / 1.008) pi / 2).
  checkClose(s.alphaBars[50]!, 0.49384359044063775, { rtol: 1e-9, name: "alphaBar_50 of the cosine schedule" });
  assert.equal(s.betas[100], 0.999, "f(T) = 0 would give beta_T = 1: it is capped");
  assert.equal(noiseSchedule("cosine", 100).kind, "cosine");
  assert.throws(() => noiseSchedule("quadratic" as "linear", 10), /unknown kind/);
  assert.throws(() => linearSchedule(0), /positive integer/);
});

test("qSample is the closed form: hand values, and t = 0 returns x0", () => {
  const s = linearSchedule(10);
  tf.tidy(() => {
    const x0 = tf.tensor2d([[1, -2], [0.5, 3]]);
    const eps = tf.tensor2d([[0.3, 0.1], [-1, 2]]);
    const ab = [s.alphaBars[4]!, s.alphaBars[9]!];
    const expected = [0, 1].map((i) => [0, 1].map((j) => Math.sqrt(ab[i]!) * x0.arraySync()[i]![j]! + Math.sqrt(1 - ab[i]!) * eps.arraySync()[i]![j]!));
    checkClose(qSample(s, x0, [4, 9], eps), expected, { rtol: 1e-5, name: "x_t per row" });
    checkClose(qSample(s, x0, 0, eps), x0, { atol: 0, name: "x_0 at t = 0" });
    assert.throws(() => qSample(s, x0, 11, eps), /outside 0..10/);
  });
});

test("the closed form matches iterating the one-step process: empirical mean and variance of x_t", () => {
  // From a fixed x0, iterate x_s = sqrt(1 - beta_s) x_{s-1} + sqrt(beta_s) eps_s for s = 1..t over N chains;
  // x_t must have mean sqrt(alphaBar_t) x0 and variance 1 - alphaBar_t in every coordinate.
  const s = linearSchedule(50);
  const N = 20000;
  const t = 10;
  const r = new Rng(1);
  const { mean, variance } = tf.tidy(() => {
    const x0 = tf.tile(tf.tensor2d([[1.5, -0.5]]), [N, 1]);
    let x: tf.Tensor = x0;
    for (let step = 1; step <= t; step++) x = qStep(s, x, step, tf.randomNormal([N, 2], 0, 1, "float32", r.seed()));
    const m = tf.moments(x, 0);
    return { mean: Array.from(m.mean.dataSync()), variance: Array.from(m.variance.dataSync()) };
  });
  const ab = s.alphaBars[t]!;
  const sdMean = Math.sqrt((1 - ab) / N);
  const sdVar = (1 - ab) * Math.sqrt(2 / (N - 1));
  // Within 4 standard errors of the closed form, and far from what a wrong t would give.
  checkClose(mean, [1.5 * Math.sqrt(ab), -0.5 * Math.sqrt(ab)], { atol: 4 * sdMean, rtol: 0, name: "empirical mean of x_t" });
  checkClose(variance, [1 - ab, 1 - ab], { atol: 4 * sdVar, rtol: 0, name: "empirical variance of x_t" });
  assert.ok(Math.abs(mean[0]! - 1.5 * Math.sqrt(s.alphaBars[t - 1]!)) > 8 * sdMean, "the test must tell t from t - 1");
});

test("the posterior q(x_{t-1} | x_t, x_0) agrees with Bayes' rule on two Gaussians", () => {
  // q(x_{t-1} | x_0) = N(sqrt(ab_{t-1}) x0, 1 - ab_{t-1}) times q(x_t | x_{t-1}) = N(sqrt(a_t) x_{t-1}, beta_t) as a
  // function of x_{t-1}: precisions add, and the mean is the precision-weighted average.
  const s = cosineSchedule(40);
  for (const t of [2, 17, 40]) {
    const { c0, ct, variance } = posteriorCoefficients(s, t);
    const abPrev = s.alphaBars[t - 1]!;
    const precision = 1 / (1 - abPrev) + s.alphas[t]! / s.betas[t]!;
    const x0 = 0.7;
    const xt = -1.3;
    const mean = (Math.sqrt(abPrev) * x0 / (1 - abPrev) + Math.sqrt(s.alphas[t]!) * xt / s.betas[t]!) / precision;
    checkClose(variance, 1 / precision, { rtol: 1e-9, name: `posterior variance at t = ${t}` });
    checkClose(c0 * x0 + ct * xt, mean, { rtol: 1e-9, name: `posterior mean at t = ${t}` });
  }
  assert.equal(posteriorCoefficients(s, 1).variance, 0, "at t = 1 the posterior is a point: x_0 itself");
  checkClose(posteriorCoefficients(s, 1).c0, 1, { rtol: 1e-12, name: "c0 at t = 1" });
});

test("the posterior mean at the predicted x_0 is Ho et al.'s Algorithm 2 mean", () => {
  const s = linearSchedule(100);
  tf.tidy(() => {
    const xt = tf.tensor2d([[0.4, -1.1], [2.0, 0.3]]);
    const eps = tf.tensor2d([[0.9, 0.2], [-0.5, 1.4]]);
    for (const t of [1, 50, 100]) {
      const { c0, ct } = posteriorCoefficients(s, t);
      const viaX0 = tf.add(tf.mul(c0, predictX0(s, xt, eps, t)), tf.mul(ct, xt));
      const algorithm2 = tf.mul(1 / Math.sqrt(s.alphas[t]!), tf.sub(xt, tf.mul(s.betas[t]! / Math.sqrt(1 - s.alphaBars[t]!), eps)));
      checkClose(viaX0, algorithm2, { rtol: 1e-4, atol: 1e-5, name: `mean at t = ${t}` });
    }
  });
});

test("timestepEmbedding: sin and cos of t times geometric frequencies, by hand", () => {
  tf.tidy(() => {
    // dim 4: frequencies 1 and 1e-4.
    checkClose(timestepEmbedding([0, 1, 7], 4), [
      [0, 0, 1, 1],
      [Math.sin(1), Math.sin(1e-4), Math.cos(1), Math.cos(1e-4)],
      [Math.sin(7), Math.sin(7e-4), Math.cos(7), Math.cos(7e-4)],
    ], { rtol: 1e-5, atol: 1e-7, name: "embedding" });
  });
  assert.throws(() => timestepEmbedding([1], 3), /even/);
});

test("sampleTimesteps is uniform on 1..T and seeded", () => {
  const a = sampleTimesteps(5000, 10, new Rng(3));
  assert.deepEqual(Array.from(sampleTimesteps(20, 10, new Rng(3))), Array.from(a.slice(0, 20)));
  const counts = new Array<number>(11).fill(0);
  for (const t of a) counts[t]! += 1;
  assert.equal(counts[0], 0);
  for (let t = 1; t <= 10; t++) assert.ok(counts[t]! > 400 && counts[t]! < 600, `t = ${t} drawn ${counts[t]} times of 5000`);
});

test("epsilonLoss: a network that predicts zero has loss mean(eps^2); otherwise the MSE of its prediction", () => {
  const s = linearSchedule(20);
  const template = new DiffusionMlp(small, new Rng(1));
  const zeros = Object.fromEntries(Object.entries(template.weights()).map(([k, v]) => [k, tf.zerosLike(v)]));
  template.dispose();
  const zeroNet = new DiffusionMlp(small, new Rng(1), zeros);
  const net = new DiffusionMlp(small, new Rng(2));
  tf.tidy(() => {
    const x0 = tf.tensor2d([[1, 2], [3, -1], [0, 0.5]]);
    const eps = tf.tensor2d([[1, -1], [0.5, 2], [0, 3]]);
    const t = [1, 10, 20];
    checkClose(epsilonLoss(zeroNet, s, x0, t, eps), (1 + 1 + 0.25 + 4 + 0 + 9) / 6, { rtol: 1e-6, name: "loss of the zero network" });
    const pred = net.predictNoise(qSample(s, x0, t, eps), t);
    checkClose(epsilonLoss(net, s, x0, t, eps), tf.mean(tf.square(tf.sub(pred, eps))), { rtol: 1e-6, name: "loss = MSE of the prediction" });
  });
  tf.dispose(Object.values(zeros));
  zeroNet.dispose();
  net.dispose();
});

test("DiffusionMlp: shapes, per-row vs shared timesteps, labels checked, parameters counted", () => {
  const net = new DiffusionMlp(conditioned, new Rng(4));
  // in: (2 + 8 + 4) x 16 + 16; blocks: 2 x ((16 + 12) x 16 + 16); out: 16 x 2 + 2.
  assert.equal(net.parameterCount(), 14 * 16 + 16 + 2 * (28 * 16 + 16) + 16 * 2 + 2);
  tf.tidy(() => {
    const x = tf.randomNormal([5, 2], 0, 1, "float32", 1);
    const y = [0, 1, 2, 3, 1];
    const out = net.predictNoise(x, 7, y);
    assert.deepEqual(out.shape, [5, 2]);
    checkClose(out, net.predictNoise(x, [7, 7, 7, 7, 7], y), { atol: 0, name: "one t for all rows = the same t per row" });
    assert.throws(() => net.predictNoise(x, 7), /needs 5 labels/);
    assert.throws(() => net.predictNoise(x, 7, [0, 1, 2, 4, 0]), /outside 0..3/);
  });
  const plain = new DiffusionMlp(small, new Rng(4));
  assert.throws(() => tf.tidy(() => plain.predictNoise(tf.zeros([2, 2]), 1, [0, 0])), /unconditional/);
  net.dispose();
  plain.dispose();
});

test("the gated output starts as eps = x_t - f(x_t, t) and keeps its config through a checkpoint", async () => {
  const gatedConfig: DiffusionMlpConfig = { ...small, gated: true };
  const net = new DiffusionMlp(gatedConfig, new Rng(10));
  // Same weights without the gate: its output is f(x_t, t).
  const plainWeights = Object.fromEntries(Object.entries(net.weights()).filter(([k]) => !k.startsWith("gain.")));
  const plain = new DiffusionMlp(small, new Rng(0), plainWeights);
  tf.tidy(() => {
    const x = tf.randomNormal([4, 2], 0, 1, "float32", 3);
    checkClose(net.predictNoise(x, 9), tf.sub(x, plain.predictNoise(x, 9)), { rtol: 1e-5, atol: 1e-6, name: "gain exp(0) = 1 at initialisation" });
  });
  assert.equal(net.parameterCount() - plain.parameterCount(), 8 * 2 + 2);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "diffusion-")), "g.ckpt");
  await net.save(file, linearSchedule(10), 1);
  const loaded = loadDiffusion(file, gatedConfig);
  assert.equal(loaded.model.config.gated, true);
  loaded.model.dispose();
  net.dispose();
  plain.dispose();
});

test("samplers: shapes, the same seed gives the same samples, another seed other samples, no leaks", async () => {
  const s = linearSchedule(20);
  const net = new DiffusionMlp(small, new Rng(5));
  await checkNoLeak(() => {
    const a = ddpmSample(net, s, { n: 6, seed: 11 });
    const b = ddpmSample(net, s, { n: 6, seed: 11 });
    const c = ddpmSample(net, s, { n: 6, seed: 12, variance: "posterior" });
    assert.deepEqual(a.samples.shape, [6, 2]);
    checkClose(a.samples, b.samples, { atol: 0, name: "DDPM samples with the same seed" });
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(a.samples, c.samples))).dataSync()[0]!) > 1e-3, "another seed must give other samples");
    const d = ddimSample(net, s, { n: 6, seed: 11, steps: 5 });
    const e = ddimSample(net, s, { n: 6, seed: 11, steps: 5 });
    checkClose(d.samples, e.samples, { atol: 0, name: "DDIM samples with the same seed" });
    tf.dispose([a.samples, b.samples, c.samples, d.samples, e.samples]);
  }, "samplers");
  net.dispose();
});

test("trajectories keep x_T and x_0; DDIM's steps are evenly spaced and one step is x0_hat(x_T)", async () => {
  const s = cosineSchedule(30);
  const net = new DiffusionMlp(small, new Rng(6));
  assert.deepEqual(ddimTimesteps(30, 3), [30, 20, 10]);
  assert.deepEqual(ddimTimesteps(10, 10), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  await checkNoLeak(() => {
    const r = ddpmSample(net, s, { n: 4, seed: 3, keep: [30, 15, 0] });
    assert.deepEqual(r.trajectory.map((p) => p.t), [30, 15, 0]);
    checkClose(r.trajectory[2]!.x, r.samples, { atol: 0, name: "x_0 kept = the samples" });
    const one = ddimSample(net, s, { n: 4, seed: 3, steps: 1, keep: [30] });
    // DDIM from t = T straight to s = 0: x_0 = sqrt(alphaBar_0) x0_hat + 0 * eps = x0_hat.
    tf.tidy(() => {
      const xT = one.trajectory[0]!.x;
      checkClose(xT, r.trajectory[0]!.x, { atol: 0, name: "both samplers start from the same seeded x_T" });
      checkClose(one.samples, predictX0(s, xT, net.predictNoise(xT, 30), 30), { rtol: 1e-5, atol: 1e-5, name: "one DDIM step" });
    });
    tf.dispose([r.samples, one.samples, ...r.trajectory.map((p) => p.x), ...one.trajectory.map((p) => p.x)]);
  }, "trajectories");
  net.dispose();
});

test("classifier-free guidance: eps = (1 + w) eps(x, y) - w eps(x, none), checked through one DDIM step", async () => {
  const s = linearSchedule(10);
  const net = new DiffusionMlp(conditioned, new Rng(7));
  const labels = [0, 2, 1];
  await checkNoLeak(() => {
    const w = 2.5;
    const r = ddimSample(net, s, { n: 3, seed: 9, steps: 1, labels, guidance: w, keep: [10] });
    tf.tidy(() => {
      const xT = r.trajectory[0]!.x;
      const eps = tf.sub(tf.mul(1 + w, net.predictNoise(xT, 10, labels)), tf.mul(w, net.predictNoise(xT, 10, [3, 3, 3])));
      checkClose(r.samples, predictX0(s, xT, eps, 10), { rtol: 1e-4, atol: 1e-5, name: "guided one-step sample" });
    });
    tf.dispose([r.samples, r.trajectory[0]!.x]);
  }, "guided sampling");
  const plain = new DiffusionMlp(small, new Rng(7));
  assert.throws(() => ddpmSample(plain, s, { n: 2, seed: 1, guidance: 1 }), /class-conditioned/);
  net.dispose();
  plain.dispose();
});

test("DiffusionTrainer: the step keeps the tensor count flat, lowers the loss, and the weight average follows", async () => {
  const s = linearSchedule(20);
  const r = new Rng(8);
  // Two clusters with labels; conditioned, so the class-dropout path runs too.
  const data = tf.tidy(() => tf.concat([tf.add(tf.randomNormal([64, 2], 0, 0.1, "float32", 1), 1), tf.sub(tf.randomNormal([64, 2], 0, 0.1, "float32", 2), 1)]));
  const labels = [...new Array<number>(64).fill(0), ...new Array<number>(64).fill(1)];
  const net = new DiffusionMlp({ ...conditioned, numClasses: 2 }, r.fork());
  const trainer = new DiffusionTrainer(net, s, data, { batchSize: 32, learningRate: 3e-3, labels, emaDecay: 0.9, rng: r.fork() });
  await checkFlatTensors(() => tf.dispose(trainer.step().loss), 3, "DiffusionTrainer.step");
  const losses: number[] = [];
  for (let i = 0; i < 200; i++) {
    const { loss } = trainer.step();
    losses.push(loss.dataSync()[0]!);
    loss.dispose();
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(losses.slice(-40)) < 0.8 * mean(losses.slice(0, 40)), `loss should fall: ${mean(losses.slice(0, 40))} -> ${mean(losses.slice(-40))}`);
  // The average differs from the live weights but stays close to them.
  const live = net.weights()["out.kernel"]!;
  const avg = trainer.average!.weights()["out.kernel"]!;
  const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(live, avg))).dataSync()[0]!);
  assert.ok(gap > 0 && gap < 0.5, `weight average should trail the weights, gap ${gap}`);
  assert.throws(() => new DiffusionTrainer(net, s, data, { batchSize: 32, rng: r }), /needs labels/);
  trainer.dispose();
  net.dispose();
  data.dispose();
});

test("checkpoints: save and load give the same predictions and the same schedule", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "diffusion-"));
  const file = path.join(dir, "d.ckpt");
  const s = cosineSchedule(25);
  const net = new DiffusionMlp(conditioned, new Rng(9));
  await net.save(file, s, 42, { note: "test" });
  const loaded = loadDiffusion(file, conditioned);
  assert.equal(loaded.step, 42);
  assert.equal(loaded.extra.note, "test");
  assert.equal(loaded.schedule.kind, "cosine");
  checkClose(Array.from(loaded.schedule.alphaBars), Array.from(s.alphaBars), { atol: 0, name: "schedule" });
  tf.tidy(() => {
    const x = tf.randomNormal([3, 2], 0, 1, "float32", 4);
    checkClose(loaded.model.predictNoise(x, 5, [0, 1, 3]), net.predictNoise(x, 5, [0, 1, 3]), { atol: 0, name: "predictions after loading" });
  });
  assert.throws(() => loadDiffusion(file, small), /does not hold a usable diffusion model/);
  loaded.model.dispose();
  net.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});
