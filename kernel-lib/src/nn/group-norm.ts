/**
 * Group normalisation (Wu and He 2018): the channels of each example split into G groups, each normalised over
 * its channels and all positions, then scaled and shifted per channel. Unlike batch norm it does not depend on the
 * batch, so a denoiser behaves the same at any batch size. Used by the U-Net denoiser of
 * notebooks/05-diffusion.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "./errors";

/** GroupNorm of x (B, H, W, C) with `groups` groups (C divisible by it), per-channel gamma and beta (C). */
export function groupNorm(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, groups: number, eps = 1e-5): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) throw new ShapeError(`groupNorm: ${c} channels do not split into ${groups} groups`);
  if (gamma.size !== c || beta.size !== c) throw new ShapeError(`groupNorm: x has ${c} channels, gamma ${gamma.size} and beta ${beta.size}`);
  return tf.tidy(() => {
    const g = tf.reshape(x, [n, h, w, groups, c / groups]);
    const { mean, variance } = tf.moments(g, [1, 2, 4], true);
    return tf.add(tf.mul(tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, eps))), [n, h, w, c]), gamma), beta) as tf.Tensor4D;
  });
}
