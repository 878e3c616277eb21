/**
 * Group normalisation (Wu and He 2018): the channels of each example split into G groups, each normalised over
 * its channels and all positions, then scaled and shifted per channel. Unlike batch norm it does not depend on the
 * batch, so a denoiser behaves the same at any batch size. The kernels: runtime/image-kernels.ts. Used by the
 * U-Net denoiser of notebooks/06-diffusion.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { groupNormFast } from "../runtime/image-kernels";

/** GroupNorm of x (B, H, W, C) with `groups` groups (C divisible by it), per-channel gamma and beta (C). */
export function groupNorm(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, eps = 1e-5): tf.Tensor4D {
  // groupNormFast checks the sizes (channels divisible by groups, gamma and beta of C) and names them.
  // One native pass forward and one backward on wasm+native; the same formula as tfjs ops elsewhere.
  return groupNormFast(x, gamma, beta, groups, eps);
}
