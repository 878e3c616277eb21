/**
 * What classifier-free guidance trades, measured on class-conditioned samples with the shipped Fashion-MNIST
 * classifier: fidelity (the share of samples the classifier puts in the requested class) against diversity
 * (the within-class variance of the classifier's features), next to FID and KID against the test set. Taught in
 * notebooks/07-latent-diffusion.ipynb; scripts/compare-latent-diffusion.ts fills the lesson's table with it.
 */
import * as tf from "@tensorflow/tfjs";
import { classifierFeatures, classify, imageScores } from "../classifier/evaluate";
import { FashionClassifier } from "../classifier/fashion-classifier";
import { Float64Matrix } from "../../metrics/linalg";

/**
 * The mean over classes of the within-class variance of feature vectors: for each class c with at least two
 * rows, the average squared distance of its rows to their mean, sum_j Var(f_j | c); then averaged over classes.
 */
export function withinClassVariance(features: Float64Matrix, labels: ArrayLike<number>): number {
  if (labels.length !== features.rows) throw new RangeError(`withinClassVariance: ${labels.length} labels for ${features.rows} rows`);
  const { cols, data } = features;
  const byClass = new Map<number, number[]>();
  Array.from(labels).forEach((y, i) => (byClass.get(y) ?? byClass.set(y, []).get(y)!).push(i));
  let total = 0;
  let classes = 0;
  for (const rows of byClass.values()) {
    if (rows.length < 2) continue;
    const mean = new Float64Array(cols);
    for (const r of rows) for (let j = 0; j < cols; j++) mean[j] += data[r * cols + j]! / rows.length;
    let ss = 0;
    for (const r of rows) for (let j = 0; j < cols; j++) ss += (data[r * cols + j]! - mean[j]!) ** 2;
    total += ss / (rows.length - 1);
    classes += 1;
  }
  if (classes === 0) throw new RangeError("withinClassVariance: no class has two rows");
  return total / classes;
}

/** Fidelity and diversity of class-conditioned samples. */
export interface GuidanceScores {
  /** Share of samples the classifier assigns to the requested class. */
  classAccuracy: number;
  /** {@link withinClassVariance} of the classifier's features, grouped by requested class. */
  withinClassVariance: number;
  fid: number;
  kid: number;
  kidStandardError: number;
  count: number;
}

/**
 * Scores images generated for `labels` (requested classes) against real images' features (from
 * classifierFeatures on the test set).
 */
export function guidanceScores(classifier: FashionClassifier, realFeatures: Float64Matrix, images: tf.Tensor, labels: ArrayLike<number>, kidSubsetSize = 1000): GuidanceScores {
  if (labels.length !== images.shape[0]) throw new RangeError(`guidanceScores: ${labels.length} labels for ${images.shape[0]} images`);
  const s = imageScores(classifier, realFeatures, images, { subsets: 100, subsetSize: Math.min(kidSubsetSize, images.shape[0]!, realFeatures.rows) });
  const predicted = classify(classifier, images);
  let right = 0;
  predicted.forEach((p, i) => (right += p === labels[i] ? 1 : 0));
  return {
    classAccuracy: right / predicted.length,
    withinClassVariance: withinClassVariance(classifierFeatures(classifier, images), labels),
    fid: s.fid,
    kid: s.kid,
    kidStandardError: s.kidStandardError,
    count: s.count,
  };
}
