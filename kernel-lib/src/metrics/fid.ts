/**
 * The Fréchet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to
 * a Local Nash Equilibrium", eq. 6), here on the features of our own Fashion-MNIST classifier: the Fréchet
 * (2-Wasserstein) distance between Gaussians fitted to two sets of features,
 *
 *   d² = |μ₁ - μ₂|² + tr(Σ₁ + Σ₂ - 2 (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2})    (Dowson and Landau 1982).
 *
 * Computed in float64 with symmetric matrices only: R = Σ₁^{1/2} by a Jacobi eigen-decomposition, then the
 * eigenvalues λ of the symmetric PSD matrix R Σ₂ R give tr((R Σ₂ R)^{1/2}) = Σ sqrt(max(λ, 0)). This equals
 * tr((Σ₁ Σ₂)^{1/2}) (the two matrices are similar) but never needs the square root of a non-symmetric matrix,
 * which is where scipy.linalg.sqrtm can return complex parts. Taught in notebooks/04-vae.ipynb (section 9), and behind
 * the image models' table of 03, 05-gan and notebooks/06-diffusion.ipynb; tested in checks/metrics.test.ts.
 */
import { Features, Float64Matrix, matMul64, meanAndCovariance, sqrtPsd, symmetricEigen } from "./linalg";

/** A Gaussian fitted to features: mean and covariance, float64. */
export interface FeatureGaussian {
  mean: Float64Array;
  cov: Float64Matrix;
  /** How many feature rows it was fitted to. */
  count: number;
}

/** Fits a Gaussian (mean, unbiased covariance) to feature rows. */
export function fitGaussian(features: Features, name = "features"): FeatureGaussian {
  const { mean, cov } = meanAndCovariance(features, name);
  return { mean, cov, count: Array.isArray(features) ? features.length : (features as Float64Matrix).rows };
}

/** The Fréchet distance d² between two Gaussians (see the file comment for the formula and how it is computed). */
export function frechetDistance(a: { mean: ArrayLike<number>; cov: Float64Matrix }, b: { mean: ArrayLike<number>; cov: Float64Matrix }): number {
  const d = a.mean.length;
  if (b.mean.length !== d || a.cov.rows !== d || a.cov.cols !== d || b.cov.rows !== d || b.cov.cols !== d) {
    throw new RangeError(`frechetDistance: means of ${a.mean.length} and ${b.mean.length} numbers, covariances ${a.cov.rows}x${a.cov.cols} and ${b.cov.rows}x${b.cov.cols}`);
  }
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (a.mean[i]! - b.mean[i]!) ** 2;
  let traces = 0;
  for (let i = 0; i < d; i++) traces += a.cov.data[i * d + i]! + b.cov.data[i * d + i]!;
  const r = sqrtPsd(a.cov);
  const m = matMul64(matMul64(r, b.cov), r);
  // R Σ₂ R is symmetric in exact arithmetic; average it with its transpose to remove rounding asymmetry.
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const v = (m.data[i * d + j]! + m.data[j * d + i]!) / 2;
      m.data[i * d + j] = v;
      m.data[j * d + i] = v;
    }
  }
  const { values } = symmetricEigen(m);
  let cross = 0;
  for (const l of values) cross += Math.sqrt(Math.max(l, 0));
  // Rounding can take a distance of two equal sets a hair below zero.
  return Math.max(meanTerm + traces - 2 * cross, 0);
}

/** FID between two sets of feature rows (each at least 2 rows; the same feature size). */
export function fid(real: Features, generated: Features): number {
  return frechetDistance(fitGaussian(real, "real features"), fitGaussian(generated, "generated features"));
}
