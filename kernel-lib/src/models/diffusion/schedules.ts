/**
 * Noise schedules: linear (Ho et al. 2020, section 4: beta from 1e-4 to 0.02 over T = 1000 steps) and cosine
 * (Nichol and Dhariwal 2021, section 3.2, eq. 17). Every schedule array has T + 1 entries; entry 0 is the clean
 * data (beta_0 = 0, alphaBar_0 = 1), so `alphaBars[t]` is the paper's alphaBar_t. Taught in notebooks/06-diffusion.ipynb.
 */

export type ScheduleKind = "linear" | "cosine";

/** A noise schedule: the variances beta_t of the forward steps and the products derived from them. */
export interface NoiseSchedule {
  kind: ScheduleKind;
  /** Number of diffusion steps T. */
  T: number;
  /** beta_t for t = 0..T (beta_0 = 0). */
  betas: Float64Array;
  /** alpha_t = 1 - beta_t. */
  alphas: Float64Array;
  /** alphaBar_t = prod_{s <= t} alpha_s (alphaBar_0 = 1). */
  alphaBars: Float64Array;
}

function checkSteps(T: number): void {
  if (!Number.isInteger(T) || T < 1) throw new RangeError(`noise schedule: T must be a positive integer, got ${T}`);
}

function fromBetas(kind: ScheduleKind, betas: number[]): NoiseSchedule {
  const T = betas.length;
  const b = new Float64Array(T + 1);
  const a = new Float64Array(T + 1);
  const ab = new Float64Array(T + 1);
  a[0] = 1;
  ab[0] = 1;
  for (let t = 1; t <= T; t++) {
    const beta = betas[t - 1]!;
    if (!(beta > 0 && beta < 1)) throw new RangeError(`noise schedule: beta_${t} = ${beta} is not in (0, 1)`);
    b[t] = beta;
    a[t] = 1 - beta;
    ab[t] = ab[t - 1]! * (1 - beta);
  }
  return { kind, T, betas: b, alphas: a, alphaBars: ab };
}

export interface LinearScheduleOptions {
  /** beta_1. Default 1e-4 (Ho et al. 2020, section 4). */
  betaStart?: number;
  /** beta_T. Default 0.02 (Ho et al. 2020, section 4). */
  betaEnd?: number;
  /**
   * Rescale both ends by 1000 / T (capped below 1), so that a short schedule still ends near pure noise:
   * with the paper's ends and T = 100, alphaBar_T would be 0.36, far from N(0, I). Default true.
   */
  rescale?: boolean;
}

/**
 * The linear schedule of Ho et al. 2020 (section 4): beta_t rises linearly from betaStart (t = 1) to betaEnd
 * (t = T). With T = 1000 this is the paper's schedule exactly; shorter schedules are rescaled by 1000 / T
 * unless `rescale` is false (as in the improved-DDPM code of Nichol and Dhariwal 2021).
 */
export function linearSchedule(T: number, options: LinearScheduleOptions = {}): NoiseSchedule {
  checkSteps(T);
  const scale = options.rescale === false ? 1 : 1000 / T;
  const start = Math.min((options.betaStart ?? 1e-4) * scale, 0.999);
  const end = Math.min((options.betaEnd ?? 0.02) * scale, 0.999);
  const betas = Array.from({ length: T }, (_, i) => (T === 1 ? end : start + ((end - start) * i) / (T - 1)));
  return fromBetas("linear", betas);
}

export interface CosineScheduleOptions {
  /** Offset s that keeps beta_t from being tiny near t = 0. Default 0.008 (Nichol and Dhariwal 2021, section 3.2). */
  s?: number;
  /** Cap on beta_t, which would reach 1 at t = T. Default 0.999 (same source). */
  maxBeta?: number;
}

/**
 * The cosine schedule of Nichol and Dhariwal 2021 (section 3.2, eq. 17): alphaBar_t = f(t) / f(0) with
 * f(t) = cos^2(((t / T + s) / (1 + s)) * pi / 2), and beta_t = min(1 - alphaBar_t / alphaBar_{t-1}, maxBeta).
 * alphaBar falls slowly at both ends, so fewer steps are wasted on almost-clean or almost-pure-noise inputs.
 */
export function cosineSchedule(T: number, options: CosineScheduleOptions = {}): NoiseSchedule {
  checkSteps(T);
  const s = options.s ?? 0.008;
  const maxBeta = options.maxBeta ?? 0.999;
  const f = (t: number) => Math.cos((((t / T) + s) / (1 + s)) * (Math.PI / 2)) ** 2;
  const betas = Array.from({ length: T }, (_, i) => Math.min(1 - f(i + 1) / f(i), maxBeta));
  return fromBetas("cosine", betas);
}

/** A schedule by name: `noiseSchedule("cosine", 200)`. */
export function noiseSchedule(kind: ScheduleKind, T: number): NoiseSchedule {
  if (kind === "linear") return linearSchedule(T);
  if (kind === "cosine") return cosineSchedule(T);
  throw new RangeError(`noiseSchedule: unknown kind "${String(kind)}"; use linear or cosine`);
}
