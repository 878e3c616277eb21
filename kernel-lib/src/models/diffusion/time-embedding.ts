/**
 * The sinusoidal embedding of the timestep t that conditions a denoiser. Taught in notebooks/06-diffusion.ipynb.
 */
import * as tf from "@tensorflow/tfjs";

/**
 * The sinusoidal embedding of timesteps (Vaswani et al. 2017, section 3.5, as used for t by Ho et al. 2020,
 * section 4): for k < dim/2, e_k = sin(t w_k) and e_{k + dim/2} = cos(t w_k), with w_k = 10000^(-k / (dim/2 - 1)).
 * Computed in JavaScript (t is data, never differentiated): (B) -> (B, dim).
 */
export function timestepEmbedding(t: ArrayLike<number>, dim: number): tf.Tensor2D {
  if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0) throw new RangeError(`timestepEmbedding: dim must be an even integer >= 2, got ${dim}`);
  const half = dim / 2;
  const out = new Float32Array(t.length * dim);
  for (let i = 0; i < t.length; i++) {
    for (let k = 0; k < half; k++) {
      const w = half === 1 ? 1 : Math.exp((-Math.log(10000) * k) / (half - 1));
      out[i * dim + k] = Math.sin(t[i]! * w);
      out[i * dim + half + k] = Math.cos(t[i]! * w);
    }
  }
  return tf.tensor2d(out, [t.length, dim]);
}
