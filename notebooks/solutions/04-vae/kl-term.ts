function klTerm(mean: tf.Tensor2D, logVar: tf.Tensor2D): tf.Tensor1D {
  // 1/2 sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2), one number per row.
  return tf.tidy(() => tf.sum(tf.exp(logVar).add(mean.square()).sub(1).sub(logVar), 1).mul(0.5) as tf.Tensor1D);
}
