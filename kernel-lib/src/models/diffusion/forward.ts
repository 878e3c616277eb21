/**
 * The forward process in closed form, q(x_t | x_0) = N(sqrt(alphaBar_t) x_0, (1 - alphaBar_t) I), its one-step form,
 * the posterior q(x_{t-1} | x_t, x_0) (Ho et al. 2020, eqs. 6-7) and x_0 from a noise estimate.
 * Taught in notebooks/06-diffusion.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { NoiseSchedule } from "./schedules";
import { Rng } from "../../runtime/random";

function checkT(schedule: NoiseSchedule, t: number, min = 1): void {
  if (!Number.isInteger(t) || t < min || t > schedule.T) throw new RangeError(`timestep ${t} is outside ${min}..${schedule.T}`);
}

/** Per-row coefficients as a (B, 1, ..., 1) tensor that broadcasts against x (B, ...). */
function rowCoefficients(values: ArrayLike<number>, x: tf.Tensor): tf.Tensor {
  if (values.length !== x.shape[0]) throw new RangeError(`${values.length} timesteps for a batch of ${x.shape[0]}`);
  return tf.tensor(Float32Array.from(values), [values.length, ...new Array<number>(x.rank - 1).fill(1)]);
}

/** Timesteps as an array of length B, from one number (every row) or one number per row. */
export function timesteps(t: number | ArrayLike<number>, batch: number): ArrayLike<number> {
  return typeof t === "number" ? new Array<number>(batch).fill(t) : t;
}

/**
 * The closed-form forward process (Ho et al. 2020, eq. 4): x_t = sqrt(alphaBar_t) x_0 + sqrt(1 - alphaBar_t) eps.
 * `t` is one timestep for every row or one per row (0..T; t = 0 returns x_0); `noise` is eps, shaped like x0.
 */
export function qSample(schedule: NoiseSchedule, x0: tf.Tensor, t: number | ArrayLike<number>, noise: tf.Tensor): tf.Tensor {
  if (noise.shape.join(",") !== x0.shape.join(",")) throw new RangeError(`qSample: noise [${noise.shape}] must have x0's shape [${x0.shape}]`);
  const ts = timesteps(t, x0.shape[0]!);
  for (let i = 0; i < ts.length; i++) checkT(schedule, ts[i]!, 0);
  const ab = Array.from(ts, (s) => schedule.alphaBars[s]!);
  return tf.tidy(() => {
    const signal = rowCoefficients(ab.map(Math.sqrt), x0); // (B, 1...)
    const spread = rowCoefficients(ab.map((a) => Math.sqrt(1 - a)), x0); // (B, 1...)
    return tf.add(tf.mul(signal, x0), tf.mul(spread, noise));
  });
}

/** One forward step (Ho et al. 2020, eq. 2): x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps, for t in 1..T. */
export function qStep(schedule: NoiseSchedule, xPrev: tf.Tensor, t: number, noise: tf.Tensor): tf.Tensor {
  checkT(schedule, t);
  const beta = schedule.betas[t]!;
  return tf.tidy(() => tf.add(tf.mul(Math.sqrt(1 - beta), xPrev), tf.mul(Math.sqrt(beta), noise)));
}

/**
 * The posterior q(x_{t-1} | x_t, x_0) = N(c0 x_0 + ct x_t, variance I) (Ho et al. 2020, eqs. 6-7):
 * c0 = sqrt(alphaBar_{t-1}) beta_t / (1 - alphaBar_t), ct = sqrt(alpha_t) (1 - alphaBar_{t-1}) / (1 - alphaBar_t),
 * variance = betaTilde_t = (1 - alphaBar_{t-1}) / (1 - alphaBar_t) beta_t. Plain numbers, t in 1..T.
 */
export function posteriorCoefficients(schedule: NoiseSchedule, t: number): { c0: number; ct: number; variance: number } {
  checkT(schedule, t);
  const beta = schedule.betas[t]!;
  const ab = schedule.alphaBars[t]!;
  const abPrev = schedule.alphaBars[t - 1]!;
  return {
    c0: (Math.sqrt(abPrev) * beta) / (1 - ab),
    ct: (Math.sqrt(schedule.alphas[t]!) * (1 - abPrev)) / (1 - ab),
    variance: ((1 - abPrev) / (1 - ab)) * beta,
  };
}

/** x_0 recovered from x_t and the noise in it: x_0 = (x_t - sqrt(1 - alphaBar_t) eps) / sqrt(alphaBar_t). */
export function predictX0(schedule: NoiseSchedule, xt: tf.Tensor, eps: tf.Tensor, t: number): tf.Tensor {
  checkT(schedule, t);
  const ab = schedule.alphaBars[t]!;
  return tf.tidy(() => tf.div(tf.sub(xt, tf.mul(Math.sqrt(1 - ab), eps)), Math.sqrt(ab)));
}

/** `n` timesteps drawn uniformly from 1..T with `rng` (Ho et al. 2020, Algorithm 1). */
export function sampleTimesteps(n: number, T: number, rng: Rng): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = 1 + rng.int(T);
  return out;
}
