/**
 * The U-Net denoiser (kernel-lib/src/models/diffusion/unet.ts) and group norm (kernel-lib/src/nn/group-norm.ts):
 * group statistics by hand, the parameter count by the layer formula (the benchmark's PyTorch U-Net has the same
 * 963,137), gradients along random directions against finite differences on a tiny configuration, training
 * with DiffusionTrainer and sampling with DDPM without leaks, and the checkpoint round trip.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { checkDirectional } from "./lib/gradients";
import { ddpmSample, DiffusionTrainer, groupNorm, linearSchedule, loadUNet, Rng, tf, UNet, unetConfig, useBestBackend } from "kernel-lib";

test("groupNorm: every group of every example has mean beta and standard deviation gamma (gamma, beta equal within a group)", async () => {
  await useBestBackend({ verbose: false });
  const x = tf.randomNormal([2, 4, 4, 6], 2, 3, "float32", 1) as tf.Tensor4D;
  const y = groupNorm(x, tf.tensor1d([2, 2, 2, 0.5, 0.5, 0.5]), tf.tensor1d([1, 1, 1, -1, -1, -1]), 2);
  const v = y.arraySync() as number[][][][];
  for (let n = 0; n < 2; n++) {
    for (const [g, gamma, beta] of [[0, 2, 1], [1, 0.5, -1]] as const) {
      const vals = v[n]!.flat().flatMap((px) => px.slice(3 * g, 3 * g + 3));
      const mean = vals.reduce((s, a) => s + a, 0) / vals.length;
      const sd = Math.sqrt(vals.reduce((s, a) => s + (a - mean) ** 2, 0) / vals.length);
      assert.ok(Math.abs(mean - beta) < 1e-4 && Math.abs(sd - gamma) < 1e-3 * gamma, `example ${n} group ${g}: mean ${mean}, sd ${sd}`);
    }
  }
  assert.throws(() => groupNorm(x, tf.ones([6]), tf.zeros([6]), 4), /6 channels \(x \[2,4,4,6\]\) do not split into 4 groups/);
  tf.dispose([x, y]);
});

test("the lesson's U-Net has the layer formula's parameter count (963,137) and maps (B, 784) to (B, 784)", async () => {
  await useBestBackend({ verbose: false });
  const u = new UNet(unetConfig(200), new Rng(0));
  const conv = (k: number, a: number, b: number) => k * k * a * b + b;
  const res = (a: number, b: number) => conv(3, a, b) + 2 * b + (128 * b + b) + conv(3, b, b) + 2 * b + (a === b ? 0 : conv(1, a, b));
  const expected = 128 + 128 + (128 * 128 + 128) + conv(3, 1, 32) + res(32, 32) + res(32, 64) + res(64, 128) + res(128, 128) + res(256, 64) + res(128, 32) + res(64, 32) + conv(3, 32, 1);
  assert.equal(expected, 963137);
  assert.equal(u.parameterCount(), expected);
  const y = tf.tidy(() => u.predictNoise(tf.randomNormal([3, 28, 28, 1], 0, 1, "float32", 2), [1, 50, 200]).shape);
  assert.deepEqual(y, [3, 784]);
  assert.throws(() => u.predictNoise(tf.zeros([2, 27, 27]), 3), /expected \(B, 784\)/);
  u.dispose();
});

const TINY = { dataDim: 784 as const, numClasses: 0 as const, T: 10, channels: [4, 4, 8] as [number, number, number], timeDim: 4, groups: 2 };

test("U-Net gradients match finite differences along random directions (tiny configuration)", async () => {
  await useBestBackend({ verbose: false });
  const u = new UNet(TINY, new Rng(3));
  const x = tf.randomNormal([2, 784], 0, 1, "float32", 4);
  const target = tf.randomNormal([2, 784], 0, 1, "float32", 5);
  const loss = () => tf.tidy(() => tf.mean(tf.square(tf.sub(u.predictNoise(x, [2, 7]), target))) as tf.Scalar);
  checkDirectional(u.variables, loss, 6);
  tf.dispose([x, target]);
  u.dispose();
});

test("DiffusionTrainer trains a U-Net and DDPM samples from it without leaks; the checkpoint round-trips", async () => {
  await useBestBackend({ verbose: false });
  const schedule = linearSchedule(10);
  const u = new UNet(TINY, new Rng(7));
  const data = tf.randomUniform([16, 28, 28], -1, 1, "float32", 8);
  const trainer = new DiffusionTrainer(u, schedule, data, { batchSize: 8, rng: new Rng(9), emaDecay: 0.9 });
  let n0 = 0;
  for (let i = 0; i < 3; i++) {
    if (i === 1) n0 = tf.memory().numTensors;
    trainer.step().loss.dispose();
  }
  assert.equal(tf.memory().numTensors, n0);
  const { samples, trajectory } = ddpmSample(trainer.average!, schedule, { n: 2, seed: 1 });
  assert.deepEqual(samples.shape, [2, 784]);
  tf.dispose([samples, ...trajectory.map((s) => s.x)]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-unet-"));
  await u.save(path.join(dir, "u.ckpt"), schedule, 3);
  const loaded = loadUNet(path.join(dir, "u.ckpt"));
  const x = tf.randomNormal([1, 784], 0, 1, "float32", 10);
  assert.equal(loaded.schedule.T, 10);
  assert.deepEqual(Array.from(tf.tidy(() => loaded.model.predictNoise(x, 4).dataSync())), Array.from(tf.tidy(() => u.predictNoise(x, 4).dataSync())));
  fs.rmSync(dir, { recursive: true });
  tf.dispose([data, x]);
  trainer.dispose();
  loaded.model.dispose();
  u.dispose();
});
