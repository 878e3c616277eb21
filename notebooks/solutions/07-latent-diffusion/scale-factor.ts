function scaleFactorOf(latents: tf.Tensor): number {
  // 1 / std over all entries: the variance of s · latents is then s^2 Var = 1.
  const variance = tf.tidy(() => tf.moments(latents.reshape([-1])).variance.dataSync()[0]!);
  return 1 / Math.sqrt(variance);
}
