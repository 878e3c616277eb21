/**
 * The checks of notebooks/07-latent-diffusion.ipynb's exercises: classifier-free guidance's noise estimate, the
 * latent scale factor, and the experiment that pushes guidance to w = 12. Expected values come from arithmetic
 * written here (hand values, a float64 standard deviation) and from the library's sampler read back; each check
 * recognises the usual wrong answers (the two estimates swapped, Stable Diffusion's guidance scale taken for
 * 1 + w, the unconditional estimate added, the variance or the standard deviation for its reciprocal, the mean
 * not subtracted, n - 1 for n) and says what is wrong. checks/exercise-hints-3.test.ts shows each diagnosis.
 */
import * as tf from "@tensorflow/tfjs";
import { Exercise, expectValue, miss } from "../../notebook/exercise";
import { byMode } from "../../runtime/mode";
import * as path from "node:path";
import { FashionClassifier, loadClassifier } from "../classifier/fashion-classifier";
import { ddimSample } from "../diffusion/samplers";
import { latentScale } from "../latent/autoencoder";
import { withinClassVariance } from "../latent/evaluate";
import { classLabels, encodeLatents, sampleLatentImages } from "../latent/pipeline";
import { LatentDiffusionPair } from "../latent/records";
import { classifierFeatures, classify } from "../classifier/evaluate";
import { comparePrediction } from "./predictions";

/** What the guided-eps check gets: the learner's function and the shipped pair (its U-Net and schedule). */
export interface GuidedEpsAnswer {
  combine: (epsCond: tf.Tensor, epsNull: tf.Tensor, w: number) => tf.Tensor;
  pair: LatentDiffusionPair;
}

export const guidedEpsExercise: Exercise<GuidedEpsAnswer> = {
  id: "guided-eps",
  check: ({ combine, pair }) => {
    // By hand: w = 3 gives 4 eps(z, y) - 3 eps(z, none) = 4 (1, -2) - 3 (0.5, 1) = (2.5, -11).
    const [cond, none] = [[1, -2], [0.5, 1]];
    const at = (c: number, n: number) => cond.map((v, i) => c * v + n * none[i]!);
    const got = tf.tidy(() => Array.from(combine(tf.tensor1d(cond), tf.tensor1d(none), 3).dataSync()));
    expectValue(got, at(4, -3), {
      name: "guidedEps((1, -2), (0.5, 1), 3), by hand (2.5, -11)",
      rtol: 1e-5,
      suspects: [
        { value: at(-3, 4), hints: ["The two estimates are swapped: guidance pushes away from the unconditional estimate, towards the conditional one, so eps(z, y) gets 1 + w and eps(z, none) gets -w."] },
        { value: at(3, -2), hints: ["You used w as Stable Diffusion's guidance scale, eps_none + w (eps_cond - eps_none). In this lesson the scale is 1 + w: w = 0 is plain conditional sampling, so the weights are 1 + w and -w."] },
        { value: at(4, 3), hints: ["The unconditional estimate is subtracted, not added: (1 + w) eps(z, y) - w eps(z, none); the weights sum to 1."] },
        { value: at(3, -3), hints: ["Your weights are w and -w; they must sum to 1, so that w = 0 gives the conditional estimate itself: 1 + w and -w."] },
      ],
    });
    const w0 = tf.tidy(() => Array.from(combine(tf.tensor1d([0.3]), tf.tensor1d([9]), 0).dataSync()));
    expectValue(w0, [0.3], { name: "w = 0: the conditional estimate itself", rtol: 1e-6 });
    // Against the library's sampler: the noise one guided DDIM step from T to 0 used, read back as in section 2.
    const { model, schedule } = pair;
    const err = tf.tidy(() => {
      const xT = tf.randomNormal([3, model.config.dataDim], 0, 1, "float32", 71) as tf.Tensor2D;
      const labels = [2, 7, 9];
      const { samples } = ddimSample(model, schedule, { n: 3, seed: 1, labels, guidance: 5, steps: 1, xT });
      const ab = schedule.alphaBars[schedule.T]!;
      const used = tf.div(tf.sub(xT, tf.mul(Math.sqrt(ab), samples)), Math.sqrt(1 - ab));
      const mine = combine(model.predictNoise(xT, schedule.T, labels), model.predictNoise(xT, schedule.T, [10, 10, 10]), 5);
      return { mine: Array.from(mine.dataSync()), used: Array.from(used.dataSync()) };
    });
    expectValue(err.mine, err.used, { name: "guidedEps of two network calls vs the noise the sampler used at w = 5", rtol: 1e-3, atol: 6e-3 });
  },
  hints: ["(1 + w) epsCond - w epsNull: w = 0 is epsCond itself, and the weights sum to 1.", "tf.tidy(() => tf.sub(tf.mul(1 + w, epsCond), tf.mul(w, epsNull)))."],
};

/** What the scale-factor check gets: the learner's function, the shipped pair (its autoencoder) and test images. */
export interface ScaleFactorAnswer {
  measure: (latents: tf.Tensor) => number;
  pair: LatentDiffusionPair;
  /** Images whose encoder means the function is tried on (the first 100 are used). */
  images: tf.Tensor;
}

const stdOf = (xs: number[], ddof = 0, centred = true) => {
  const mean = centred ? xs.reduce((s, v) => s + v, 0) / xs.length : 0;
  return Math.sqrt(xs.reduce((s, v) => s + (v - mean) ** 2, 0) / (xs.length - ddof));
};

export const scaleFactorExercise: Exercise<ScaleFactorAnswer> = {
  id: "scale-factor",
  check: ({ measure, pair, images }) => {
    const on = (values: number[], shape: number[]) => {
      const t = tf.tensor(values, shape);
      try {
        return measure(t);
      } finally {
        t.dispose();
      }
    };
    // By hand: 11, 9, 13, 7 have mean 10 and variance 5, so s = 1 / sqrt(5); the shift by 10 must not matter.
    const shifted = [11, 9, 13, 7];
    const got = on(shifted, [2, 2]);
    if (typeof got !== "number") miss(`scaleFactorOf should return one number for the whole tensor, got ${typeof got}: the standard deviation over all entries.`);
    expectValue(got, 1 / Math.sqrt(5), {
      name: "scaleFactorOf([[11, 9], [13, 7]]), by hand 1 / sqrt(5)",
      rtol: 1e-5,
      suspects: [
        { value: 1 / 5, hints: ["You divided by the variance (5); s = 1 / standard deviation, so that s^2 Var = 1."] },
        { value: Math.sqrt(5), hints: ["You returned the standard deviation itself; s is its reciprocal: scaled latents s · z have variance s^2 Var(z) = 1."] },
        { value: 1 / stdOf(shifted, 0, false), hints: ["You used the root mean square, without subtracting the mean: these entries have mean 10, and the variance is about the mean. tf.moments gives it."] },
        { value: 1 / stdOf(shifted, 1), hints: ["You divided the sum of squares by n - 1 (the unbiased estimate); the scale factor is defined by the variance over all entries, divided by n (tf.moments). On four entries the two differ by 15%."] },
      ],
    });
    expectValue(on([1, -1, 3, -3], [4]), 1 / Math.sqrt(5), { name: "scaleFactorOf([1, -1, 3, -3]), by hand 1 / sqrt(5)", rtol: 1e-5 });
    // On the encoder's means of 100 test images: a float64 standard deviation here, and kernel-lib's latentScale.
    const first = tf.tidy(() => images.slice(0, Math.min(100, images.shape[0]!)));
    const raw = encodeLatents(pair.ae, first, 1);
    try {
      const mine = measure(raw);
      const byHand = 1 / stdOf(Array.from(raw.dataSync()));
      expectValue(mine, byHand, { name: "on the encoder's means of 100 test images (float64 here)", rtol: 1e-3 });
      expectValue(mine, latentScale(pair.ae, first), { name: "vs kernel-lib's latentScale on the same images", rtol: 1e-3 });
      return `On 100 test images s = ${mine.toFixed(4)}; the shipped one, from the 60,000 training images, is ${pair.scale.toFixed(4)}.`;
    } finally {
      tf.dispose([first, raw]);
    }
  },
  hints: ["s = 1 / sqrt(Var), the variance over every entry of the tensor, its mean subtracted.", "tf.moments(latents.reshape([-1])).variance, read with dataSync(), inside tf.tidy; return 1 / Math.sqrt(variance)."],
};

/** What the guidance-prediction check gets: the learner's prediction and the shipped pair it samples from. */
export interface GuidancePredictionAnswer {
  predict: () => { accuracyHigher: boolean; varianceLower: boolean };
  pair: LatentDiffusionPair;
  /** The folder of the shipped classifier fashion-classifier.ckpt. Default "checkpoints" (the lessons' working directory is notebooks/). */
  dir?: string;
}

type Fidelity = { classAccuracy: number; withinClassVariance: number };

/** The samples per class the experiment draws at each weight: 6 in quick mode, 20 in full mode. */
export const guidanceExperimentPerClass = (): number => byMode({ quick: 6, full: 20 });

export const guidanceExperimentExercise: Exercise<GuidancePredictionAnswer> = {
  id: "guidance-prediction",
  check: ({ predict, pair, dir = "checkpoints" }) => {
    const prediction = predict();
    if (typeof prediction?.accuracyHigher !== "boolean" || typeof prediction?.varianceLower !== "boolean") {
      miss("guidancePrediction should return { accuracyHigher, varianceLower }, each true or false.");
    }
    const { model: classifier } = loadClassifier(path.join(dir, "fashion-classifier.ckpt"));
    try {
      return guidanceCheck(prediction, pair, classifier);
    } finally {
      classifier.dispose();
    }
  },
  hints: ["Guidance multiplies the pull towards the class by 1 + w: what does that do to how typical the samples are, and to their spread?"],
};

/** The experiment on a loaded classifier: samples at w = 0 and 12, both measured; returns what was measured. */
function guidanceCheck(prediction: { accuracyHigher: boolean; varianceLower: boolean }, pair: LatentDiffusionPair, classifier: FashionClassifier): string {
  const labels = classLabels(10, guidanceExperimentPerClass());
  const [w0, wBig] = [0, 12].map((w) => {
    const images = sampleLatentImages(pair.ae, pair.scale, pair.model, pair.schedule, { labels, guidance: w, seed: 72 });
    try {
      const predicted = classify(classifier, images);
      const classAccuracy = predicted.filter((p, i) => p === labels[i]).length / labels.length;
      return { classAccuracy, withinClassVariance: withinClassVariance(classifierFeatures(classifier, images), labels) };
    } finally {
      images.dispose();
    }
  }) as [Fidelity, Fidelity];
  const measured = `w = 0: class accuracy ${w0.classAccuracy.toFixed(3)}, within-class variance ${w0.withinClassVariance.toFixed(1)}; w = 12: ${wBig.classAccuracy.toFixed(3)}, ${wBig.withinClassVariance.toFixed(1)} (${labels.length} samples each).`;
  const why = `Measured, ${measured} Guidance samples roughly p(z) p(y | z)^(1 + w): a larger w pulls every sample towards what the classifier inside the model finds most typical of its class, so more samples are recognised and they vary less.`;
  const yesNo = (b: boolean) => (b ? "yes" : "no");
  comparePrediction("class accuracy higher at w = 12", yesNo(prediction.accuracyHigher), yesNo(wBig.classAccuracy > w0.classAccuracy), why);
  comparePrediction("within-class variance lower at w = 12", yesNo(prediction.varianceLower), yesNo(wBig.withinClassVariance < w0.withinClassVariance), why);
  return measured;
}
