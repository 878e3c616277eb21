/**
 * The checks of notebooks/06-diffusion.ipynb's exercises: x_t in closed form, the posterior mean, a DDIM step,
 * and the experiment that shortens DDIM's path on the shipped ring model and counts modes. Expected values come
 * from float64 arithmetic written here (the posterior mean as a product of two Gaussians, not eq. 7); each check
 * recognises the usual wrong answers (alphaBar without its square root, the coefficients swapped, alpha for
 * alphaBar, a step that forgets to re-noise) and says what is wrong. checks/exercise-hints.test.ts shows each diagnosis.
 */
import * as tf from "@tensorflow/tfjs";
import { Exercise, expectValue, miss } from "../../notebook/exercise";
import { ringCentres } from "../../data/ring";
import * as path from "node:path";
import { Denoiser } from "../diffusion/denoiser";
import { loadDiffusion } from "../diffusion/denoiser-mlp";
import { ddimSample } from "../diffusion/samplers";
import { cosineSchedule, linearSchedule, NoiseSchedule } from "../diffusion/schedules";
import { comparePrediction, Direction, directionOf, requirePrediction } from "./predictions";

export const noisyAtExercise: Exercise<(x0: tf.Tensor, t: number, eps: tf.Tensor, alphaBars: ArrayLike<number>) => tf.Tensor> = {
  id: "noisy-at",
  check: (noisyAt) => {
    const s = linearSchedule(100);
    const x0 = [1, -2, 0.5];
    const eps = [0.5, 1, -1.5];
    for (const t of [42, 100, 1]) {
      const ab = s.alphaBars[t]!;
      const got = tf.tidy(() => Array.from(noisyAt(tf.tensor1d(x0), t, tf.tensor1d(eps), s.alphaBars).dataSync()));
      const form = (a: number, b: number) => x0.map((x, i) => a * x + b * eps[i]!);
      expectValue(got, form(Math.sqrt(ab), Math.sqrt(1 - ab)), {
        name: `noisyAt at t = ${t} (alphaBar_t = ${ab.toFixed(4)})`,
        rtol: 1e-5,
        atol: 1e-6,
        suspects: [
          { value: form(ab, 1 - ab), hints: ["You scaled by alphaBar_t and 1 - alphaBar_t; the closed form takes their square roots. The variances add: (sqrt(alphaBar))^2 + (sqrt(1 - alphaBar))^2 = 1 keeps x_t at unit variance."] },
          { value: form(Math.sqrt(1 - ab), Math.sqrt(ab)), hints: ["The coefficients are swapped: the signal x0 keeps sqrt(alphaBar_t), which falls from 1 towards 0 as t grows; the noise gets sqrt(1 - alphaBar_t)."] },
          { value: form(Math.sqrt(ab), 1 - Math.sqrt(ab)), hints: ["The noise coefficient is sqrt(1 - alphaBar_t), not 1 - sqrt(alphaBar_t): the variances, not the standard deviations, sum to 1."] },
          ...(t > 1 ? [{ value: form(Math.sqrt(s.alphaBars[t - 1]!), Math.sqrt(1 - s.alphaBars[t - 1]!)), hints: ["Off by one step: alphaBars[t] is alphaBar_t (alphaBars[0] = 1 is x_0 itself)."] }] : []),
        ],
      });
    }
  },
  hints: ["x_t = sqrt(alphaBar_t) x0 + sqrt(1 - alphaBar_t) eps, with alphaBar_t = alphaBars[t].", "tf.add(tf.mul(Math.sqrt(alphaBars[t]), x0), tf.mul(Math.sqrt(1 - alphaBars[t]), eps))."],
};

/**
 * The mean of q(x_{t-1} | x_t, x_0) as a product of two Gaussians in x_{t-1}: N(sqrt(alphaBar_{t-1}) x0, 1 - alphaBar_{t-1})
 * and q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, beta_t); precisions add, means weight by precision.
 */
export function posteriorMeanByProduct(s: NoiseSchedule, x0: number, xt: number, t: number): number {
  const priorVar = 1 - s.alphaBars[t - 1]!;
  if (priorVar === 0) return x0; // t = 1: x_0 is known
  const a = Math.sqrt(s.alphas[t]!);
  const precision = 1 / priorVar + (a * a) / s.betas[t]!;
  return ((Math.sqrt(s.alphaBars[t - 1]!) * x0) / priorVar + (a * xt) / s.betas[t]!) / precision;
}

export const posteriorMeanExercise: Exercise<(s: NoiseSchedule, x0: number, xt: number, t: number) => number> = {
  id: "posterior-mean",
  check: (posteriorMean) => {
    const s = cosineSchedule(100);
    const eq7 = (c: (ab: number, abPrev: number, alpha: number, beta: number) => [number, number], x0: number, xt: number, t: number) => {
      const [c0, ct] = c(s.alphaBars[t]!, s.alphaBars[t - 1]!, s.alphas[t]!, s.betas[t]!);
      return c0 * x0 + ct * xt;
    };
    const right = (ab: number, abPrev: number, alpha: number, beta: number): [number, number] => [(Math.sqrt(abPrev) * beta) / (1 - ab), (Math.sqrt(alpha) * (1 - abPrev)) / (1 - ab)];
    for (const t of [1, 2, 50, 100]) {
      const got = posteriorMean(s, 0.7, -1.2, t);
      if (typeof got !== "number" || Number.isNaN(got)) miss(`posteriorMean(s, 0.7, -1.2, ${t}) returned ${got}; it should be a number${t === 1 ? " (at t = 1, alphaBars[0] = 1: the posterior is x_0 itself)" : ""}.`);
      expectValue(got, posteriorMeanByProduct(s, 0.7, -1.2, t), {
        name: `posterior mean at t = ${t} (x0 = 0.7, x_t = -1.2; by the product of two Gaussians)`,
        rtol: 1e-8,
        atol: 1e-10,
        suspects: [
          { value: eq7((ab, abPrev, alpha, beta) => right(ab, abPrev, alpha, beta).reverse() as [number, number], 0.7, -1.2, t), hints: ["The two coefficients are swapped: x0's weight carries beta_t (small for small t), x_t's carries 1 - alphaBar_{t-1}."] },
          { value: eq7((ab, _abPrev, alpha, beta) => right(ab, ab, alpha, beta), 0.7, -1.2, t), hints: ["You used alphaBar_t where the formula has alphaBar_{t-1} = s.alphaBars[t - 1]."] },
          { value: eq7((ab, abPrev, alpha, beta) => [(Math.sqrt(abPrev) * beta) / (1 - ab), (alpha * (1 - abPrev)) / (1 - ab)], 0.7, -1.2, t), hints: ["x_t's coefficient has sqrt(alpha_t), not alpha_t: one forward step scales x_{t-1} by sqrt(1 - beta_t)."] },
        ],
      });
    }
  },
  hints: ["tilde mu_t = sqrt(alphaBar_{t-1}) beta_t / (1 - alphaBar_t) x0 + sqrt(alpha_t) (1 - alphaBar_{t-1}) / (1 - alphaBar_t) x_t.", "s.alphaBars[t - 1], s.alphaBars[t], s.alphas[t], s.betas[t]; alphaBars[0] is 1."],
};

export const ddimStepExercise: Exercise<(s: NoiseSchedule, xt: tf.Tensor, eps: tf.Tensor, t: number, sPrev: number) => tf.Tensor> = {
  id: "ddim-step",
  check: (ddimStep) => {
    const s = linearSchedule(100);
    const xt = [0.3, -1.2, 2.0, 0.5];
    const eps = [0.1, 0.4, -0.7, 1.1];
    for (const [t, to] of [[40, 10], [100, 0], [40, 40]] as const) {
      const [ab, abS] = [s.alphaBars[t]!, s.alphaBars[to]!];
      const x0hat = xt.map((x, i) => (x - Math.sqrt(1 - ab) * eps[i]!) / Math.sqrt(ab));
      const got = tf.tidy(() => Array.from(ddimStep(s, tf.tensor1d(xt), tf.tensor1d(eps), t, to).dataSync()));
      expectValue(got, x0hat.map((x, i) => Math.sqrt(abS) * x + Math.sqrt(1 - abS) * eps[i]!), {
        name: `ddimStep from t = ${t} to ${to}`,
        rtol: 1e-5,
        atol: 1e-5,
        suspects: [
          ...(to > 0 ? [{ value: x0hat, hints: ["You returned the predicted x_0; DDIM then moves it to step s along the same noise direction: sqrt(alphaBar_s) x0hat + sqrt(1 - alphaBar_s) eps."] }] : []),
          ...(to !== t ? [{ value: xt, hints: ["Your step returns x_t unchanged: the second half must use alphaBar of the target step s = sPrev, not of t."] }] : []),
          { value: xt.map((x, i) => (x - (1 - ab) * eps[i]!) / ab).map((x, i) => abS * x + (1 - abS) * eps[i]!), hints: ["Square roots are missing: x_t = sqrt(alphaBar) x_0 + sqrt(1 - alphaBar) eps, so both halves of the step use square roots."] },
          { value: xt.map((x, i) => (x + Math.sqrt(1 - ab) * eps[i]!) / Math.sqrt(ab)).map((x, i) => Math.sqrt(abS) * x + Math.sqrt(1 - abS) * eps[i]!), hints: ["Sign: x0hat = (x_t - sqrt(1 - alphaBar_t) eps) / sqrt(alphaBar_t), the noise is subtracted."] },
        ],
      });
    }
  },
  hints: ["1) x0hat = (x_t - sqrt(1 - alphaBar_t) eps) / sqrt(alphaBar_t); 2) x_s = sqrt(alphaBar_s) x0hat + sqrt(1 - alphaBar_s) eps.", "alphaBar_s is s.alphaBars[sPrev], which is 1 for sPrev = 0 (then x_s = x0hat)."],
};

/** The learner's measurement: DDIM with `steps` steps from the model; the share of samples (divided by `scale`) within 3 std of a mode. */
export type DdimQualityFn = (model: Denoiser, schedule: NoiseSchedule, steps: number, n: number, seed: number, scale: number) => number;

export interface DdimStepsExperiment {
  /** How the share of samples within 3 std of a mode changes from 50 DDIM steps to 2 (within a factor 1.25 is "about the same"). */
  prediction: Direction | undefined;
  measure: DdimQualityFn;
  /** The folder of the shipped checkpoint diffusion-ring.ckpt. Default "checkpoints" (the lessons' working directory is notebooks/). */
  dir?: string;
}

/** The share of points within 3 std (0.06) of a ring centre, in float64. */
export function ringQualityByHand(points: number[][]): number {
  const centres = ringCentres();
  return points.filter(([x, y]) => centres.some(([cx, cy]) => Math.hypot(x! - cx, y! - cy) <= 0.06)).length / points.length;
}

export const ddimStepsExercise: Exercise<DdimStepsExperiment> = {
  id: "ddim-steps",
  check: ({ prediction, measure, dir = "checkpoints" }) => {
    const predicted = requirePrediction(prediction, '"smaller", "about the same" or "larger"');
    const shipped = loadDiffusion(path.join(dir, "diffusion-ring.ckpt"));
    try {
      return ddimStepsCheck(predicted, measure, shipped.model, shipped.schedule, (shipped.extra as { data: { scale: number } }).data.scale);
    } finally {
      shipped.model.dispose();
    }
  },
  hints: ["ddimSample(model, schedule, { n, seed, steps }).samples is (n, 2), in the model's scaled coordinates.", "tf.tidy(() => ringCoverage(tf.div(samples, scale)).quality) (the tensor is measured, then freed by the tidy)."]
};

/** The DDIM-steps experiment's check on a loaded model; returns what was measured. */
function ddimStepsCheck(predicted: Direction, measure: DdimQualityFn, model: Denoiser, schedule: NoiseSchedule, scale: number): string {
  const quality: Record<number, number> = {};
  for (const steps of [50, 2]) {
    const mine = measure(model, schedule, steps, 1000, 23, scale);
    // Independently: other codes (seed 24), the points read out and measured in float64.
    const points = tf.tidy(() => tf.div(ddimSample(model, schedule, { n: 1000, seed: 24, steps }).samples, scale).arraySync() as number[][]);
    const ref = ringQualityByHand(points);
    if (mine < 0.02 && ref > 0.2) miss(`With ${steps} steps you measured ${(100 * mine).toFixed(1)}% within 3 std, an independent run ${(100 * ref).toFixed(1)}%: divide the samples by scale = ${scale} before measuring (the model works on the ring times ${scale}).`);
    // Two sets of 1,000 samples: the shares differ by about sqrt(2 p (1 - p) / 1000); allow 4 of those plus 1 point.
    const tol = 4 * Math.sqrt((2 * ref * (1 - ref)) / 1000) + 0.01;
    expectValue(mine, ref, { name: `share within 3 std with ${steps} DDIM steps (vs an independent run on other codes)`, atol: tol, rtol: 0, otherwise: ["ddimSample(model, schedule, { n, seed, steps }).samples, divided by scale, then ringCoverage(points).quality (or count the points within 0.06 of a centre)."] });
    quality[steps] = ref;
  }
  comparePrediction("the share of good samples at 2 steps against 50", predicted, directionOf(quality[2]!, quality[50]!, 1.25),
    `Measured: ${(100 * quality[50]!).toFixed(1)}% at 50 steps, ${(100 * quality[2]!).toFixed(1)}% at 2. DDIM's update is exact only if the predicted noise stayed the same along the step; in 2 jumps the x_0 predicted from nearly pure noise is close to the mean of the data, the ring's centre, and the second jump cannot pull it back onto a mode.`);
  return `Share within 3 std (1,000 samples): ${(100 * quality[50]!).toFixed(1)}% with 50 DDIM steps, ${(100 * quality[2]!).toFixed(1)}% with 2.`;
}

