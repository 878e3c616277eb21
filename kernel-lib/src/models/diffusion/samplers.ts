/**
 * Samplers: ancestral DDPM sampling (Ho et al. 2020, Algorithm 2) and DDIM (Song, Meng and Ermon 2021, eq. 12),
 * with classifier-free guidance (Ho and Salimans 2022, eq. 6). Taught in notebooks/06-diffusion.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { Denoiser } from "./denoiser";
import { posteriorCoefficients, predictX0 } from "./forward";
import { NoiseSchedule } from "./schedules";
import { Rng } from "../../runtime/random";

/** Options shared by {@link ddpmSample} and {@link ddimSample}. */
export interface DiffusionSampleOptions {
  /** Number of samples. */
  n: number;
  /** Seeds the starting noise x_T and every noise draw on the way: the same seed gives the same samples. */
  seed: number;
  /** One class per sample for a class-conditioned model (0..numClasses-1, or numClasses for none). */
  labels?: ArrayLike<number> | null;
  /**
   * Classifier-free guidance weight w (Ho and Salimans 2022, eq. 6): eps = (1 + w) eps(x, y) - w eps(x, none).
   * 0 (the default) is plain conditional sampling; it needs a class-conditioned model.
   */
  guidance?: number;
  /** Clip the predicted x_0 to this range at every step (Ho et al.'s code does, to [-1, 1], for images). Default none. */
  clip?: [number, number] | null;
  /** Timesteps at which to keep a copy of x_t (T is the starting noise, 0 the final sample). Default none. */
  keep?: number[];
  /**
   * Start from this x_T, (n, dataDim), instead of drawing it. The seed still draws the noise of every step
   * (the draw that would have been x_T is skipped), so x_T and the sampler's noise can be varied apart.
   */
  xT?: tf.Tensor2D | null;
}

/** The starting point: a copy of options.xT, or N(0, I) from the first seed of `rng` (drawn either way). */
function startingNoise(o: DiffusionSampleOptions, dataDim: number, rng: Rng): tf.Tensor2D {
  const seed = rng.seed();
  if (!o.xT) return tf.randomNormal([o.n, dataDim], 0, 1, "float32", seed) as tf.Tensor2D;
  if (o.xT.shape[0] !== o.n || o.xT.shape[1] !== dataDim) throw new RangeError(`sampler: xT has shape [${o.xT.shape.join(", ")}], expected [${o.n}, ${dataDim}]`);
  return o.xT.clone();
}

/** What a sampler returns. The caller disposes `samples` and every tensor in `trajectory`. */
export interface DiffusionSampleResult {
  /** x_0, (n, dataDim). */
  samples: tf.Tensor2D;
  /** Copies of x_t at the requested timesteps, in the order the sampler reached them. */
  trajectory: { t: number; x: tf.Tensor2D }[];
}

/** eps_theta with classifier-free guidance when asked: one batch of 2n rows (conditional, then unconditional). */
function guidedNoise(model: Denoiser, x: tf.Tensor2D, t: number, labels: ArrayLike<number> | null, w: number): tf.Tensor2D {
  if (w === 0) return model.predictNoise(x, t, labels);
  return tf.tidy(() => {
    const n = x.shape[0];
    const none = new Array<number>(n).fill(model.config.numClasses);
    const both = model.predictNoise(tf.concat([x, x]), t, [...Array.from(labels!), ...none]); // (2n, D)
    const [cond, uncond] = tf.split(both, 2);
    return tf.sub(tf.mul(1 + w, cond!), tf.mul(w, uncond!)) as tf.Tensor2D;
  });
}

function checkSampleOptions(model: Denoiser, o: DiffusionSampleOptions): { labels: ArrayLike<number> | null; w: number } {
  if (!Number.isInteger(o.n) || o.n < 1) throw new RangeError(`sampler: n must be a positive integer, got ${o.n}`);
  const w = o.guidance ?? 0;
  const labels = o.labels ?? null;
  if (w !== 0 && model.config.numClasses === 0) throw new RangeError("sampler: classifier-free guidance needs a class-conditioned model");
  if (labels && labels.length !== o.n) throw new RangeError(`sampler: ${labels.length} labels for ${o.n} samples`);
  return { labels, w };
}

/**
 * Ancestral sampling (Ho et al. 2020, Algorithm 2): start from x_T ~ N(0, I) and for t = T..1 draw
 * x_{t-1} ~ N(mu_theta(x_t, t), sigma_t^2 I), where mu_theta is the posterior mean of q(x_{t-1} | x_t, x_0)
 * at the predicted x_0 = (x_t - sqrt(1 - alphaBar_t) eps_theta) / sqrt(alphaBar_t), and no noise is added at
 * t = 1. sigma_t^2 = beta_t ("beta", the default) or the posterior variance betaTilde_t ("posterior"); Ho et
 * al. found both to give similar results (section 3.2). Randomness: with r = new Rng(seed), x_T is
 * tf.randomNormal(..., r.seed()) and the noise of step t (T..2) the next r.seed(), so a loop written out in
 * a notebook can reproduce the samples exactly.
 */
export function ddpmSample(model: Denoiser, schedule: NoiseSchedule, options: DiffusionSampleOptions & { variance?: "beta" | "posterior" }): DiffusionSampleResult {
  const { labels, w } = checkSampleOptions(model, options);
  const rng = new Rng(options.seed);
  const keep = new Set(options.keep ?? []);
  const D = model.config.dataDim;
  const trajectory: DiffusionSampleResult["trajectory"] = [];
  let x = startingNoise(options, D, rng); // x_T
  if (keep.has(schedule.T)) trajectory.push({ t: schedule.T, x: x.clone() });
  for (let t = schedule.T; t >= 1; t--) {
    const next = tf.tidy(() => {
      // 1) predict the noise, 2) the x_0 it implies, 3) the posterior mean, 4) add sigma_t z (none at t = 1).
      const eps = guidedNoise(model, x, t, labels, w);
      let x0 = predictX0(schedule, x, eps, t);
      if (options.clip) x0 = tf.clipByValue(x0, options.clip[0], options.clip[1]);
      const { c0, ct, variance } = posteriorCoefficients(schedule, t);
      const mean = tf.add(tf.mul(c0, x0), tf.mul(ct, x));
      if (t === 1) return mean as tf.Tensor2D;
      const sigma = Math.sqrt(options.variance === "posterior" ? variance : schedule.betas[t]!);
      return tf.add(mean, tf.mul(sigma, tf.randomNormal(x.shape, 0, 1, "float32", rng.seed()))) as tf.Tensor2D;
    });
    x.dispose();
    x = next;
    if (keep.has(t - 1)) trajectory.push({ t: t - 1, x: x.clone() });
  }
  return { samples: x, trajectory };
}

/** The DDIM timesteps: `steps` evenly spaced values from T down to 1 (Song et al. 2021, section 4.2 and appendix D.2). */
export function ddimTimesteps(T: number, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new RangeError(`ddimTimesteps: steps must be an integer in 1..${T}, got ${steps}`);
  const out: number[] = [];
  for (let i = steps; i >= 1; i--) out.push(Math.max(1, Math.round((i * T) / steps)));
  return out;
}

/**
 * DDIM sampling (Song et al. 2021, eq. 12) on `steps` evenly spaced timesteps: from x_t to x_s (s < t),
 * x_s = sqrt(alphaBar_s) x0_hat + sqrt(1 - alphaBar_s - sigma^2) eps_theta + sigma z with
 * sigma = eta sqrt((1 - alphaBar_s) / (1 - alphaBar_t)) sqrt(1 - alphaBar_t / alphaBar_s). With eta = 0 (the
 * default) the map from x_T to x_0 is deterministic: only the starting noise depends on the seed.
 */
export function ddimSample(model: Denoiser, schedule: NoiseSchedule, options: DiffusionSampleOptions & { steps?: number; eta?: number }): DiffusionSampleResult {
  const { labels, w } = checkSampleOptions(model, options);
  const rng = new Rng(options.seed);
  const eta = options.eta ?? 0;
  const taus = ddimTimesteps(schedule.T, options.steps ?? Math.min(50, schedule.T));
  const keep = new Set(options.keep ?? []);
  const trajectory: DiffusionSampleResult["trajectory"] = [];
  let x = startingNoise(options, model.config.dataDim, rng); // x_T
  if (keep.has(schedule.T)) trajectory.push({ t: schedule.T, x: x.clone() });
  taus.forEach((t, i) => {
    const s = i + 1 < taus.length ? taus[i + 1]! : 0;
    const next = tf.tidy(() => {
      const eps = guidedNoise(model, x, t, labels, w);
      let x0 = predictX0(schedule, x, eps, t);
      if (options.clip) x0 = tf.clipByValue(x0, options.clip[0], options.clip[1]);
      const ab = schedule.alphaBars[t]!;
      const abS = schedule.alphaBars[s]!;
      const sigma = eta * Math.sqrt((1 - abS) / (1 - ab)) * Math.sqrt(1 - ab / abS);
      // With a clipped x0, re-derive the noise it implies so the step stays on the line through x_t and x0.
      const epsUsed = options.clip ? tf.div(tf.sub(x, tf.mul(Math.sqrt(ab), x0)), Math.sqrt(1 - ab)) : eps;
      let out = tf.add(tf.mul(Math.sqrt(abS), x0), tf.mul(Math.sqrt(Math.max(0, 1 - abS - sigma * sigma)), epsUsed));
      if (sigma > 0) out = tf.add(out, tf.mul(sigma, tf.randomNormal(x.shape, 0, 1, "float32", rng.seed())));
      return out as tf.Tensor2D;
    });
    x.dispose();
    x = next;
    if (keep.has(s)) trajectory.push({ t: s, x: x.clone() });
  });
  return { samples: x, trajectory };
}
