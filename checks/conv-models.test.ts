/**
 * The convolutional image models: the DCGAN pair (kernel-lib/src/models/gan/dcgan.ts) and the convolutional VAE
 * (kernel-lib/src/models/vae/conv-vae.ts, on the shared vae-base.ts): output shapes, parameter counts against
 * the layer-by-layer formula, gradients against central finite differences on tiny configurations, seeded
 * initialisation, no leaks in a training step, the VAE's loss against a hand computation of its two terms, and
 * the checkpoint round trip with a corrupt file.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { checkDirectional, checkGradients } from "./lib/gradients";
import { batchNorm2d, ConvVae, createFashionGan, DcganDiscriminator, DcganGenerator, loadConvVae, Rng, tf, useBestBackend, VaeTrainer } from "kernel-lib";

test("DCGAN: shapes, parameter counts by the layer formula, seeded weights", async () => {
  await useBestBackend({ verbose: false });
  const G = new DcganGenerator({ rng: new Rng(0) });
  const D = new DcganDiscriminator({ rng: new Rng(1) });
  const z = tf.randomNormal([3, 64], 0, 1, "float32", 2);
  tf.tidy(() => {
    const x = G.apply(z);
    assert.deepEqual(x.shape, [3, 28, 28, 1]);
    const v = x.dataSync();
    assert.ok(v.every((p) => p >= -1 && p <= 1), "tanh outputs lie in [-1, 1]");
    assert.deepEqual(D.apply(x).shape, [3, 1]);
  });
  // G: dense 64 -> 7·7·128, transposed convs 4x4 128 -> 64 and 64 -> 1, batch norm's 2·64.
  assert.equal(G.parameterCount(), 64 * 6272 + 6272 + 16 * 128 * 64 + 64 + 2 * 64 + 16 * 64 + 1);
  // D: convs 4x4 1 -> 64 and 64 -> 128, dense 7·7·128 -> 1.
  assert.equal(D.parameterCount(), 16 * 64 + 64 + 16 * 64 * 128 + 128 + 6272 + 1);
  const G2 = new DcganGenerator({ rng: new Rng(0) });
  assert.deepEqual(Array.from(G2.namedWeights()["G/up1/kernel"]!.dataSync()), Array.from(G.namedWeights()["G/up1/kernel"]!.dataSync()));
  [G, G2, D].forEach((n) => n.dispose());
  z.dispose();
});

test("batchNorm2d: each channel of the output has mean beta and standard deviation |gamma| over (B, H, W)", async () => {
  await useBestBackend({ verbose: false });
  const x = tf.randomNormal([4, 5, 5, 2], 3, 2, "float32", 3) as tf.Tensor4D;
  const y = batchNorm2d(x, tf.tensor1d([2, 0.5]), tf.tensor1d([1, -1]));
  const v = y.arraySync() as number[][][][];
  for (const [c, gamma, beta] of [[0, 2, 1], [1, 0.5, -1]] as const) {
    const vals = v.flat(2).map((p) => p[c]!);
    const mean = vals.reduce((s, a) => s + a, 0) / vals.length;
    const sd = Math.sqrt(vals.reduce((s, a) => s + (a - mean) ** 2, 0) / vals.length);
    assert.ok(Math.abs(mean - beta) < 1e-4 && Math.abs(sd - gamma) < 1e-3 * gamma, `channel ${c}: mean ${mean}, sd ${sd}`);
  }
  tf.dispose([x, y]);
});

test("DCGAN gradients match finite differences (tiny: 2 channels, latent 3)", async () => {
  await useBestBackend({ verbose: false });
  const G = new DcganGenerator({ latentDim: 3, channels: 2, rng: new Rng(4) });
  const D = new DcganDiscriminator({ channels: 2, rng: new Rng(5) });
  const z = tf.randomNormal([4, 3], 0, 1, "float32", 6);
  const loss = () => tf.mean(tf.softplus(tf.neg(D.apply(G.apply(z))))) as tf.Scalar;
  checkGradients(G.namedWeights() as Record<string, tf.Variable>, loss, ["G/fc/kernel", "G/up1/kernel", "G/bn/gamma", "G/up2/bias"], 7);
  checkGradients(D.namedWeights() as Record<string, tf.Variable>, loss, ["D/conv1/kernel", "D/conv2/kernel", "D/fc/kernel"], 8);
  [G, D].forEach((n) => n.dispose());
  z.dispose();
});

test("a DCGAN training step (createFashionGan, architecture dcgan) leaves the tensor count flat", async () => {
  await useBestBackend({ verbose: false });
  const gan = createFashionGan({ architecture: "dcgan", channels: 4, batch: 8 }, new Rng(9));
  const real = tf.randomUniform([8, 28, 28, 1], -1, 1, "float32", 10);
  let before = 0;
  for (let i = 0; i < 4; i++) {
    if (i === 1) before = tf.memory().numTensors;
    const { d, g } = gan.step(real);
    assert.ok(Number.isFinite(d.dataSync()[0]!) && Number.isFinite(g.dataSync()[0]!));
    tf.dispose([d, g]);
  }
  assert.equal(tf.memory().numTensors, before);
  gan.dispose();
  real.dispose();
});

test("ConvVae: shapes, parameter count by the layer formula, loss equal to BCE + KL computed by hand", async () => {
  await useBestBackend({ verbose: false });
  const vae = new ConvVae(undefined, new Rng(11));
  assert.equal(vae.parameterCount(), 9 * 32 + 32 + 9 * 32 * 64 + 64 + 3136 * 32 + 32 + 16 * 3136 + 3136 + 16 * 64 * 32 + 32 + 16 * 32 + 1);
  const x = tf.randomUniform([2, 28, 28], 0, 1, "float32", 12);
  const eps = tf.randomNormal([2, 16], 0, 1, "float32", 13);
  const { mean, logVar } = vae.encode(x);
  assert.deepEqual([mean.shape, logVar.shape], [[2, 16], [2, 16]]);
  const z = tf.tidy(() => tf.add(mean, tf.mul(tf.exp(tf.mul(logVar, 0.5)), eps)));
  const logits = vae.decodeLogits(z);
  assert.deepEqual(logits.shape, [2, 784]);
  const [lv, xv, m, s] = [logits.arraySync() as number[][], x.reshape([2, 784]).arraySync() as number[][], mean.arraySync() as number[][], logVar.arraySync() as number[][]];
  const per = vae.lossPerImage(x, eps);
  const got = per.loss.arraySync() as number[];
  for (let b = 0; b < 2; b++) {
    // -log Bernoulli(x | sigmoid(l)) = softplus(l) - x l, summed; KL = ½ Σ (e^s + m² - 1 - s).
    const bce = lv[b]!.reduce((acc, l, i) => acc + Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l))) - xv[b]![i]! * l, 0);
    const kl = 0.5 * m[b]!.reduce((acc, mu, i) => acc + Math.exp(s[b]![i]!) + mu * mu - 1 - s[b]![i]!, 0);
    assert.ok(Math.abs(got[b]! - (bce + kl)) < 1e-3 * (bce + kl), `image ${b}: loss ${got[b]}, by hand ${bce + kl}`);
  }
  tf.dispose([x, eps, mean, logVar, z, logits, per.loss, per.reconstruction, per.kl]);
  vae.dispose();
});

test("ConvVae gradients match finite differences along random directions (tiny: latent 2, channels 2 and 3)", async () => {
  await useBestBackend({ verbose: false });
  const vae = new ConvVae({ latentDim: 2, channels: [2, 3] }, new Rng(14));
  const x = tf.randomUniform([2, 784], 0, 1, "float32", 15);
  const eps = tf.randomNormal([2, 2], 0, 1, "float32", 16);
  checkDirectional(Object.values(vae.weights()), () => vae.loss(x, eps).loss, 17);
  tf.dispose([x, eps]);
  vae.dispose();
});

test("ConvVae trains with VaeTrainer without leaks; its checkpoint round trip gives the same logits; a corrupt file is a CheckpointError", async () => {
  await useBestBackend({ verbose: false });
  const vae = new ConvVae({ latentDim: 4, channels: [4, 8] }, new Rng(18));
  const images = tf.randomUniform([32, 28, 28], 0, 1, "float32", 19);
  const trainer = new VaeTrainer(vae, images, { batchSize: 8, rng: new Rng(20) });
  let before = 0;
  for (let i = 0; i < 4; i++) {
    if (i === 1) before = tf.memory().numTensors;
    tf.dispose(Object.values(trainer.step()));
  }
  assert.equal(tf.memory().numTensors, before);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-convvae-"));
  const file = path.join(dir, "v.ckpt");
  await vae.save(file, 4);
  const loaded = loadConvVae(file);
  const z = tf.randomNormal([3, 4], 0, 1, "float32", 21);
  assert.deepEqual(Array.from(loaded.model.decodeLogits(z).dataSync()), Array.from(vae.decodeLogits(z).dataSync()));
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 3] ^= 0x55;
  fs.writeFileSync(file, bytes);
  assert.throws(() => loadConvVae(file), { name: "CheckpointError" });
  fs.rmSync(dir, { recursive: true });
  tf.dispose([images, z]);
  trainer.dispose();
  loaded.model.dispose();
  vae.dispose();
});
