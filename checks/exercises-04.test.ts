/**
 * The reference solutions of notebooks/04-vae.ipynb's exercises, run outside the notebook against numbers
 * computed independently (the library, or by hand). checks/exercises.test.ts checks every lesson's exercise
 * cells and solutions fit together; checks/notebooks.test.ts runs the lesson with them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as kernelLib from "kernel-lib";
import { solutionFunction as solution } from "./lib/exercises";
import { gaussianKl, loadFashionMnist, reparameterize, Rng, tf, Vae } from "kernel-lib";

const solutionFunction = (id: string) => solution("04-vae", id);

test("the solutions compute the right numbers outside the notebook", async () => {
  await kernelLib.useBestBackend({ verbose: false });
  const klTerm = solutionFunction("kl-term") as (m: tf.Tensor2D, lv: tf.Tensor2D) => tf.Tensor1D;
  const sampleLatent = solutionFunction("reparameterize") as (m: tf.Tensor, lv: tf.Tensor, e: tf.Tensor) => tf.Tensor;
  const negativeElbo = solutionFunction("elbo-one-image") as (model: Vae, x: tf.Tensor1D, eps: tf.Tensor2D) => number;
  const data = loadFashionMnist({ split: "test", source: "subset", limit: 2 });
  const model = new Vae({ inputDim: 784, hiddenDims: [32], latentDim: 4 }, new Rng(1));
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const mean = tf.randomNormal([3, 4], 0, 1, "float32", 1) as tf.Tensor2D;
    const logVar = tf.randomNormal([3, 4], 0, 1, "float32", 2) as tf.Tensor2D;
    kernelLib.checkClose(klTerm(mean, logVar), gaussianKl(mean, logVar), { rtol: 1e-5, name: "kl-term" });
    const eps = tf.randomNormal([3, 4], 0, 1, "float32", 3);
    kernelLib.checkClose(sampleLatent(mean, logVar, eps), reparameterize(mean, logVar, eps), { rtol: 1e-6, name: "reparameterize" });
  });
  const x = tf.tidy(() => data.images.slice(1, 1).reshape([784]) as tf.Tensor1D);
  const eps = tf.tidy(() => tf.randomNormal([1, 4], 0, 1, "float32", 4) as tf.Tensor2D);
  const expected = tf.tidy(() => model.lossPerImage(x.reshape([1, 784]), eps).loss.dataSync()[0]!);
  kernelLib.checkClose(negativeElbo(model, x, eps), expected, { rtol: 1e-5, name: "elbo-one-image" });
  tf.dispose([x, eps]);
  assert.equal(tf.memory().numTensors, before, "the solutions leak no tensors");
  model.dispose();
  data.images.dispose();
});
