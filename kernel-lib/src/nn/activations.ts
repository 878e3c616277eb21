/**
 * Nonlinearities by name (ReLU, LeakyReLU, tanh, sigmoid) and GELU.
 * Used from notebooks/02-transformer.ipynb (GELU) and notebooks/05-gan.ipynb on.
 */
import * as tf from "@tensorflow/tfjs";

/** Hidden and output nonlinearities. "leakyRelu" uses slope 0.2 (Radford et al. 2016, DCGAN, section 3). */
export type Activation = "relu" | "leakyRelu" | "tanh" | "sigmoid" | "linear";

/** Applies an {@link Activation}. */
export function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  switch (activation) {
    case "relu":
      return tf.relu(x);
    case "leakyRelu":
      return tf.leakyRelu(x, 0.2);
    case "tanh":
      return tf.tanh(x);
    case "sigmoid":
      return tf.sigmoid(x);
    case "linear":
      return x;
  }
}

/** GELU, tanh approximation (Hendrycks & Gimpel 2016), as GPT-2 uses. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    // x * x * x rather than tf.pow(x, 3): the same value, and a much cheaper gradient.
    const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}
