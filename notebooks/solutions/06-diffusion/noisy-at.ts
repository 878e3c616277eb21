function noisyAt(x0: tf.Tensor, t: number, eps: tf.Tensor, alphaBars: ArrayLike<number>): tf.Tensor {
  // sqrt(alphaBar_t) x0 + sqrt(1 - alphaBar_t) eps.
  return tf.tidy(() => tf.add(tf.mul(Math.sqrt(alphaBars[t]!), x0), tf.mul(Math.sqrt(1 - alphaBars[t]!), eps)));
}
