/**
 * kernel-lib/src/models/classifier/: the Fashion-MNIST classifier's shapes and errors, its gradients against
 * central finite differences on a tiny configuration, seeded initialisation, no leaks in a training step or in
 * scoring, the checkpoint round trip and a corrupt file, and imageScores on real images.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import {
  accuracy,
  classify,
  ClassifierTrainer,
  FashionClassifier,
  imageScores,
  loadClassifier,
  loadFashionMnist,
  Rng,
  tf,
  useBestBackend,
} from "kernel-lib";
import { checkGradients } from "./lib/gradients";

const TINY = { channels1: 2, channels2: 3, features: 4, numClasses: 3 };

test("shapes: features (B, F), logits (B, K); inputs of another size are a ShapeError naming the shape", async () => {
  await useBestBackend({ verbose: false });
  const model = new FashionClassifier(TINY, new Rng(0));
  const x = tf.randomUniform([5, 28, 28, 1], 0, 1, "float32", 1);
  tf.tidy(() => {
    assert.deepEqual(model.features(x).shape, [5, 4]);
    assert.deepEqual(model.apply(x.reshape([5, 784])).shape, [5, 3]);
  });
  assert.throws(() => model.apply(tf.zeros([2, 27, 28])), /784 pixels, got shape \[2, 27, 28\]/);
  x.dispose();
  model.dispose();
});

test("gradients of the loss match central finite differences (tiny model, float32)", async () => {
  await useBestBackend({ verbose: false });
  const model = new FashionClassifier(TINY, new Rng(1));
  const x = tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 2);
  const y = tf.tensor1d([0, 2, 1], "int32");
  // h = 1e-3: small enough that no ReLU of this random model changes side.
  checkGradients(model.namedWeights() as Record<string, tf.Variable>, () => model.loss(x, y), ["C/conv1/kernel", "C/conv2/kernel", "C/conv3/bias", "C/fc1/kernel", "C/fc2/bias"], 3, 1e-3, 1e-3);
  tf.dispose([x, y]);
  model.dispose();
});

test("the same seed gives the same weights; another seed other weights", async () => {
  await useBestBackend({ verbose: false });
  const [a, b, c] = [new FashionClassifier(TINY, new Rng(5)), new FashionClassifier(TINY, new Rng(5)), new FashionClassifier(TINY, new Rng(6))];
  const w = (m: FashionClassifier) => Array.from(m.namedWeights()["C/fc1/kernel"]!.dataSync());
  assert.deepEqual(w(a), w(b));
  assert.notDeepEqual(w(a), w(c));
  [a, b, c].forEach((m) => m.dispose());
});

test("a training step on the shipped subset lowers the loss and leaves the tensor count flat; scoring leaks nothing", async () => {
  await useBestBackend({ verbose: false });
  const data = loadFashionMnist({ split: "train", source: "subset" });
  const model = new FashionClassifier({ channels1: 8, channels2: 8, features: 16, numClasses: 10 }, new Rng(7));
  const trainer = new ClassifierTrainer(model, data.images.slice(0, 256), Array.from(data.labels.slice(0, 256)), { batchSize: 64, rng: new Rng(8), learningRate: 3e-3 });
  const losses: number[] = [];
  let before = 0;
  for (let i = 0; i < 24; i++) {
    if (i === 2) before = tf.memory().numTensors; // after Adam has made its slots
    const { loss } = trainer.step();
    losses.push(loss.dataSync()[0]!);
    loss.dispose();
  }
  assert.equal(tf.memory().numTensors, before, "a training step leaked tensors");
  const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
  assert.ok(mean(losses.slice(-4)) < mean(losses.slice(0, 4)), `loss did not fall: ${losses.map((l) => l.toFixed(3)).join(" ")}`);
  const probe = data.images.slice(0, 40);
  const n0 = tf.memory().numTensors;
  const predicted = classify(model, probe, 16);
  const acc = accuracy(model, probe, data.labels.slice(0, 40), 16);
  assert.equal(tf.memory().numTensors, n0);
  assert.equal(acc, predicted.filter((p, i) => p === data.labels[i]).length / 40);
  tf.dispose([data.images, probe]);
  trainer.dispose();
  model.dispose();
});

test("checkpoint round trip gives the same logits; a corrupt file and another kind are CheckpointErrors", async () => {
  await useBestBackend({ verbose: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-classifier-"));
  const file = path.join(dir, "c.ckpt");
  const model = new FashionClassifier(TINY, new Rng(9));
  await model.save(file, 12, { note: "test" });
  const x = tf.randomUniform([4, 784], 0, 1, "float32", 3);
  const loaded = loadClassifier(file);
  assert.equal(loaded.step, 12);
  assert.deepEqual(loaded.extra, { note: "test" });
  assert.deepEqual(Array.from(tf.tidy(() => loaded.model.apply(x)).dataSync()), Array.from(tf.tidy(() => model.apply(x)).dataSync()));
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 5] ^= 0xff;
  fs.writeFileSync(path.join(dir, "bad.ckpt"), bytes);
  const n0 = tf.memory().numTensors;
  assert.throws(() => loadClassifier(path.join(dir, "bad.ckpt")), { name: "CheckpointError" });
  assert.throws(() => loadClassifier(file, { ...TINY, features: 5 }), { name: "CheckpointError" });
  assert.equal(tf.memory().numTensors, n0, "failed loads leaked tensors");
  tf.dispose(x);
  loaded.model.dispose();
  model.dispose();
  fs.rmSync(dir, { recursive: true });
});

test("imageScores: real images against themselves score FID 0; two halves of the real set score far lower than real against noise", async () => {
  await useBestBackend({ verbose: false });
  const data = loadFashionMnist({ split: "test", source: "subset" });
  const model = new FashionClassifier({ channels1: 4, channels2: 8, features: 12, numClasses: 10 }, new Rng(10));
  const [a, b] = [data.images.slice(0, 100), data.images.slice(100, 100)];
  const noise = tf.randomUniform([100, 28, 28], 0, 1, "float32", 4);
  const kidOptions = { subsets: 2, subsetSize: 100 };
  const self = imageScores(model, a, a, kidOptions);
  const halves = imageScores(model, a, b, kidOptions);
  const other = imageScores(model, a, noise, kidOptions);
  assert.ok(self.fid <= 1e-9 * halves.fid, `FID(real, real) = ${self.fid}`);
  assert.ok(other.fid > 5 * halves.fid && other.kid > halves.kid, `halves: FID ${halves.fid}, KID ${halves.kid}; noise: FID ${other.fid}, KID ${other.kid}`);
  assert.ok(Math.abs(other.classShares.reduce((s, v) => s + v, 0) - 1) < 1e-12);
  assert.equal(other.count, 100);
  tf.dispose([data.images, a, b, noise]);
  model.dispose();
});
