/**
 * A check of lesson 05's discriminator loss that a wrong formula fails: -V from logits against the value
 * function's definition in float64 (probabilities first, then logarithms), on logits up to +-100, plus
 * the hand value 2 ln 2 at logit 0. Taught in notebooks/05-gan.ipynb; checks/lesson-checks.test.ts shows
 * it failing on a wrong loss.
 */
import * as tf from "@tensorflow/tfjs";
import { checkClose } from "../check";

/** A discriminator loss under test: D's logits on real and on fake samples -> -V, a scalar. */
export type DiscriminatorLossFn = (realLogits: tf.Tensor, fakeLogits: tf.Tensor) => tf.Scalar;

/**
 * -V = -(mean log D(x) + mean log(1 - D(G(z)))) by the definition: D = 1 / (1 + e^-l) and
 * 1 - D = 1 / (1 + e^l) in float64, where e^100 is still finite, then their logarithms.
 */
export function discriminatorLossByDefinition(realLogits: number[], fakeLogits: number[]): number {
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const logD = realLogits.map((l) => Math.log(1 / (1 + Math.exp(-l))));
  const log1mD = fakeLogits.map((l) => Math.log(1 / (1 + Math.exp(l))));
  return -(mean(logD) + mean(log1mD));
}

/** Checks `loss` on logits up to +-100 against {@link discriminatorLossByDefinition} and at 0 against 2 ln 2. */
export function checkDiscriminatorLoss(loss: DiscriminatorLossFn, name = "discriminator loss"): number {
  const real = [2, -0.5, 100, -100];
  const fake = [-1, 0.3, -100, 100];
  const [atZero, value] = tf.tidy(() => [
    loss(tf.zeros([4]), tf.zeros([4])).dataSync()[0]!,
    loss(tf.tensor1d(real), tf.tensor1d(fake)).dataSync()[0]!,
  ]);
  checkClose(atZero, 2 * Math.LN2, { rtol: 1e-6, name: `${name} at logits 0 vs 2 ln 2` });
  const expected = discriminatorLossByDefinition(real, fake);
  checkClose(value, expected, { rtol: 1e-5, name: `${name} vs the definition in float64` });
  return expected;
}
