/**
 * What the classifier measures of a set of images: predictions and accuracy, its penultimate features, and the
 * image scores that compare generated images with real ones: FID and KID on the features (metrics/) and the
 * share of each class among the samples. One function, {@link imageScores}, so every image model is scored the
 * same way, for the table that compares the image models of notebooks/04-vae.ipynb to
 * notebooks/06-diffusion.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { classHistogram } from "../../metrics/classes";
import { fid } from "../../metrics/fid";
import { kid, KidOptions } from "../../metrics/kid";
import { Float64Matrix } from "../../metrics/linalg";
import { FashionClassifier } from "./fashion-classifier";

/** Runs `fn` over batches of `images` (N, ...) and concatenates what it reads back. */
function inBatches(images: tf.Tensor, batch: number, fn: (x: tf.Tensor) => tf.Tensor): { values: Float32Array | Int32Array; perRow: number }[] {
  const n = images.shape[0]!;
  if (n === 0) throw new RangeError("classifier: no images");
  const out: { values: Float32Array | Int32Array; perRow: number }[] = [];
  for (let start = 0; start < n; start += batch) {
    const size = Math.min(batch, n - start);
    const y = tf.tidy(() => fn(tf.slice(images, start, size)));
    out.push({ values: y.dataSync() as Float32Array | Int32Array, perRow: y.size / size });
    y.dispose();
  }
  return out;
}

/** The predicted class of each image (N), in batches of `batch`. */
export function classify(model: FashionClassifier, images: tf.Tensor, batch = 500): Int32Array {
  const parts = inBatches(images, batch, (x) => tf.argMax(model.apply(x), 1));
  return Int32Array.from(parts.flatMap((p) => Array.from(p.values)));
}

/** The share of images whose predicted class equals the label. */
export function accuracy(model: FashionClassifier, images: tf.Tensor, labels: ArrayLike<number>, batch = 500): number {
  const predicted = classify(model, images, batch);
  if (labels.length !== predicted.length) throw new RangeError(`accuracy: ${labels.length} labels for ${predicted.length} images`);
  let right = 0;
  predicted.forEach((p, i) => (right += p === labels[i] ? 1 : 0));
  return right / predicted.length;
}

/** The penultimate features of each image, as an (N, features) float64 matrix. */
export function classifierFeatures(model: FashionClassifier, images: tf.Tensor, batch = 500): Float64Matrix {
  const parts = inBatches(images, batch, (x) => model.features(x));
  const cols = parts[0]!.perRow;
  const data = new Float64Array(images.shape[0]! * cols);
  let offset = 0;
  for (const p of parts) {
    data.set(p.values, offset);
    offset += p.values.length;
  }
  return { rows: images.shape[0]!, cols, data };
}

/** How a set of generated images compares with real ones, on the classifier's features. */
export interface ImageScores {
  fid: number;
  kid: number;
  kidStandardError: number;
  /** Share of the samples the classifier puts in each class. */
  classShares: number[];
  /** Number of generated images scored. */
  count: number;
}

/**
 * FID and KID of `generated` against `real` (images (N, 28, 28[, 1]) in [0, 1]) on the classifier's features,
 * and the class shares of `generated`. Pass the real set's features (from {@link classifierFeatures}) to reuse
 * them across models.
 */
export function imageScores(model: FashionClassifier, real: tf.Tensor | Float64Matrix, generated: tf.Tensor, kidOptions: KidOptions = {}): ImageScores {
  const realFeatures = real instanceof tf.Tensor ? classifierFeatures(model, real) : real;
  const genFeatures = classifierFeatures(model, generated);
  const k = kid(realFeatures, genFeatures, kidOptions);
  return {
    fid: fid(realFeatures, genFeatures),
    kid: k.kid,
    kidStandardError: k.standardError,
    classShares: classHistogram(classify(model, generated), model.config.numClasses),
    count: genFeatures.rows,
  };
}
