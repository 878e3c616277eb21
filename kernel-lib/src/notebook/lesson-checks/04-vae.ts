/**
 * Checks of lesson 04's bounds that a wrong formula fails: log p(x) by importance sampling and the ELBO by
 * Monte Carlo (independent of the quadrature the lesson uses), and a Gaussian KL against hand values and a
 * quadrature of its definition. Taught in notebooks/04-vae.ipynb; checks/lesson-checks.test.ts shows each
 * failing on a wrong input.
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../runtime/random";
import { checkClose, CheckError, checkThat } from "../check";

const logNormal = (z: number, m: number, s: number) => -0.5 * ((z - m) / s) ** 2 - Math.log(s) - 0.5 * Math.log(2 * Math.PI);

function meanAndStderr(xs: Float64Array): { mean: number; stderr: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return { mean, stderr: Math.sqrt(variance / xs.length) };
}

export interface ElboCheckInput {
  /** log p(x, z) of the model, for the one image x. */
  logJoint: (z: number) => number;
  /** The log p(x) under test. */
  logPx: number;
  /** The ELBO under test for q = N(m, s^2). */
  elbo: (m: number, s: number) => number;
  /** The (m, s) of q to check at. */
  at: [number, number][];
  /** Monte Carlo draws per estimate. Default 100,000. */
  samples?: number;
  seed?: number;
}

export interface ElboCheckResult {
  /** log p(x) by importance sampling, and its standard error. */
  logPx: { estimate: number; stderr: number };
  /** The ELBO at each (m, s) by Monte Carlo over z ~ q, with standard errors. */
  elbo: { m: number; s: number; estimate: number; stderr: number; value: number }[];
}

/**
 * Estimates log p(x) = log E_r[p(x, z) / r(z)] by importance sampling from r = N(0, 2^2) (a wide proposal,
 * not any q), and each ELBO = E_q[log p(x, z) - log q(z)] by Monte Carlo; each value under test must lie
 * within 4 standard errors (plus 1e-4) of its estimate, and each ELBO below log p(x). Throws a CheckError
 * otherwise.
 */
export function checkElbo(input: ElboCheckInput): ElboCheckResult {
  const n = input.samples ?? 100_000;
  const r = new Rng(input.seed ?? 1);
  // 1) Importance sampling: w = p(x, z) / r(z); log mean w, with the delta-method standard error sd(w) / (sqrt(n) mean w).
  const logW = Float64Array.from({ length: n }, () => {
    const z = 2 * r.normal();
    return input.logJoint(z) - logNormal(z, 0, 2);
  });
  const top = logW.reduce((a, b) => Math.max(a, b), -Infinity);
  const w = logW.map((l) => Math.exp(l - top));
  const ws = meanAndStderr(w);
  const logPx = { estimate: top + Math.log(ws.mean), stderr: ws.stderr / ws.mean };
  checkClose(input.logPx, logPx.estimate, { atol: 4 * logPx.stderr + 1e-4, rtol: 0, name: "log p(x) vs importance sampling" });
  // 2) Each ELBO by Monte Carlo over z ~ q.
  const elbo = input.at.map(([m, s]) => {
    const terms = Float64Array.from({ length: n }, () => {
      const z = m + s * r.normal();
      return input.logJoint(z) - logNormal(z, m, s);
    });
    const { mean, stderr } = meanAndStderr(terms);
    const value = input.elbo(m, s);
    checkClose(value, mean, { atol: 4 * stderr + 1e-4, rtol: 0, name: `ELBO of q = N(${m}, ${s}^2) vs Monte Carlo` });
    checkThat(value < input.logPx, `ELBO of q = N(${m}, ${s}^2) (${value}) must lie below log p(x) (${input.logPx})`);
    return { m, s, estimate: mean, stderr, value };
  });
  return { logPx, elbo };
}

/** A KL under test: (mean, logVar) of shape (B, d) -> KL(N(mean, diag exp(logVar)) || N(0, I)) per row, (B). */
export type GaussianKlFn = (mean: tf.Tensor2D, logVar: tf.Tensor2D) => tf.Tensor;

/** KL(N(m, e^lv) || N(0, 1)) by quadrature of q log(q / p) on mean +- 12 sd (step sd / 2,000): the definition. */
export function gaussianKlByQuadrature(m: number, lv: number): number {
  const s = Math.exp(lv / 2);
  const dz = s / 2000;
  let total = 0;
  for (let z = m - 12 * s; z <= m + 12 * s; z += dz) {
    const lq = logNormal(z, m, s);
    total += Math.exp(lq) * (lq - logNormal(z, 0, 1)) * dz;
  }
  return total;
}

/**
 * Checks `kl` on hand values (0 at mean 0, logVar 0; 1/2 at mean 1, logVar 0; (e - 2)/2 at logVar 1) and on a
 * 3-dimensional row against the sum of {@link gaussianKlByQuadrature} over its dimensions. Throws a CheckError.
 */
export function checkGaussianKl(kl: GaussianKlFn, name = "KL"): number[] {
  const rows = { mean: [[0, 0], [1, 0], [0, 0], [0.8, -1.5]], logVar: [[0, 0], [0, 0], [1, 0], [-0.7, 0.4]] };
  const expected = [0, 0.5, (Math.E - 2) / 2, gaussianKlByQuadrature(0.8, -0.7) + gaussianKlByQuadrature(-1.5, 0.4)];
  const actual = tf.tidy(() => Array.from(kl(tf.tensor2d(rows.mean), tf.tensor2d(rows.logVar)).dataSync()));
  if (actual.length !== expected.length) throw new CheckError(`${name}: expected one KL per row (4), got ${actual.length}`);
  checkClose(actual, expected, { atol: 1e-5, rtol: 1e-5, name: `${name} vs hand values and quadrature` });
  return expected;
}
