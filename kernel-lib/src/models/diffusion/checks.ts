/**
 * Checks of lesson 06 that a wrong implementation fails: a cosine schedule against its definition
 * alphaBar_t = f(t) / f(0), the linear schedule against values computed by hand, L_simple against an oracle
 * denoiser and float64 arithmetic, and a sampler's determinism under a varied noise source. Taught in
 * notebooks/06-diffusion.ipynb; checks/lesson-checks.test.ts shows each failing on a wrong input.
 */
import * as tf from "@tensorflow/tfjs";
import { checkClose, CheckError, checkThat } from "../../notebook/check";
import { Rng } from "../../runtime/random";
import { NoiseSchedule } from "./schedules";

/**
 * Checks a cosine schedule against Nichol and Dhariwal's eq. 17, alphaBar_t = f(t) / f(0) with
 * f(t) = cos^2(((t / T + s) / (1 + s)) pi / 2), at every t whose beta_t is below the cap `maxBeta` (the cap
 * changes alphaBar only from the first capped step on). Returns the number of steps checked.
 */
export function checkCosineSchedule(schedule: NoiseSchedule, s = 0.008, maxBeta = 0.999): number {
  const f = (t: number) => Math.cos(((t / schedule.T + s) / (1 + s)) * (Math.PI / 2)) ** 2;
  const firstCapped = Array.from(schedule.betas).findIndex((b, t) => t > 0 && b >= maxBeta);
  const last = firstCapped < 0 ? schedule.T : firstCapped - 1;
  checkThat(last >= schedule.T - 1, `cosine schedule: beta is capped from t = ${firstCapped}, before the last step`);
  const ts = Array.from({ length: last + 1 }, (_, t) => t);
  checkClose(ts.map((t) => schedule.alphaBars[t]!), ts.map((t) => f(t) / f(0)), { rtol: 1e-9, atol: 1e-12, name: "cosine alphaBar_t vs f(t) / f(0)" });
  return ts.length;
}

/**
 * Checks the linear schedule with T = 100 (ends rescaled by 1000 / T: beta from 1e-3 to 0.2) against values
 * computed by hand: beta_1 = 0.001, beta_2 = 0.001 + 0.199 / 99 = 0.0030101..., beta_100 = 0.2,
 * alphaBar_1 = 0.999, alphaBar_2 = 0.999 (1 - 0.0030101...) = 0.9959929..., alphaBar_100 = 2.039e-5.
 */
export function checkLinearSchedule100(schedule: NoiseSchedule): void {
  checkThat(schedule.T === 100, `checkLinearSchedule100 needs T = 100, got ${schedule.T}`);
  const got = [1, 2, 100].flatMap((t) => [schedule.betas[t]!, schedule.alphaBars[t]!]);
  const byHand = [0.001, 0.999, 0.001 + 0.199 / 99, 0.999 * (1 - (0.001 + 0.199 / 99)), 0.2, 2.039e-5];
  checkClose(got, byHand, { rtol: 1e-3, atol: 0, name: "linear schedule (beta_t, alphaBar_t at t = 1, 2, 100) vs by hand" });
}

/** What L_simple needs of a denoiser. */
export interface NoisePredictor {
  predictNoise(x: tf.Tensor, t: number | ArrayLike<number>): tf.Tensor2D;
}

/** An L_simple under test: the mean of (eps - eps_theta(x_t, t))^2 over a batch with the given draws. */
export type EpsilonLossFn = (model: NoisePredictor, s: NoiseSchedule, x0: tf.Tensor2D, t: ArrayLike<number>, eps: tf.Tensor2D) => tf.Scalar;

/**
 * Checks `loss` with draws of its own (16 points, t and eps from a plain Rng): (1) an oracle denoiser that
 * recovers eps from x_t and the known x0 by float64 arithmetic must score 0, which holds only if x_t was
 * formed as sqrt(alphaBar_t) x0 + sqrt(1 - alphaBar_t) eps; (2) a denoiser answering 0 must score mean(eps^2)
 * computed in float64; (3) one answering eps / 2 must score a quarter of it. Returns mean(eps^2).
 */
export function checkEpsilonLoss(loss: EpsilonLossFn, schedule: NoiseSchedule, seed = 1): number {
  const r = new Rng(seed);
  const n = 16;
  const x0 = Array.from({ length: n }, () => [2 * r.normal(), 2 * r.normal()]);
  const eps = Array.from({ length: n }, () => [r.normal(), r.normal()]);
  const t = Array.from({ length: n }, () => 1 + r.int(schedule.T));
  const implied = (xt: tf.Tensor, share: number) => {
    const rows = xt.arraySync() as number[][];
    return tf.tensor2d(rows.map((row, i) => row.map((v, c) => {
      const ab = schedule.alphaBars[t[i]!]!;
      return (share * (v - Math.sqrt(ab) * x0[i]![c]!)) / Math.sqrt(1 - ab);
    })));
  };
  const meanSq = eps.flat().reduce((s, e) => s + e * e, 0) / (2 * n);
  const scores = tf.tidy(() => {
    const [x0t, epst] = [tf.tensor2d(x0), tf.tensor2d(eps)];
    const of = (m: NoisePredictor) => loss(m, schedule, x0t, t, epst).dataSync()[0]!;
    return {
      oracle: of({ predictNoise: (x) => implied(x, 1) }),
      zero: of({ predictNoise: (x) => tf.zerosLike(x) as tf.Tensor2D }),
      half: of({ predictNoise: (x) => implied(x, 0.5) }),
    };
  });
  if (!Number.isFinite(scores.oracle)) throw new CheckError(`L_simple: the oracle denoiser scored ${scores.oracle}`);
  checkClose(scores.oracle, 0, { atol: 1e-4, name: "L_simple of a denoiser that recovers eps exactly (x_t in closed form?)" });
  checkClose(scores.zero, meanSq, { rtol: 1e-4, name: "L_simple of a denoiser answering 0 vs mean(eps^2)" });
  checkClose(scores.half, meanSq / 4, { rtol: 1e-3, atol: 1e-5, name: "L_simple of a denoiser answering eps / 2 vs mean(eps^2) / 4" });
  return meanSq;
}

/** A sampler under test: starting points x_T (n, D) and a seed for its own noise -> x_0 (n, D). */
export type StartedSampler = (xT: tf.Tensor2D, noiseSeed: number) => tf.Tensor2D;

/**
 * Checks that x_0 is a function of x_T alone: the same x_T with two different noise seeds must give the
 * same x_0 (within 1e-5), and a different x_T a different x_0 (more than 1e-3, so a sampler that ignores
 * x_T cannot pass). Returns both largest differences.
 */
export function checkDeterministicSampler(sample: StartedSampler, n: number, dataDim: number, seed = 1): { acrossNoise: number; acrossStart: number } {
  const r = new Rng(seed);
  const result = tf.tidy(() => {
    const xT = tf.randomNormal([n, dataDim], 0, 1, "float32", r.seed()) as tf.Tensor2D;
    const other = tf.randomNormal([n, dataDim], 0, 1, "float32", r.seed()) as tf.Tensor2D;
    const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
    const base = sample(xT, 101);
    return { acrossNoise: maxDiff(base, sample(xT, 202)), acrossStart: maxDiff(base, sample(other, 101)) };
  });
  checkThat(result.acrossStart > 1e-3, `sampler: a different x_T gave the same x_0 (max |diff| ${result.acrossStart.toExponential(2)})`);
  checkThat(result.acrossNoise < 1e-5, `sampler: the same x_T with another noise seed moved x_0 by up to ${result.acrossNoise.toExponential(2)}, so x_0 is not a function of x_T`);
  return result;
}
