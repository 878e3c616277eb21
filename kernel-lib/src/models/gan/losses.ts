/**
 * GAN losses from the discriminator's logits l (D = sigmoid(l)), and the optimal discriminator
 * (Goodfellow et al. 2014). Taught in notebooks/05-gan.ipynb.
 */
import * as tf from "@tensorflow/tfjs";

// log D = -softplus(-l) and log(1 - D) = -softplus(l), so every GAN loss below is a mean of softplus(±l).
// tf.softplus never forms e^l for large l (it returns l above a threshold, e^l far below it), so the losses
// stay finite for logits of ±100, where sigmoid rounds to exactly 0 or 1 in float32 and log(sigmoid) is -Inf.
const softplus = (x: tf.Tensor): tf.Tensor => tf.softplus(x);

/**
 * The discriminator's loss -V(D, G) for one batch: -mean log D(x) - mean log(1 - D(G(z))) =
 * mean softplus(-l_real) + mean softplus(l_fake). Its minimum over D is log 4 - 2 JSD (notebooks/05-gan).
 */
export function discriminatorLoss(realLogits: tf.Tensor, fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.add(tf.mean(softplus(tf.neg(realLogits))), tf.mean(softplus(fakeLogits))) as tf.Scalar);
}

/**
 * The generator's loss of the original min-max game, minimised: mean log(1 - D(G(z))) = -mean softplus(l_fake).
 * It saturates: when D confidently rejects the fakes (l_fake -> -∞) its gradient sigmoid(l_fake)/B vanishes.
 */
export function minimaxGeneratorLoss(fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(softplus(fakeLogits))) as tf.Scalar);
}

/**
 * The non-saturating generator loss (Goodfellow et al. 2014, section 3): -mean log D(G(z)) =
 * mean softplus(-l_fake). Same fixed point as the min-max loss, but its gradient -sigmoid(-l_fake)/B tends to
 * -1/B, not 0, when D confidently rejects the fakes.
 */
export function nonSaturatingGeneratorLoss(fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(softplus(tf.neg(fakeLogits))) as tf.Scalar);
}

/** Which generator loss a {@link Gan} minimises. */
export type GeneratorLossKind = "non-saturating" | "minimax";

/** The generator loss of the given kind. */
export function generatorLoss(kind: GeneratorLossKind, fakeLogits: tf.Tensor): tf.Scalar {
  return kind === "minimax" ? minimaxGeneratorLoss(fakeLogits) : nonSaturatingGeneratorLoss(fakeLogits);
}

/** The optimal discriminator for fixed G (Goodfellow et al. 2014, Proposition 1): D*(x) = p_data(x) / (p_data(x) + p_g(x)). */
export function optimalDiscriminator(pData: number, pG: number): number {
  if (!(pData >= 0) || !(pG >= 0)) throw new RangeError(`optimalDiscriminator: densities must be >= 0, got ${pData} and ${pG}`);
  // Where neither distribution has mass D* is undefined; 1/2 is the limit along p_data = p_g.
  return pData + pG === 0 ? 0.5 : pData / (pData + pG);
}
