/**
 * kernel-lib/src/models/scoring/: the six image models behind one interface (clear errors for a wrong name or a
 * missing file, seeded draws, shapes and range, no leaks), the score of a model that draws real images against one
 * that draws noise, the Markdown row by hand, and the table file (round trip, corrupt files named, atomic write).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import {
  classifierFeatures,
  drawImages,
  ImageModel,
  imageScoreMarkdown,
  IMAGE_MODEL_NAMES,
  loadClassifier,
  loadFashionMnist,
  loadImageModel,
  readImageScores,
  realDataFloor,
  scoreImageModel,
  tf,
  useBestBackend,
  writeImageScores,
} from "kernel-lib";
import { repoRoot } from "../kernel/kernelspec";

const CKPT = path.join(repoRoot(), "notebooks", "checkpoints");

test("loadImageModel names a wrong model and a missing checkpoint", () => {
  assert.throws(() => loadImageModel("vae-latent3", CKPT), /no image model "vae-latent3"; the models are vae-latent20/);
  assert.throws(() => loadImageModel("gan-dcgan", os.tmpdir()), /gan-dcgan\.ckpt does not exist/);
  assert.equal(IMAGE_MODEL_NAMES.length, 6);
});

test("drawImages: (n, 28, 28) in [0, 1], the same seed gives the same images, another seed others, no leaks", async () => {
  await useBestBackend({ verbose: false });
  for (const name of ["vae-latent20", "gan-fashion"]) {
    const model = loadImageModel(name, CKPT);
    const before = tf.memory().numTensors;
    const a = drawImages(model, 7, { batch: 3, seed: 5 });
    const b = drawImages(model, 7, { batch: 3, seed: 5 });
    const c = drawImages(model, 7, { batch: 3, seed: 6 });
    assert.deepEqual(a.shape, [7, 28, 28]);
    const [lo, hi, same, other] = tf.tidy(() => [a.min(), a.max(), tf.abs(tf.sub(a, b)).max(), tf.abs(tf.sub(a, c)).max()].map((t) => t.arraySync() as number));
    assert.ok(lo! >= 0 && hi! <= 1, `${name}: values outside [0, 1]`);
    assert.equal(same, 0, `${name}: same seed, other images`);
    assert.ok(other! > 0.01, `${name}: another seed, same images`);
    tf.dispose([a, b, c]);
    assert.equal(tf.memory().numTensors, before, `${name}: drawImages leaked`);
    assert.throws(() => drawImages(model, 0), /positive integer, got 0/);
    model.dispose();
  }
});

test("scores: a 'model' that draws held-out real images is near the floor; one that draws noise is far above it", async () => {
  await useBestBackend({ verbose: false });
  const { model: classifier } = loadClassifier(path.join(CKPT, "fashion-classifier.ckpt"));
  const test = loadFashionMnist({ split: "test", source: "subset" });
  const train = loadFashionMnist({ split: "train", source: "subset" });
  const real = classifierFeatures(classifier, test.images);
  const fromSet = (images: tf.Tensor3D): ImageModel => ({
    name: "vae-latent20",
    label: "real",
    draw: (n, seed) => tf.tidy(() => tf.gather(images, tf.randomUniform([n], 0, images.shape[0], "int32", seed))) as tf.Tensor3D,
    dispose: () => undefined,
  });
  const noise: ImageModel = { ...fromSet(train.images), label: "noise", draw: (n, seed) => tf.randomUniform([n, 28, 28], 0, 1, "float32", seed) };
  const floor = realDataFloor(real);
  const good = scoreImageModel(fromSet(train.images), classifier, real, 250);
  const bad = scoreImageModel(noise, classifier, real, 250);
  assert.equal(floor.samples, 250);
  assert.ok(good.fid < 3 * floor.fid + 10, `real images scored FID ${good.fid}, floor ${floor.fid}`);
  assert.ok(bad.fid > 10 * good.fid, `noise FID ${bad.fid} not far above real ${good.fid}`);
  assert.ok(bad.kid > good.kid + 5 * bad.kidSE, `noise KID ${bad.kid} not above real ${good.kid}`);
  assert.equal(good.classShares.length, 10);
  assert.ok(Math.abs(good.classShares.reduce((s, x) => s + x, 0) - 1) < 1e-9);
  assert.throws(() => realDataFloor({ rows: 3, cols: real.cols, data: real.data.subarray(0, 3 * real.cols) }), /3 real images are too few/);
  tf.dispose([test.images, train.images]);
  classifier.dispose();
});

test("imageScoreMarkdown: a row by hand, with the smallest class share named", () => {
  const shares = [0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.1, 0.1, 0.1, 0.05];
  const md = imageScoreMarkdown({ testImages: 10, rows: [{ model: "gan-dcgan", label: "DCGAN", samples: 10000, fid: 99.444, kid: 0.12345, kidSE: 0.00061, classShares: shares, samplingSeconds: 3.21 }] });
  assert.equal(md.split("\n")[2], "| DCGAN | 10,000 | 99.44 | 0.1235 ± 0.0006 | 5.0% (Sandal) | 3.2 s |");
});

test("the table file: round trip, atomic write, and corrupt or wrong files named", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scores-"));
  const file = path.join(dir, "t.json");
  const table = { testImages: 500, rows: [{ model: "floor", label: "floor", samples: 250, fid: 1.5, kid: 0, kidSE: 0.1, classShares: [] }] };
  writeImageScores(file, table);
  assert.deepEqual(readImageScores(file), table);
  assert.deepEqual(fs.readdirSync(dir), ["t.json"]);
  fs.writeFileSync(file, "{ not json");
  assert.throws(() => readImageScores(file), /t\.json is not JSON/);
  fs.writeFileSync(file, JSON.stringify({ testImages: 500, rows: [{ model: "x" }] }));
  assert.throws(() => readImageScores(file), /is not an image-score table/);
  assert.throws(() => readImageScores(path.join(dir, "none.json")), /none\.json does not exist/);
  fs.rmSync(dir, { recursive: true });
});
