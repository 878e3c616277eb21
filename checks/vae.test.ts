/**
 * The VAE (kernel-lib/src/models/vae/): the loss terms against hand computation, the closed-form KL against
 * Monte Carlo, the ELBO against log p(x) by quadrature, a stable cross-entropy at saturated pixels, no
 * leaks in a training step, training that lowers the loss, and checkpoints that round-trip.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  bceWithLogits,
  checkClose,
  CheckpointError,
  checkFlatTensors,
  checkNoLeak,
  gaussianKl,
  loadFashionMnist,
  loadVae,
  reparameterize,
  Rng,
  saveCheckpoint,
  tf,
  useBestBackend,
  Vae,
  VaeConfig,
  VaeTrainer,
} from "kernel-lib";

before(async () => {
  await useBestBackend({ verbose: false });
});

const softplus = (l: number) => Math.log1p(Math.exp(-Math.abs(l))) + Math.max(l, 0);

/** A tiny VAE with known weights: 3 pixels, no hidden layer, a 1-D latent. */
const tinyConfig: VaeConfig = { inputDim: 3, hiddenDims: [], latentDim: 1 };
const tinyWeights = {
  mean: { kernel: [[0.5], [-1], [0.25]], bias: [0.1] },
  logVar: { kernel: [[0.2], [0.3], [-0.4]], bias: [-0.5] },
  decoder: { kernel: [[1.5, -2, 0.5]], bias: [0.2, 0.1, -0.3] },
};
function tinyVae(): Vae {
  const w = tinyWeights;
  const weights = {
    "mean.kernel": tf.tensor2d(w.mean.kernel),
    "mean.bias": tf.tensor1d(w.mean.bias),
    "logVar.kernel": tf.tensor2d(w.logVar.kernel),
    "logVar.bias": tf.tensor1d(w.logVar.bias),
    "decoder.0.kernel": tf.tensor2d(w.decoder.kernel),
    "decoder.0.bias": tf.tensor1d(w.decoder.bias),
  };
  const model = new Vae(tinyConfig, new Rng(0), weights);
  tf.dispose(Object.values(weights));
  return model;
}

/** The tiny model's encoder and decoder written out in plain numbers. */
function tinyByHand(x: number[]) {
  const w = tinyWeights;
  const mean = x.reduce((s, xi, i) => s + xi * w.mean.kernel[i]![0]!, w.mean.bias[0]!);
  const logVar = x.reduce((s, xi, i) => s + xi * w.logVar.kernel[i]![0]!, w.logVar.bias[0]!);
  const logits = (z: number) => w.decoder.bias.map((b, i) => b + z * w.decoder.kernel[0]![i]!);
  // log p(x|z) for Bernoulli pixels with these logits.
  const logLik = (z: number) => logits(z).reduce((s, l, i) => s - (softplus(l) - x[i]! * l), 0);
  return { mean, logVar, logits, logLik };
}

describe("loss terms", () => {
  test("binary cross-entropy from logits, by hand", () => {
    const logits = [0, 2, -3];
    const x = [1, 0, 0.5];
    // sum_i softplus(l_i) - x_i l_i = ln 2 + ln(1 + e^2) + (ln(1 + e^-3) + 1.5)
    const expected = Math.log(2) + Math.log(1 + Math.exp(2)) + Math.log(1 + Math.exp(-3)) + 1.5;
    const got = tf.tidy(() => bceWithLogits(tf.tensor2d([logits]), tf.tensor2d([x])).arraySync());
    checkClose(got, [expected], { rtol: 1e-6, name: "BCE" });
  });

  test("no NaN or Infinity for pixels of exactly 0 and 1 at saturated logits, in value and gradient", () => {
    const logits = tf.tensor2d([[100, -100, 100, -100, 0, 88.8]]);
    const x = tf.tensor2d([[1, 0, 0, 1, 1, 0]]);
    const value = tf.tidy(() => bceWithLogits(logits, x).arraySync()[0]!);
    // The two confident right answers cost ~0; the two confident wrong ones cost 100 each; ln 2; 88.8.
    checkClose(value, 200 + Math.log(2) + 88.8, { rtol: 1e-6, name: "BCE at saturation" });
    const grad = tf.tidy(() => Array.from(tf.grad((l: tf.Tensor) => tf.sum(bceWithLogits(l, x)))(logits).dataSync()));
    assert.ok(grad.every(Number.isFinite), `gradient ${grad}`);
    // d/dl = sigmoid(l) - x.
    checkClose(grad, [0, 0, 1, -1, -0.5, 1], { atol: 1e-6, name: "BCE gradient" });
    tf.dispose([logits, x]);
  });

  test("KL to N(0, I) in closed form, by hand", () => {
    const got = tf.tidy(() => gaussianKl(tf.tensor2d([[0, 0], [1, -2]]), tf.tensor2d([[0, 0], [Math.log(2), Math.log(0.25)]])).arraySync());
    // Row 2: 1/2 [(2 + 1 - 1 - ln 2) + (0.25 + 4 - 1 - ln 0.25)].
    const row2 = 0.5 * (2 + 1 - 1 - Math.log(2) + (0.25 + 4 - 1 - Math.log(0.25)));
    checkClose(got, [0, row2], { rtol: 1e-6, name: "KL" });
  });

  test("KL closed form agrees with a Monte Carlo estimate E_q[log q(z) - log p(z)]", () => {
    const mean = [0.8, -1.5, 0.1];
    const logVar = [-0.7, 0.4, -2];
    const closed = tf.tidy(() => gaussianKl(tf.tensor2d([mean]), tf.tensor2d([logVar])).dataSync()[0]!);
    const r = new Rng(11);
    const n = 200000;
    let sum = 0;
    let sumSq = 0;
    for (let k = 0; k < n; k++) {
      let term = 0;
      for (let j = 0; j < mean.length; j++) {
        const eps = r.normal();
        const z = mean[j]! + Math.exp(logVar[j]! / 2) * eps;
        // log q(z) - log p(z); the 1/2 ln 2 pi terms cancel.
        term += -0.5 * logVar[j]! - 0.5 * eps * eps + 0.5 * z * z;
      }
      sum += term;
      sumSq += term * term;
    }
    const mc = sum / n;
    const stderr = Math.sqrt((sumSq / n - mc * mc) / n);
    assert.ok(Math.abs(mc - closed) < 4 * stderr, `Monte Carlo ${mc} +- ${stderr} vs closed form ${closed}`);
    assert.ok(stderr < 0.01, `standard error ${stderr} too large to test anything`);
  });

  test("reparameterisation: z = mean + exp(logVar / 2) eps, with the gradients of that formula", () => {
    const mean = tf.tensor1d([0.5, -1]);
    const logVar = tf.tensor1d([0, Math.log(4)]);
    const eps = tf.tensor1d([2, -0.5]);
    checkClose(tf.tidy(() => Array.from(reparameterize(mean, logVar, eps).dataSync())), [2.5, -2], { name: "z" });
    const [dMean, dLogVar] = tf.tidy(() => tf.grads((m: tf.Tensor, lv: tf.Tensor) => tf.sum(reparameterize(m, lv, eps)))([mean, logVar]).map((g) => Array.from(g.dataSync())));
    checkClose(dMean!, [1, 1], { name: "dz/dmean" });
    // dz/dlogVar = exp(logVar / 2) eps / 2.
    checkClose(dLogVar!, [1, -0.5], { name: "dz/dlogVar" });
    tf.dispose([mean, logVar, eps]);
  });

  test("the model's per-image loss equals the tiny case computed by hand", () => {
    const model = tinyVae();
    const xs = [[0, 1, 0.5], [1, 1, 0]];
    const eps = [0.3, -1.2];
    const got = tf.tidy(() => {
      const l = model.lossPerImage(tf.tensor2d(xs), tf.tensor2d(eps.map((e) => [e])));
      return { loss: l.loss.arraySync(), reconstruction: l.reconstruction.arraySync(), kl: l.kl.arraySync() };
    });
    xs.forEach((x, b) => {
      const h = tinyByHand(x);
      const z = h.mean + Math.exp(h.logVar / 2) * eps[b]!;
      const rec = -h.logLik(z);
      const kl = 0.5 * (Math.exp(h.logVar) + h.mean * h.mean - 1 - h.logVar);
      checkClose(got.reconstruction[b]!, rec, { rtol: 1e-5, name: `reconstruction[${b}]` });
      checkClose(got.kl[b]!, kl, { rtol: 1e-5, name: `kl[${b}]` });
      checkClose(got.loss[b]!, rec + kl, { rtol: 1e-5, name: `loss[${b}]` });
    });
    model.dispose();
  });

  test("the ELBO is below log p(x), and the gap is KL(q(z|x) || p(z|x)) (1-D quadrature)", () => {
    const model = tinyVae();
    const x = [0, 1, 0.5];
    const h = tinyByHand(x);
    // Quadrature on a fine grid over z: p(x) = integral p(x|z) p(z) dz, and the posterior p(z|x).
    const dz = 1e-3;
    const zs = Array.from({ length: 20001 }, (_, i) => -10 + i * dz);
    const logJoint = zs.map((z) => h.logLik(z) - 0.5 * z * z - 0.5 * Math.log(2 * Math.PI));
    const top = Math.max(...logJoint);
    const logPx = top + Math.log(logJoint.reduce((s, v) => s + Math.exp(v - top), 0) * dz);
    const sd = Math.exp(h.logVar / 2);
    const logQ = (z: number) => -0.5 * ((z - h.mean) / sd) ** 2 - Math.log(sd) - 0.5 * Math.log(2 * Math.PI);
    // E_q[log q(z) - log p(z|x)] with log p(z|x) = log p(x, z) - log p(x).
    const klPost = zs.reduce((s, z, i) => s + Math.exp(logQ(z)) * (logQ(z) - (logJoint[i]! - logPx)) * dz, 0);
    // The exact ELBO: E_q[log p(x|z)] by quadrature minus the closed-form KL; the model's one-sample
    // estimate averaged over many eps must agree with it.
    const expLogLik = zs.reduce((s, z) => s + Math.exp(logQ(z)) * h.logLik(z) * dz, 0);
    const kl = tf.tidy(() => model.lossPerImage(tf.tensor2d([x]), tf.zeros([1, 1])).kl.dataSync()[0]!);
    const elbo = expLogLik - kl;
    assert.ok(elbo < logPx, `ELBO ${elbo} should be below log p(x) ${logPx}`);
    checkClose(elbo, logPx - klPost, { atol: 1e-6, name: "ELBO = log p(x) - KL(q || posterior)" });
    const n = 20000;
    const mc = tf.tidy(() => -tf.mean(model.lossPerImage(tf.tile(tf.tensor2d([x]), [n, 1]), 7).loss).dataSync()[0]!);
    checkClose(mc, elbo, { atol: 0.02, name: "Monte Carlo ELBO" });
    model.dispose();
  });
});

describe("model", () => {
  test("shapes, parameter count, and the same seed gives the same weights", () => {
    const a = new Vae({ inputDim: 784, hiddenDims: [512, 256], latentDim: 20 }, new Rng(3));
    const b = new Vae({ inputDim: 784, hiddenDims: [512, 256], latentDim: 20 }, new Rng(3));
    // Encoder 784-512-256 with two 20-wide heads; decoder 20-256-512-784.
    const expected = 784 * 512 + 512 + 512 * 256 + 256 + 2 * (256 * 20 + 20) + 20 * 256 + 256 + 256 * 512 + 512 + 512 * 784 + 784;
    assert.equal(a.parameterCount(), expected);
    tf.tidy(() => {
      const x = tf.randomUniform([5, 28, 28], 0, 1, "float32", 1);
      const { mean, logVar } = a.encode(x);
      assert.deepEqual(mean.shape, [5, 20]);
      assert.deepEqual(logVar.shape, [5, 20]);
      assert.deepEqual(a.decode(mean).shape, [5, 784]);
      assert.deepEqual(a.sample(3, 1).shape, [3, 784]);
      assert.deepEqual(a.interpolate(x.slice(0, 1), x.slice(1, 1), 7).shape, [7, 784]);
      checkClose(a.weights()["decoder.2.kernel"]!, b.weights()["decoder.2.kernel"]!, { rtol: 0, atol: 0, name: "same seed" });
    });
    a.dispose();
    b.dispose();
  });

  test("interpolation starts and ends at the two reconstructions", () => {
    const m = new Vae({ inputDim: 784, hiddenDims: [32], latentDim: 4 }, new Rng(5));
    tf.tidy(() => {
      const x = tf.randomUniform([2, 784], 0, 1, "float32", 2);
      const path = m.interpolate(x.slice(0, 1), x.slice(1, 1), 5);
      const rec = m.reconstruct(x);
      checkClose(path.slice(0, 1), rec.slice(0, 1), { atol: 1e-6, name: "start" });
      checkClose(path.slice(4, 1), rec.slice(1, 1), { atol: 1e-6, name: "end" });
    });
    m.dispose();
  });

  test("a training step, evaluation, sampling and reconstruction leak no tensors", async () => {
    const data = loadFashionMnist({ split: "train", source: "subset", limit: 256 });
    const model = new Vae({ inputDim: 784, hiddenDims: [64, 32], latentDim: 2 }, new Rng(1));
    const trainer = new VaeTrainer(model, data.images, { batchSize: 32, rng: new Rng(2) });
    await checkFlatTensors(() => tf.dispose(Object.values(trainer.step())), 4, "VaeTrainer.step");
    await checkNoLeak(() => tf.dispose(Object.values(trainer.step())), "a training step after warm-up");
    await checkNoLeak(() => model.evaluate(data.images, { batchSize: 100 }), "evaluate");
    const [a, b, ab] = [data.images.slice(0, 1), data.images.slice(1, 1), data.images.slice(0, 2)];
    await checkNoLeak(() => tf.dispose([model.sample(4, 1), model.reconstruct(ab), model.interpolate(a, b, 3)]), "sample/reconstruct/interpolate");
    tf.dispose([a, b, ab]);
    trainer.dispose();
    model.dispose();
    data.images.dispose();
  });

  test("evaluation is deterministic for a seed and its terms add up", async () => {
    const data = loadFashionMnist({ split: "test", source: "subset", limit: 120 });
    const model = new Vae({ inputDim: 784, hiddenDims: [64], latentDim: 3 }, new Rng(4));
    const a = await model.evaluate(data.images, { batchSize: 50, seed: 9 });
    const b = await model.evaluate(data.images, { batchSize: 50, seed: 9 });
    assert.deepEqual(a, b);
    checkClose(a.loss, a.reconstruction + a.kl, { rtol: 1e-5, name: "loss = reconstruction + kl" });
    // Batching must not change the mean (the noise differs, the KL does not).
    const c = await model.evaluate(data.images, { batchSize: 120, seed: 9 });
    checkClose(c.kl, a.kl, { rtol: 1e-5, name: "KL over different batchings" });
    model.dispose();
    data.images.dispose();
  });

  test("training lowers the negative ELBO on real images", async () => {
    const data = loadFashionMnist({ split: "train", source: "subset", limit: 512 });
    const model = new Vae({ inputDim: 784, hiddenDims: [128], latentDim: 8 }, new Rng(6));
    const before = await model.evaluate(data.images, { seed: 3 });
    const trainer = new VaeTrainer(model, data.images, { batchSize: 64, learningRate: 2e-3, rng: new Rng(7) });
    for (let i = 0; i < 60; i++) tf.dispose(Object.values(trainer.step()));
    const after = await model.evaluate(data.images, { seed: 3 });
    // An untrained decoder outputs ~0.5 everywhere (784 ln 2 = 543 nats); 60 steps must get well below that.
    assert.ok(before.loss > 500, `untrained loss ${before.loss}`);
    assert.ok(after.loss < 0.75 * before.loss, `loss went from ${before.loss} to ${after.loss}`);
    trainer.dispose();
    model.dispose();
    data.images.dispose();
  });
});

describe("checkpoints", () => {
  test("save and load round-trip: same weights, same outputs, same step and extra", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vae-ckpt-"));
    const file = path.join(dir, "vae.ckpt");
    const config: VaeConfig = { inputDim: 784, hiddenDims: [48, 24], latentDim: 5 };
    const model = new Vae(config, new Rng(8));
    await model.save(file, 123, { note: "round trip" });
    const loaded = loadVae(file, config);
    assert.equal(loaded.step, 123);
    assert.deepEqual(loaded.extra, { note: "round trip" });
    assert.deepEqual(loaded.model.config, config);
    tf.tidy(() => {
      const z = tf.randomNormal([4, 5], 0, 1, "float32", 3);
      checkClose(loaded.model.decode(z), model.decode(z), { rtol: 0, atol: 0, name: "decode after reload" });
      const x = tf.randomUniform([4, 784], 0, 1, "float32", 4);
      checkClose(loaded.model.lossPerImage(x, 5).loss, model.lossPerImage(x, 5).loss, { rtol: 0, atol: 0, name: "loss after reload" });
    });
    // Another architecture, another kind, a damaged file: all refused with a CheckpointError.
    assert.throws(() => loadVae(file, { ...config, latentDim: 6 }), (e: unknown) => e instanceof CheckpointError && /latentDim/.test(e.message));
    const other = path.join(dir, "other.ckpt");
    await saveCheckpoint(other, { kind: "char-gpt", config: {}, step: 0, weights: {} });
    assert.throws(() => loadVae(other), CheckpointError);
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(path.join(dir, "cut.ckpt"), bytes.subarray(0, bytes.length - 100));
    assert.throws(() => loadVae(path.join(dir, "cut.ckpt")), CheckpointError);
    model.dispose();
    loaded.model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe("shipped checkpoints", () => {
  test("notebooks/checkpoints/vae-latent{20,2}.ckpt load and reproduce the test numbers they record", async () => {
    const test500 = loadFashionMnist({ split: "test", source: "subset" });
    for (const latentDim of [20, 2]) {
      const file = path.join(__dirname, "..", "..", "notebooks", "checkpoints", `vae-latent${latentDim}.ckpt`);
      const { model, extra } = loadVae(file, { inputDim: 784, hiddenDims: [512, 256], latentDim });
      const record = extra as { evalSeed: number; test500: { loss: number; reconstruction: number; kl: number }; data: { source: string } };
      const here = await model.evaluate(test500.images, { seed: record.evalSeed });
      // Backends round differently (the native matmul, wasm): a few hundredths of a nat.
      checkClose(here.loss, record.test500.loss, { atol: 0.1, name: `latent ${latentDim}: test negative ELBO vs the record` });
      checkClose(here.kl, record.test500.kl, { atol: 0.05, name: `latent ${latentDim}: KL term vs the record` });
      assert.ok(["subset", "full"].includes(record.data.source));
      model.dispose();
    }
    test500.images.dispose();
  });
});
