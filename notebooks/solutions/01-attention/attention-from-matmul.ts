function myAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const dK = q.shape[q.rank - 1]!;
    const scores = tf.matMul(q, k, false, true).div(Math.sqrt(dK)); // (..., Tq, Tk)
    const masked = tf.where(tf.cast(mask, "bool"), scores, tf.fill(scores.shape, -1e9));
    return tf.matMul(tf.softmax(masked), v); // (..., Tq, dV)
  });
}
