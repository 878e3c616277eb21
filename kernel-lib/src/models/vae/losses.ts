/**
 * The VAE's loss terms: Bernoulli reconstruction from logits, the closed-form Gaussian KL, and the
 * reparameterisation trick. Taught in notebooks/04-vae.ipynb.
 */
import * as tf from "@tensorflow/tfjs";

/** The three numbers the lesson reports, per image (nats). A type alias, so it is a Record for train(). */
export type VaeLoss<T> = {
  /** reconstruction + kl: the negative ELBO. */
  loss: T;
  /** -E_q[log p(x|z)] estimated with one sample of z: the Bernoulli cross-entropy summed over pixels. */
  reconstruction: T;
  /** KL(q(z|x) || N(0, I)), exact. */
  kl: T;
};

/**
 * Binary cross-entropy between targets x in [0, 1] and Bernoulli logits l, summed over the last axis:
 * sum_i [softplus(l_i) - x_i l_i] = -sum_i [x_i log sigmoid(l_i) + (1 - x_i) log(1 - sigmoid(l_i))].
 * Written as max(l, 0) - x l + log(1 + exp(-|l|)), which is finite for every finite l and for x exactly
 * 0 or 1 (the naive form takes log(0) once sigmoid saturates). (B, D) -> (B).
 */
export function bceWithLogits(logits: tf.Tensor, x: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const perPixel = tf.add(tf.sub(tf.relu(logits), tf.mul(x, logits)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
    return tf.sum(perPixel, -1) as tf.Tensor1D;
  });
}

/**
 * KL(N(mean, diag(exp(logVar))) || N(0, I)) = 1/2 sum_j [exp(logVar_j) + mean_j^2 - 1 - logVar_j],
 * summed over the last axis: (B, d) -> (B). Derived in notebooks/04-vae.ipynb.
 */
export function gaussianKl(mean: tf.Tensor, logVar: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => tf.mul(0.5, tf.sum(tf.sub(tf.sub(tf.add(tf.exp(logVar), tf.square(mean)), 1), logVar), -1)) as tf.Tensor1D);
}

/** The reparameterisation z = mean + exp(logVar / 2) * eps with eps ~ N(0, I) given: gradients flow to mean and logVar. */
export function reparameterize(mean: tf.Tensor, logVar: tf.Tensor, eps: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(mean, tf.mul(tf.exp(tf.mul(0.5, logVar)), eps)));
}
