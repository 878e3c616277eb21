import { Direction } from "kernel-lib";

// Prediction, before measuring: without a scale the scores have standard deviation 16, the softmax is one-hot and
// its gradient vanishes; over d_k they have standard deviation 1/16, the softmax is nearly uniform and still passes
// a gradient, about as large as with sqrt(d_k).
const scalePrediction: { unscaled: Direction; overDk: Direction } | undefined = { unscaled: "smaller", overDk: "about the same" };

function scoreGradient(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, g: tf.Tensor3D, scale: number): number {
  return tf.tidy(() => {
    // 1) the scores, 2) L as a function of the scores, 3) its gradient, 4) the median norm over the batch.
    const scores = tf.div(tf.matMul(q, k, false, true), scale); // (n, 1, T)
    const lossOfScores = (s: tf.Tensor) => tf.sum(tf.mul(tf.matMul(tf.softmax(s), v), g)) as tf.Scalar;
    const grad = tf.grad(lossOfScores)(scores); // (n, 1, T)
    const norms = Array.from(tf.sqrt(tf.sum(tf.square(grad), [1, 2])).dataSync()).sort((a, b) => a - b);
    return norms[Math.floor(norms.length / 2)]!;
  });
}
