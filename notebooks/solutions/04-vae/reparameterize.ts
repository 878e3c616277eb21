function sampleLatent(mean: tf.Tensor, logVar: tf.Tensor, eps: tf.Tensor): tf.Tensor {
  // sigma = exp(logVar / 2); eps is given, so the sample is a differentiable function of mean and logVar.
  return tf.tidy(() => mean.add(tf.exp(logVar.mul(0.5)).mul(eps)));
}
