function myNonSaturatingLoss(fakeLogits: tf.Tensor): tf.Scalar {
  // -log sigmoid(l) = softplus(-l): tf.softplus never forms e^l for large l, so ±100 stay finite.
  return tf.tidy(() => tf.mean(tf.softplus(tf.neg(fakeLogits))) as tf.Scalar);
}
