/**
 * Cross-entropy of logits against integer targets. Taught in notebooks/02-transformer.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "./errors";

/** Mean cross-entropy (nats) of logits (N, V) against integer targets (N). */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  const V = logits.shape[logits.rank - 1]!;
  return tf.tidy(() => {
    const flat = logits.reshape([-1, V]);
    const t = targets.reshape([-1]);
    if (t.shape[0] !== flat.shape[0]) throw new ShapeError(`crossEntropy: logits have shape [${logits.shape.join(", ")}] but targets [${targets.shape.join(", ")}]`);
    // -log softmax(logits)[target], averaged; logSoftmax is computed stably (max subtracted).
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(t.toInt(), V), tf.logSoftmax(flat)), -1))) as tf.Scalar;
  });
}
