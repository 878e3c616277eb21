/**
 * The latent U-Net of latent diffusion (kernel-lib/src/models/latent/latent-unet.ts, condition.ts, pipeline.ts):
 * the parameter count by the layer formula, gradients against finite differences on a tiny configuration, its
 * cross-attention against a hand computation (and the class reaching the output only through it), classifier-free
 * guidance in the sampler against the formula on two model calls, no leaks in a training step or in sampling,
 * the checkpoint round trip, wrong inputs rejected with errors that say what was expected, and lesson 07's checks
 * (kernel-lib/src/models/latent/checks.ts) failing on wrong inputs.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { checkDirectional } from "./lib/gradients";
import {
  checkGuidedNoise,
  checkIdenticalTokens,
  checkUnitVariance,
  ddimSample,
  DiffusionTrainer,
  LatentAutoencoder,
  LatentUNet,
  latentUNetConfig,
  LatentUNetConfig,
  latentUNetParameterCount,
  linearSchedule,
  loadLatentUNet,
  Rng,
  sampleLatentImages,
  tf,
  useBestBackend,
  withinClassVariance,
} from "kernel-lib";

const TINY: LatentUNetConfig = { latentChannels: 2, numClasses: 3, T: 10, channels: [4, 8], timeDim: 4, groups: 2, condTokens: 2, condDim: 3, heads: 2 };

test("parameter count: the layer formula, and by hand for the tiny configuration", async () => {
  await useBestBackend({ verbose: false });
  for (const cfg of [TINY, latentUNetConfig(200)]) {
    const m = new LatentUNet(cfg, new Rng(0));
    assert.equal(m.parameterCount(), latentUNetParameterCount(cfg), JSON.stringify(cfg));
    m.dispose();
  }
  // By hand, TINY (c1 = 4, c2 = 8, time 4, tokens 2 x 3, C = 2, 3 classes + none):
  // time 1·4+4 + 4·4+4 = 28; in 9·2·4+4 = 76; downsample 9·4·4+4 = 148; out 9·4·2+2 = 74;
  // down1 Res(4->4) 148+148+16+20 = 332; down2 Res(4->8) 296+584+32+40+40 = 992; mid Res(8->8) 584+584+32+40 = 1240;
  // up2 Res(16->8) 1160+584+32+40+136 = 1952; up1 Res(12->4) 436+148+16+20+52 = 672;
  // attention (norm 2c, W_q, W_o c·c+c, W_k, W_v 3c+c): c = 4: 8+40+32 = 80; c = 8: 16+144+64 = 224 (x3);
  // tokens 4·2·3 = 24.
  const byHand = 28 + 76 + 148 + 74 + 332 + 992 + 1240 + 1952 + 672 + 2 * 80 + 3 * 224 + 24;
  assert.equal(latentUNetParameterCount(TINY), byHand);
  assert.equal(latentUNetParameterCount(latentUNetConfig(200)), 390436);
});

test("gradients of L_simple match finite differences along random directions (tiny configuration)", async () => {
  await useBestBackend({ verbose: false });
  const m = new LatentUNet(TINY, new Rng(1));
  const x = tf.randomNormal([3, 98], 0, 1, "float32", 2);
  const eps = tf.randomNormal([3, 98], 0, 1, "float32", 3);
  const loss = () => tf.tidy(() => tf.mean(tf.squaredDifference(m.predictNoise(x, [1, 5, 9], [0, 2, 3]), eps)) as tf.Scalar);
  checkDirectional(m.variables, loss, 4);
  tf.dispose([x, eps]);
  m.dispose();
});

test("cross-attention: image features give the queries, the class tokens the keys and values (against a hand computation)", async () => {
  await useBestBackend({ verbose: false });
  const m = new LatentUNet(TINY, new Rng(5));
  const block = m.attention("mid"); // 8 channels, 2 heads of 4, tokens of width 3
  const x = tf.randomNormal([2, 4, 4, 8], 0, 1, "float32", 6) as tf.Tensor4D;
  const tokens = m.conditionTokens([1, 3]); // (2, 2, 3): class 1, and the null condition
  const got = block.apply(x, tokens).arraySync() as number[][][][];
  // By hand: group norm (2 groups, gamma 1, beta 0), then per head softmax(q kᵀ / √4) v, concatenated, W_o.
  const w = Object.fromEntries(Object.entries(block.variables()).map(([k, v]) => [k, v.arraySync() as number[][]]));
  const xs = x.arraySync() as number[][][][];
  const tk = tokens.arraySync() as number[][][];
  const mm = (a: number[], W: number[][], b: number[]) => b.map((bj, j) => bj + a.reduce((s, ai, i) => s + ai * W[i]![j]!, 0));
  for (let n = 0; n < 2; n++) {
    const pixels = xs[n]!.flat(); // 16 positions x 8 channels
    const normed = pixels.map((p) => [...p]);
    for (const g of [0, 1]) {
      const vals = pixels.flatMap((p) => p.slice(4 * g, 4 * g + 4));
      const mean = vals.reduce((s, a) => s + a, 0) / vals.length;
      const sd = Math.sqrt(vals.reduce((s, a) => s + (a - mean) ** 2, 0) / vals.length + 1e-5);
      normed.forEach((p) => { for (let c = 4 * g; c < 4 * g + 4; c++) p[c] = (p[c]! - mean) / sd; });
    }
    const keys = tk[n]!.map((t) => mm(t, w.wk!, w.bk as unknown as number[]));
    const values = tk[n]!.map((t) => mm(t, w.wv!, w.bv as unknown as number[]));
    normed.forEach((p, pos) => {
      const q = mm(p, w.wq!, w.bq as unknown as number[]);
      const heads: number[] = [];
      for (const h of [0, 1]) {
        const scores = keys.map((k) => q.slice(4 * h, 4 * h + 4).reduce((s, qi, i) => s + qi * k[4 * h + i]!, 0) / 2);
        const e = scores.map((s) => Math.exp(s - Math.max(...scores)));
        const a = e.map((v) => v / e.reduce((s, u) => s + u, 0));
        for (let i = 0; i < 4; i++) heads.push(a.reduce((s, ai, j) => s + ai * values[j]![4 * h + i]!, 0));
      }
      const out = mm(heads, w.wo!, w.bo as unknown as number[]);
      const row = Math.floor(pos / 4);
      const col = pos % 4;
      out.forEach((o, c) => assert.ok(Math.abs(got[n]![row]![col]![c]! - (xs[n]![row]![col]![c]! + o)) < 1e-4, `n ${n} (${row}, ${col}) channel ${c}`));
    });
  }
  // The class reaches the output only through cross-attention: with every W_o zero, labels change nothing.
  const z = tf.randomNormal([2, 98], 0, 1, "float32", 7);
  const differs = () => tf.tidy(() => tf.max(tf.abs(tf.sub(m.predictNoise(z, 4, [0, 1]), m.predictNoise(z, 4, [2, 3])))).dataSync()[0]!);
  assert.ok(differs() > 1e-4, "labels should change the prediction");
  for (const stage of ["down1", "down2", "mid", "up2", "up1"]) tf.tidy(() => m.attention(stage).attention.weights.wo.assign(tf.zerosLike(m.attention(stage).attention.weights.wo)));
  assert.equal(differs(), 0);
  tf.dispose([x, tokens, z]);
  m.dispose();
});

test("classifier-free guidance in the sampler is (1 + w) eps(z, y) - w eps(z, none), from two model calls", async () => {
  await useBestBackend({ verbose: false });
  const m = new LatentUNet(TINY, new Rng(8));
  const schedule = linearSchedule(TINY.T);
  const xT = tf.randomNormal([4, 98], 0, 1, "float32", 9) as tf.Tensor2D;
  const labels = [0, 1, 2, 1];
  for (const w of [0, 1, 3, 7]) {
    // One DDIM step from T to 0 returns x0 = (x_T - sqrt(1 - abar) eps) / sqrt(abar): the eps it used follows.
    const { samples } = ddimSample(m, schedule, { n: 4, seed: 1, labels, guidance: w, steps: 1, xT });
    const ab = schedule.alphaBars[TINY.T]!;
    const used = tf.tidy(() => tf.div(tf.sub(xT, tf.mul(Math.sqrt(ab), samples)), Math.sqrt(1 - ab)));
    const formula = tf.tidy(() => tf.sub(tf.mul(1 + w, m.predictNoise(xT, TINY.T, labels)), tf.mul(w, m.predictNoise(xT, TINY.T, [3, 3, 3, 3]))));
    const err = tf.tidy(() => tf.max(tf.abs(tf.sub(used, formula))).dataSync()[0]!);
    assert.ok(err < 1e-3 * (1 + w), `w = ${w}: max difference ${err}`);
    tf.dispose([samples, used, formula]);
  }
  xT.dispose();
  m.dispose();
});

test("making and disposing a model, a training step and sampling leave tf.memory().numTensors unchanged; the checkpoint round-trips", async () => {
  await useBestBackend({ verbose: false });
  const before = tf.memory().numTensors;
  new LatentUNet(TINY, new Rng(9)).dispose();
  assert.equal(tf.memory().numTensors, before, "after making and disposing a model");
  const m = new LatentUNet(TINY, new Rng(10));
  const schedule = linearSchedule(TINY.T);
  const data = tf.randomNormal([16, 98], 0, 1, "float32", 11);
  const trainer = new DiffusionTrainer(m, schedule, data, { batchSize: 8, labels: Array.from({ length: 16 }, (_, i) => i % 3), emaDecay: 0.9, rng: new Rng(12) });
  tf.dispose(trainer.step().loss);
  const n0 = tf.memory().numTensors;
  tf.dispose(trainer.step().loss);
  assert.equal(tf.memory().numTensors, n0, "after a training step");
  const ae = new LatentAutoencoder({ latentChannels: 2, channels: [2, 3], klWeight: 0.01 }, new Rng(13));
  const n1 = tf.memory().numTensors;
  const images = sampleLatentImages(ae, 0.5, trainer.average!, schedule, { labels: [0, 1, 2], guidance: 3, steps: 3, seed: 1 });
  assert.deepEqual(images.shape, [3, 28, 28]);
  images.dispose();
  assert.equal(tf.memory().numTensors, n1, "after sampling");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-latent-unet-"));
  await trainer.average!.save(path.join(dir, "ld.ckpt"), schedule, 2, { note: "test" });
  const loaded = loadLatentUNet(path.join(dir, "ld.ckpt"));
  const z = tf.randomNormal([2, 98], 0, 1, "float32", 14);
  const a = tf.tidy(() => Array.from(loaded.model.predictNoise(z, 3, [0, 3]).dataSync()));
  const b = tf.tidy(() => Array.from(trainer.average!.predictNoise(z, 3, [0, 3]).dataSync()));
  assert.deepEqual(a, b);
  assert.deepEqual([loaded.step, loaded.extra["note"], loaded.schedule.T, loaded.model.config.channels], [2, "test", TINY.T, [4, 8]]);
  fs.rmSync(dir, { recursive: true });
  tf.dispose([data, z]);
  loaded.model.dispose();
  trainer.dispose();
  ae.dispose();
  m.dispose();
});

test("wrong inputs are rejected with errors that say what was expected", async () => {
  await useBestBackend({ verbose: false });
  const m = new LatentUNet(TINY, new Rng(15));
  const images = tf.zeros([2, 784]);
  assert.throws(() => m.predictNoise(images, 3, [0, 1]), /LatentUNet: expected latents \(B, 98\) = \(B, 7·7·2\), got shape \[2, 784\]; encode images with the autoencoder first/);
  const z = tf.zeros([2, 98]);
  assert.throws(() => m.predictNoise(z, 3), /pass one label per row \(0\.\.2, or 3 for no class\)/);
  assert.throws(() => m.predictNoise(z, 3, [0, 4]), /ClassTokens: a label must be an integer in 0\.\.3 \(3 = no class\), got 4/);
  assert.throws(() => m.predictNoise(z, 3, [0]), /1 labels for 2 latents/);
  assert.throws(() => new LatentUNet({ ...TINY, channels: [4, 5] }), /2 channel counts divisible by groups and heads/);
  tf.dispose([images, z]);
  m.dispose();
});

test("within-class variance: the mean over classes of each class's summed feature variance (by hand)", () => {
  // Class 0: rows (0, 0), (2, 0): variance 2 + 0 = 2. Class 1: rows (1, 1), (1, 3), (1, 5): 0 + 4 = 4. Mean 3.
  const features = { rows: 5, cols: 2, data: Float64Array.from([0, 0, 1, 1, 2, 0, 1, 3, 1, 5]) };
  assert.equal(withinClassVariance(features, [0, 1, 0, 1, 1]), 3);
  assert.throws(() => withinClassVariance(features, [0, 1]), /2 labels for 5 rows/);
});

test("lesson 07's checks fail on wrong inputs: unscaled latents, a block that ignores its tokens, a model whose two calls disagree", async () => {
  await useBestBackend({ verbose: false });
  const unscaled = tf.randomNormal([50, 98], 0, 3, "float32", 16);
  assert.throws(() => checkUnitVariance(unscaled, 0.1), /scaled latents: variance 9\.\d+, expected 1 ± 0\.1/);
  const m = new LatentUNet(TINY, new Rng(17));
  const block = m.attention("mid");
  const x = tf.randomNormal([2, 4, 4, 8], 0, 1, "float32", 18) as tf.Tensor4D;
  const token = tf.randomNormal([3], 0, 1, "float32", 19) as tf.Tensor1D;
  assert.ok(checkIdenticalTokens(block, x, token) < 1e-4);
  const ignoring = Object.create(block, { apply: { value: (input: tf.Tensor4D) => input.clone() } });
  assert.throws(() => checkIdenticalTokens(ignoring, x, token), /identical tokens/);
  const schedule = linearSchedule(TINY.T);
  assert.ok(checkGuidedNoise(m, schedule, [0, 1, 3], 3, 20) < 1e-2);
  // A denoiser that answers differently on every call: the sampler's guided noise no longer matches two fresh calls.
  let calls = 0;
  const drifting = { config: m.config, predictNoise: (z: tf.Tensor, t: number | ArrayLike<number>, y?: ArrayLike<number> | null) => tf.tidy(() => tf.add(m.predictNoise(z, t, y), calls++)) };
  assert.throws(() => checkGuidedNoise(drifting as unknown as LatentUNet, schedule, [0, 1, 3], 3, 20), /guided noise at w = 3/);
  tf.dispose([unscaled, x, token]);
  m.dispose();
});
