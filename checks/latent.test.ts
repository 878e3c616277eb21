/**
 * Latent diffusion's autoencoder (kernel-lib/src/models/latent/autoencoder.ts): 28x28 images to 7x7x4 latents and
 * back, the KL weight in the training objective (β·KL, reported unweighted), the latent scale factor giving
 * latents of unit variance, directional finite differences, no leaks, and the checkpoint round trip.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { LatentAutoencoder, latentScale, loadLatentAutoencoder, Rng, tf, useBestBackend } from "kernel-lib";
import { checkDirectional } from "./lib/gradients";

const TINY = { latentChannels: 2, channels: [2, 3] as [number, number], klWeight: 0.01 };

test("shapes: images (B, 28, 28) to latents (B, 7·7·C) and logits (B, 784); the KL weight scales the objective only", async () => {
  await useBestBackend({ verbose: false });
  const ae = new LatentAutoencoder(TINY, new Rng(0));
  const x = tf.randomUniform([3, 28, 28], 0, 1, "float32", 1);
  const { mean, logVar } = ae.encode(x);
  assert.deepEqual([mean.shape, logVar.shape], [[3, 98], [3, 98]]);
  assert.deepEqual(tf.tidy(() => ae.decodeLogits(mean).shape), [3, 784]);
  // The objective of a step is reconstruction + β·KL; the terms it reports are the ELBO's, unweighted.
  const eps = tf.randomNormal([3, 98], 0, 1, "float32", 2);
  const terms = tf.tidy(() => {
    const l = ae.loss(x, eps);
    return [l.reconstruction.dataSync()[0]!, l.kl.dataSync()[0]!];
  });
  const opt = tf.train.sgd(0); // a zero learning rate: the step only reports
  const step = ae.trainStep(opt, x, 3);
  const objective = step.loss.dataSync()[0]!;
  const reported = [step.reconstruction.dataSync()[0]!, step.kl.dataSync()[0]!];
  assert.ok(Math.abs(objective - (reported[0]! + 0.01 * reported[1]!)) < 1e-3 * objective, `objective ${objective}, terms ${reported}`);
  assert.ok(reported[1]! > 0 && terms[1]! > 0);
  tf.dispose([x, mean, logVar, eps, step.loss, step.reconstruction, step.kl]);
  opt.dispose();
  ae.dispose();
});

test("the latent scale factor makes the scaled latents' variance 1", async () => {
  await useBestBackend({ verbose: false });
  const ae = new LatentAutoencoder(TINY, new Rng(4));
  const x = tf.randomUniform([64, 28, 28], 0, 1, "float32", 5);
  const s = latentScale(ae, x, 20);
  const scaled = tf.tidy(() => tf.mul(ae.encode(x).mean, s));
  const v = Array.from(scaled.dataSync());
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
  assert.ok(Math.abs(variance - 1) < 1e-3, `variance of the scaled latents ${variance}`);
  tf.dispose([x, scaled]);
  ae.dispose();
});

test("gradients match finite differences along random directions; a training step leaks nothing; checkpoints round-trip", async () => {
  await useBestBackend({ verbose: false });
  const ae = new LatentAutoencoder(TINY, new Rng(6));
  const x = tf.randomUniform([2, 784], 0, 1, "float32", 7);
  const eps = tf.randomNormal([2, 98], 0, 1, "float32", 8);
  checkDirectional(Object.values(ae.weights()), () => tf.tidy(() => { const l = ae.loss(x, eps); return tf.add(l.reconstruction, tf.mul(l.kl, 0.01)) as tf.Scalar; }), 9);
  const opt = tf.train.adam(1e-3);
  let n0 = 0;
  for (let i = 0; i < 3; i++) {
    if (i === 1) n0 = tf.memory().numTensors;
    tf.dispose(Object.values(ae.trainStep(opt, x, i)));
  }
  assert.equal(tf.memory().numTensors, n0);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-latent-"));
  await ae.save(path.join(dir, "ae.ckpt"), 3);
  const loaded = loadLatentAutoencoder(path.join(dir, "ae.ckpt"));
  const z = tf.randomNormal([2, 98], 0, 1, "float32", 10);
  assert.deepEqual(Array.from(tf.tidy(() => loaded.model.decodeLogits(z).dataSync())), Array.from(tf.tidy(() => ae.decodeLogits(z).dataSync())));
  assert.equal(loaded.model.klWeight, 0.01);
  fs.rmSync(dir, { recursive: true });
  tf.dispose([x, eps, z]);
  opt.dispose();
  loaded.model.dispose();
  ae.dispose();
});
