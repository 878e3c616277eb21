function ddimStep(s: NoiseSchedule, xt: tf.Tensor, eps: tf.Tensor, t: number, sPrev: number): tf.Tensor {
  return tf.tidy(() => {
    // 1) the x_0 the predicted noise implies, 2) move to step sPrev along the same noise direction.
    const x0hat = tf.div(tf.sub(xt, tf.mul(Math.sqrt(1 - s.alphaBars[t]!), eps)), Math.sqrt(s.alphaBars[t]!));
    return tf.add(tf.mul(Math.sqrt(s.alphaBars[sPrev]!), x0hat), tf.mul(Math.sqrt(1 - s.alphaBars[sPrev]!), eps));
  });
}
