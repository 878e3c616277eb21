function guidedEps(epsCond: tf.Tensor, epsNull: tf.Tensor, w: number): tf.Tensor {
  // (1 + w) eps(z, y) - w eps(z, none): w = 0 is the conditional estimate.
  return tf.tidy(() => tf.sub(tf.mul(1 + w, epsCond), tf.mul(w, epsNull)));
}
