/**
 * Sinusoidal positional encodings (Vaswani et al. 2017, §3.5). Taught in notebooks/02-transformer.ipynb.
 */
import * as tf from "@tensorflow/tfjs";

/**
 * The sinusoidal positional encoding (Vaswani et al. 2017, §3.5), (T, dModel):
 * PE[pos, 2i] = sin(pos / 10000^(2i/dModel)), PE[pos, 2i+1] = cos(pos / 10000^(2i/dModel)).
 * It is added to the input embeddings (not to the attention output).
 */
export function sinusoidalPositionalEncoding(T: number, dModel: number): tf.Tensor2D {
  if (!Number.isInteger(T) || T < 1 || !Number.isInteger(dModel) || dModel < 1) {
    throw new RangeError(`sinusoidalPositionalEncoding: T and dModel must be positive integers, got ${T} and ${dModel}`);
  }
  const data = new Float32Array(T * dModel);
  for (let pos = 0; pos < T; pos++) {
    for (let j = 0; j < dModel; j++) {
      const i2 = j - (j % 2); // the even index 2i shared by the sin/cos pair
      const angle = pos / Math.pow(10000, i2 / dModel);
      data[pos * dModel + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return tf.tensor2d(data, [T, dModel]);
}
