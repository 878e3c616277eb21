/**
 * Class coverage of generated images: the share of samples a classifier assigns to each class. A model that
 * drops a class shows it here even when its FID looks fine. For the table that compares the image models of
 * notebooks/04-vae.ipynb, 05-gan and notebooks/06-diffusion.ipynb; tested in checks/metrics.test.ts.
 */

/** The share of `labels` (class indices 0..numClasses-1) in each class; the shares sum to 1. */
export function classHistogram(labels: ArrayLike<number>, numClasses: number): number[] {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`classHistogram: numClasses must be a positive integer, got ${numClasses}`);
  if (labels.length === 0) throw new RangeError("classHistogram: no labels");
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) throw new RangeError(`classHistogram: label ${i} is ${c}, not a class in 0..${numClasses - 1}`);
    counts[c]! += 1;
  }
  return counts.map((n) => n / labels.length);
}
