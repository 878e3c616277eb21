/**
 * PacGAN's packing (Lin et al. 2018): the discriminator judges m samples at once. Taught in notebooks/05-gan.ipynb.
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Packs m samples into one discriminator input (Lin et al. 2018, "PacGAN", section 3): (B, ...) ->
 * (B/m, m·features) for flat samples, or (B/m, H, W, m·C) for images, so D judges m samples at once.
 * Consecutive samples form a pack. m = 1 returns the input reshaped only.
 */
export function packSamples(x: tf.Tensor, m: number): tf.Tensor {
  const B = x.shape[0]!;
  if (!Number.isInteger(m) || m < 1 || B % m !== 0) throw new RangeError(`packSamples: batch ${B} is not a multiple of the pack size ${m}`);
  return tf.tidy(() => {
    if (x.rank === 4) {
      const [, H, W, C] = x.shape as [number, number, number, number];
      // (B/m, m, H, W, C) -> (B/m, H, W, m, C): the pack's images become channels.
      return tf.reshape(tf.transpose(tf.reshape(x, [B / m, m, H, W, C]), [0, 2, 3, 1, 4]), [B / m, H, W, m * C]);
    }
    return tf.reshape(x, [B / m, -1]);
  });
}
