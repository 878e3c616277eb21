/**
 * The checks of notebooks/04-vae.ipynb's exercises: the KL term, the reparameterisation, the negative ELBO of
 * one image, and the experiment with beta = 4. Expected values come from float64 arithmetic written here (the
 * closed-form KL, softplus cross-entropy); each check recognises the usual wrong answers (sigma for sigma^2,
 * the -1 or the 1/2 forgotten, fresh noise, the KL left out or subtracted, the mean of the code used without
 * sampling) and says what is wrong. checks/exercise-hints.test.ts shows each diagnosis.
 */
import * as tf from "@tensorflow/tfjs";
import { Exercise, expectValue, miss } from "../../notebook/exercise";
import { loadFashionMnist } from "../../data/fashion-mnist";
import { Rng } from "../../runtime/random";
import { Vae } from "../vae/vae";
import { VaeTrainer } from "../vae/trainer";
import { comparePrediction, requirePrediction } from "./predictions";

type Kl = { sigma?: boolean; noMinusOne?: boolean; half?: number; plusLogVar?: boolean; meanOverDims?: boolean };
const klLoops = (mean: number[][], logVar: number[][], how: Kl = {}) => mean.map((row, b) => {
  const terms = row.map((m, j) => {
    const lv = logVar[b]![j]!;
    return Math.exp(how.sigma ? lv / 2 : lv) + m * m - (how.noMinusOne ? 0 : 1) + (how.plusLogVar ? lv : -lv);
  });
  const total = terms.reduce((s, v) => s + v, 0) * (how.half ?? 0.5);
  return how.meanOverDims ? total / row.length : total;
});

export const klTermExercise: Exercise<(mean: tf.Tensor2D, logVar: tf.Tensor2D) => tf.Tensor1D> = {
  id: "kl-term",
  check: (klTerm) => {
    const mean = [[1, 0, -0.5], [0, 0, 0], [0.8, -1.5, 2], [0.3, 0.1, -0.2]];
    const logVar = [[Math.log(2), 0, -1], [0, 0, 0], [-0.7, 0.4, 1.2], [-2, 0.5, 0]];
    const got = tf.tidy(() => {
      const k = klTerm(tf.tensor2d(mean), tf.tensor2d(logVar));
      return { shape: k.shape, values: Array.from(k.dataSync()) };
    });
    if (got.shape.length !== 1) miss(`klTerm returned shape [${got.shape.join(", ")}]; it should return one KL per row, shape (B) = [4]: sum over the last axis.`);
    expectValue(got.values, klLoops(mean, logVar), {
      name: "klTerm on four rows (the second is N(0, I): KL 0)",
      rtol: 1e-5,
      atol: 1e-5,
      suspects: [
        { value: klLoops(mean, logVar, { sigma: true }), hints: ["You used sigma = exp(logVar / 2) where the formula has the variance sigma^2 = exp(logVar)."] },
        { value: klLoops(mean, logVar, { noMinusOne: true }), hints: ["Your KL of N(0, I) against itself is not 0: the -1 in each term is missing (the KL of a distribution with itself is 0)."] },
        { value: klLoops(mean, logVar, { half: 1 }), hints: ["Your values are twice the KL: the formula has a factor 1/2 in front of the sum."] },
        { value: klLoops(mean, logVar, { plusLogVar: true }), hints: ["The log-variance enters with a minus sign: ... - 1 - log sigma^2. A narrow q (small sigma) must cost more, not less."] },
        { value: klLoops(mean, logVar, { meanOverDims: true }), hints: ["You averaged over the code dimensions; the KL of a diagonal Gaussian is the sum of the per-dimension KLs."] },
      ],
    });
  },
  hints: ["KL = 1/2 sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2) with sigma_j^2 = exp(logVar_j).", "tf.sum(tf.exp(logVar).add(mean.square()).sub(1).sub(logVar), 1).mul(0.5)."],
};

export const reparameterizeExercise: Exercise<(mean: tf.Tensor, logVar: tf.Tensor, eps: tf.Tensor) => tf.Tensor> = {
  id: "reparameterize",
  check: (sampleLatent) => {
    const mean = [0.5, -1, 2];
    const logVar = [0, Math.log(4), -2];
    const eps = [2, -0.5, 1];
    const run = () => tf.tidy(() => Array.from(sampleLatent(tf.tensor1d(mean), tf.tensor1d(logVar), tf.tensor1d(eps)).dataSync()));
    const [z1, z2] = [run(), run()];
    if (z1.some((v, i) => Math.abs(v - z2[i]!) > 1e-6)) miss("Two calls with the same eps gave different z: you drew new noise. The noise is given as eps; using it is what makes z a function of mean and logVar that gradients can pass through.");
    const z = (f: (lv: number) => number) => mean.map((m, i) => m + f(logVar[i]!) * eps[i]!);
    expectValue(z1, z((lv) => Math.exp(lv / 2)), {
      name: "z for mean (0.5, -1, 2), variance (1, 4, e^-2), eps (2, -0.5, 1)",
      rtol: 1e-5,
      suspects: [
        { value: z((lv) => Math.exp(lv)), hints: ["You scaled eps by the variance exp(logVar); scale it by the standard deviation sigma = exp(logVar / 2)."] },
        { value: z((lv) => lv), hints: ["You scaled eps by logVar itself; sigma = exp(logVar / 2)."] },
        { value: z(() => 1), hints: ["Your z ignores the variance: z = mean + sigma * eps with sigma = exp(logVar / 2)."] },
      ],
    });
    let grad: number[];
    try {
      grad = tf.tidy(() => Array.from(tf.grad((lv: tf.Tensor) => tf.sum(sampleLatent(tf.tensor1d(mean), lv, tf.tensor1d(eps))))(tf.tensor1d(logVar)).dataSync()));
    } catch (e) {
      miss(`No gradient reaches logVar (${e instanceof Error ? e.message : String(e)}): build z from tensor operations only, without reading values out (dataSync, arraySync) and back in.`);
    }
    expectValue(grad, logVar.map((lv, i) => (Math.exp(lv / 2) * eps[i]!) / 2), { name: "d sum(z) / d logVar (by hand: sigma eps / 2)", rtol: 1e-4 });
  },
  hints: ["sigma = exp(logVar / 2); z = mean + sigma * eps, with the eps you are given.", "return mean.add(tf.exp(logVar.mul(0.5)).mul(eps)), inside tf.tidy."],
};

const softplus = (l: number) => Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l)));

export const elboOneImageExercise: Exercise<(model: Vae, x: tf.Tensor1D, eps: tf.Tensor2D) => number> = {
  id: "elbo-one-image",
  check: (negativeElbo) => {
    const model = new Vae({ inputDim: 784, hiddenDims: [32], latentDim: 4 }, new Rng(21));
    const r = new Rng(22);
    const pixels = Array.from({ length: 784 }, () => (r.uniform() < 0.3 ? 1 : r.uniform()));
    const noise = [[0.7, -1.2, 0.3, 1.9]];
    const x = tf.tensor1d(pixels);
    const eps = tf.tensor2d(noise);
    try {
      // The terms in float64 from the model's own encoder and decoder outputs.
      const { mean, logVar } = tf.tidy(() => {
        const q = model.encode(x.reshape([1, 784]));
        return { mean: Array.from(q.mean.dataSync()), logVar: Array.from(q.logVar.dataSync()) };
      });
      const decode = (z: number[]) => tf.tidy(() => Array.from(model.decodeLogits(tf.tensor2d([z])).dataSync()));
      const bce = (logits: number[]) => logits.reduce((s, l, i) => s + softplus(l) - pixels[i]! * l, 0);
      const z = mean.map((m, j) => m + Math.exp(logVar[j]! / 2) * noise[0]![j]!);
      const reconstruction = bce(decode(z));
      const kl = klLoops([mean], [logVar])[0]!;
      const got = negativeElbo(model, x, eps);
      if (typeof got !== "number") miss(`negativeElbo should return a number (nats), got ${typeof got}: read the scalar out with dataSync()[0].`);
      expectValue(got, reconstruction + kl, {
        name: "negative ELBO of a seeded image on a small seeded VAE",
        rtol: 1e-4,
        suspects: [
          { value: reconstruction, hints: [`Your number is the reconstruction term alone (${reconstruction.toFixed(2)} nats): the negative ELBO adds the KL term (${kl.toFixed(3)} nats) that keeps q(z|x) near the prior.`] },
          { value: reconstruction - kl, hints: ["You subtracted the KL. ELBO = E[log p(x|z)] - KL, so its negative, the loss, is reconstruction + KL."] },
          { value: -(reconstruction + kl), hints: ["You returned the ELBO itself (negative); the exercise asks for its negative, the loss in nats (positive)."] },
          { value: bce(decode(mean)) + kl, hints: ["You decoded the mean of q(z|x) instead of a sample: use z = mean + exp(logVar / 2) * eps with the eps given."] },
          { value: reconstruction / 784 + kl, hints: ["Your reconstruction term is averaged over pixels; sum it over the 784 pixels (the log-likelihood of the whole image)."] },
        ],
      });
    } finally {
      tf.dispose([x, eps]);
      model.dispose();
    }
  },
  hints: [
    "Steps: x.reshape([1, 784]); model.encode gives mean and logVar; z = mean + exp(logVar / 2) * eps; model.decodeLogits(z).",
    "bceWithLogits(logits, x1) plus gaussianKl(mean, logVar), both (1); read the sum with dataSync()[0], all inside tf.tidy.",
  ],
};

export type Trend = "falls" | "rises";

/** The learner's measurement: train the exercise's small VAE with this beta on `train`, return the terms on `test` (nats per image). */
export type BetaRunFn = (beta: number, train: tf.Tensor, test: tf.Tensor) => { kl: number; reconstruction: number };

export interface BetaExperiment {
  /** How the test KL and the test reconstruction term change from beta = 1 to beta = 4. */
  prediction: { kl: Trend; reconstruction: Trend } | undefined;
  measure: BetaRunFn;
}

/**
 * The exercise's recipe (the same seeds: 7 for the weights, 8 for the batches) trained by this code, not the
 * learner's, and evaluated in float64 with its own noise draw.
 */
export function betaRunIndependent(beta: number, train: tf.Tensor, test: tf.Tensor, seed = 7): { kl: number; reconstruction: number } {
  const model = new Vae({ inputDim: 784, hiddenDims: [64], latentDim: 8 }, new Rng(seed));
  model.klWeight = beta;
  const trainer = new VaeTrainer(model, train, { batchSize: 100, learningRate: 2e-3, rng: new Rng(seed + 1) });
  try {
    for (let i = 0; i < 3 * trainer.stepsPerEpoch; i++) tf.dispose(Object.values(trainer.step()));
    const x = tf.tidy(() => test.reshape([test.shape[0]!, 784]));
    const { mean, logVar, logits, pixels } = tf.tidy(() => {
      const q = model.encode(x);
      const z = tf.add(q.mean, tf.mul(tf.exp(tf.mul(q.logVar, 0.5)), tf.randomNormal(q.mean.shape, 0, 1, "float32", seed + 2)));
      return { mean: q.mean.arraySync(), logVar: q.logVar.arraySync(), logits: model.decodeLogits(z).arraySync(), pixels: x.arraySync() as number[][] };
    });
    x.dispose();
    const n = mean.length;
    const kl = klLoops(mean, logVar).reduce((s, v) => s + v, 0) / n;
    const reconstruction = logits.reduce((s, row, b) => s + row.reduce((a, l, i) => a + softplus(l) - pixels[b]![i]! * l, 0), 0) / n;
    return { kl, reconstruction };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

export const betaVaeExercise: Exercise<BetaExperiment> = {
  id: "beta-vae",
  check: ({ prediction, measure }) => {
    const predicted = requirePrediction(prediction, 'kl and reconstruction, each "falls" or "rises"');
    // The shipped subset: the first 2,000 training and 500 test images, whatever the lesson loaded.
    const trainSet = loadFashionMnist({ split: "train", source: "subset" }).images;
    const testSet = loadFashionMnist({ split: "test", source: "subset" }).images;
    try {
      const mine = [1, 4].map((b) => measure(b, trainSet, testSet));
      const ref = [1, 4].map((b) => betaRunIndependent(b, trainSet, testSet));
      const [m1, m4] = mine as [{ kl: number; reconstruction: number }, { kl: number; reconstruction: number }];
      const [r1, r4] = ref as [{ kl: number; reconstruction: number }, { kl: number; reconstruction: number }];
      if (m4.kl > 0.9 * m1.kl && r4.kl < 0.8 * r1.kl) miss(`Your KL hardly moved from beta = 1 to 4 (${m1.kl.toFixed(2)} -> ${m4.kl.toFixed(2)} nats) while an independent run of the same recipe gives ${r1.kl.toFixed(2)} -> ${r4.kl.toFixed(2)}: is beta reaching the training loss? Set model.klWeight = beta before training.`);
      if (Math.abs(m4.kl / (4 * r4.kl) - 1) < 0.25) miss(`Your KL at beta = 4 (${m4.kl.toFixed(2)}) is about 4 times an independent run's (${r4.kl.toFixed(2)}): report the KL itself, not beta * KL (the model's loss() gives the unweighted terms).`);
      if (m1.reconstruction < 5) miss(`Your reconstruction term (${m1.reconstruction.toFixed(3)}) looks per pixel; report nats per image, summed over the 784 pixels.`);
      for (const [i, b] of [1, 4].entries()) {
        expectValue(mine[i]!.kl, ref[i]!.kl, { name: `test KL at beta = ${b} (vs an independent run of the recipe)`, rtol: 0.1, atol: 0.2, otherwise: ["Train the exercise's recipe exactly (the sizes and seeds, 3 epochs, batches of 100, Adam 2e-3) and evaluate on the test images, not the training ones."] });
        expectValue(mine[i]!.reconstruction, ref[i]!.reconstruction, { name: `test reconstruction at beta = ${b} (vs an independent run of the recipe)`, rtol: 0.02, otherwise: ["Evaluate on the test images passed in, one sample per image, nats per image."] });
      }
      const change = (a: number, b: number): Trend => (b < a ? "falls" : "rises");
      const why = `The objective is reconstruction + beta KL: at beta = 4 each nat of code costs four times as much, so the encoder keeps less information about x (KL ${r1.kl.toFixed(1)} -> ${r4.kl.toFixed(1)} nats in the independent run) and the decoder reconstructs worse (${r1.reconstruction.toFixed(1)} -> ${r4.reconstruction.toFixed(1)}).`;
      comparePrediction("the test KL", predicted.kl, change(r1.kl, r4.kl), why);
      comparePrediction("the test reconstruction term", predicted.reconstruction, change(r1.reconstruction, r4.reconstruction), why);
      return `Test terms (nats per image), beta 1 -> 4: KL ${m1.kl.toFixed(2)} -> ${m4.kl.toFixed(2)}, reconstruction ${m1.reconstruction.toFixed(1)} -> ${m4.reconstruction.toFixed(1)}.`;
    } finally {
      tf.dispose([trainSet, testSet]);
    }
  },
  hints: [
    "new Vae({ inputDim: 784, hiddenDims: [64], latentDim: 8 }, new Rng(7)); model.klWeight = beta; new VaeTrainer(model, train, { batchSize: 100, learningRate: 2e-3, rng: new Rng(8) }).",
    "Run trainer.step() 3 * trainer.stepsPerEpoch times (dispose what it returns); then model.loss(test, 1) gives the unweighted kl and reconstruction of the test images.",
  ],
};
