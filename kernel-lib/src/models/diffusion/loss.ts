/**
 * The epsilon-prediction loss L_simple (Ho et al. 2020, eq. 14) and its seeded evaluation on a data set.
 * Taught in notebooks/06-diffusion.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { Denoiser } from "./denoiser";
import { qSample, sampleTimesteps } from "./forward";
import { NoiseSchedule } from "./schedules";
import { Rng } from "../../runtime/random";

/**
 * The simplified loss L_simple (Ho et al. 2020, eq. 14): || eps - eps_theta(sqrt(alphaBar_t) x_0 +
 * sqrt(1 - alphaBar_t) eps, t) ||^2, averaged over the batch and the data dimensions (a mean squared error).
 * `t` holds one timestep per row, `noise` is eps shaped like x0, `labels` the classes when conditioned.
 */
export function epsilonLoss(model: Denoiser, schedule: NoiseSchedule, x0: tf.Tensor, t: ArrayLike<number>, noise: tf.Tensor, labels?: ArrayLike<number> | null): tf.Scalar {
  return tf.tidy(() => {
    const B = x0.shape[0]!;
    const xt = qSample(schedule, x0, t, noise);
    const pred = model.predictNoise(xt, t, labels);
    return tf.mean(tf.squaredDifference(pred, noise.reshape([B, -1]))) as tf.Scalar;
  });
}

/**
 * L_simple over a whole set with timesteps and noise drawn from `seed`: the same weights give the same number
 * every time, so a checkpoint's recorded loss can be checked. Computed in batches of 500; a plain number.
 */
export function evaluateEpsilonLoss(model: Denoiser, schedule: NoiseSchedule, x0: tf.Tensor, seed: number, labels?: ArrayLike<number> | null): number {
  const r = new Rng(seed);
  const n = x0.shape[0]!;
  const t = sampleTimesteps(n, schedule.T, r);
  let sum = 0;
  for (let start = 0; start < n; start += 500) {
    const size = Math.min(500, n - start);
    const noiseSeed = r.seed();
    sum += tf.tidy(() => {
      const batch = x0.slice(start, size);
      const y = labels ? Array.from(labels).slice(start, start + size) : null;
      return epsilonLoss(model, schedule, batch, t.subarray(start, start + size), tf.randomNormal(batch.shape, 0, 1, "float32", noiseSeed), y).dataSync()[0]! * size;
    });
  }
  return sum / n;
}
