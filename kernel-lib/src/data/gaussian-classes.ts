/**
 * Two overlapping classes in 2-D, the toy for classifier-free guidance in notebooks/06-diffusion.ipynb: class k is
 * N(mu_k, std^2 I) with mu_0 = (-d/2, 0) and mu_1 = (d/2, 0), equal priors. With one isotropic covariance the Bayes
 * classifier is linear, the nearest mean (log p(x|1) - log p(x|0) = d x / std^2), and its accuracy on the data is
 * Phi(d / (2 std)) in closed form: at the defaults (d = 2, std = 1) Phi(1) = 84.1%, so one sample in six lies on the
 * other class's side. That overlap is what guidance trades away: it pushes samples towards what is typical of their
 * class (a higher Bayes share) and narrows them (a lower within-class variance).
 */
import * as tf from "@tensorflow/tfjs";
import { Rng, rng as globalRng } from "../runtime/random";

export interface GaussianClassesOptions {
  /** Distance d between the two means. Default 2. */
  separation?: number;
  /** Standard deviation of each class on both axes. Default 1. */
  std?: number;
}

const config = (o: GaussianClassesOptions = {}) => {
  const c = { separation: o.separation ?? 2, std: o.std ?? 1 };
  if (!(c.separation > 0) || !(c.std > 0)) throw new RangeError(`gaussian classes: separation and std must be positive, got ${c.separation} and ${c.std}`);
  return c;
};

/** The two class means [x, y]. */
export function gaussianClassMeans(options: GaussianClassesOptions = {}): [number, number][] {
  const { separation } = config(options);
  return [[-separation / 2, 0], [separation / 2, 0]];
}

/**
 * `n` points with their classes, alternating 0, 1, 0, ... (equal priors, exactly balanced), drawn in JavaScript from
 * `rng` (default: the lesson-wide generator) so a seed gives the same data on every backend.
 */
export function sampleGaussianClasses(n: number, options: GaussianClassesOptions & { rng?: Rng } = {}): { points: tf.Tensor2D; labels: Int32Array } {
  const { std } = config(options);
  const means = gaussianClassMeans(options);
  const r = options.rng ?? globalRng();
  const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
  const xy = new Float32Array(2 * n);
  labels.forEach((k, i) => {
    xy[2 * i] = means[k]![0] + std * r.normal();
    xy[2 * i + 1] = means[k]![1] + std * r.normal();
  });
  return { points: tf.tensor2d(xy, [n, 2]), labels };
}

/** The Bayes classifier of the two classes (equal priors, shared isotropic covariance): the nearer mean, 1 when x > 0. */
export function bayesClass(x: number): number {
  return x > 0 ? 1 : 0;
}

/** Phi, the standard normal CDF (Abramowitz and Stegun 7.1.26 for erf, |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(z)) / Math.SQRT2);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** The Bayes classifier's accuracy on the data itself, Phi(d / (2 std)): the share of a class on its own side. */
export function bayesAccuracy(options: GaussianClassesOptions = {}): number {
  const { separation, std } = config(options);
  return normalCdf(separation / (2 * std));
}

export interface ClassSpread {
  /** Share of samples the Bayes classifier assigns to the class they were drawn (or asked) for. */
  bayesShare: number;
  /** Its standard error, sqrt(p (1 - p) / n). */
  bayesShareStderr: number;
  /** Within-class variance per coordinate: the mean of |x - mean of its class|^2 / 2 (the data's: std^2). */
  withinVariance: number;
  samples: number;
}

/** {@link ClassSpread} of points with their (requested) classes. Accepts an (n, 2) tensor (not disposed) or a list of points. */
export function classSpread(samples: tf.Tensor2D | [number, number][], labels: ArrayLike<number>): ClassSpread {
  const points = samples instanceof tf.Tensor ? (samples.arraySync() as [number, number][]) : samples;
  if (points.length !== labels.length || points.length === 0) throw new RangeError(`classSpread: ${points.length} points and ${labels.length} labels`);
  const n = points.length;
  const sums = [[0, 0, 0], [0, 0, 0]];
  let agree = 0;
  points.forEach(([x, y], i) => {
    const k = labels[i]!;
    if (k !== 0 && k !== 1) throw new RangeError(`classSpread: label ${k} is not 0 or 1`);
    if (bayesClass(x) === k) agree += 1;
    sums[k]![0]! += x;
    sums[k]![1]! += y;
    sums[k]![2]! += 1;
  });
  const centre = sums.map(([sx, sy, c]) => [sx! / Math.max(1, c!), sy! / Math.max(1, c!)]);
  const sq = points.reduce((s, [x, y], i) => s + (x - centre[labels[i]!]![0]!) ** 2 + (y - centre[labels[i]!]![1]!) ** 2, 0);
  const p = agree / n;
  return { bayesShare: p, bayesShareStderr: Math.sqrt((p * (1 - p)) / n), withinVariance: sq / (2 * n), samples: n };
}
