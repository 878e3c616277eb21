import { CharGPT, Temperature } from "kernel-lib";

// Prediction, before measuring: training minimised this very cross-entropy at temperature 1, so 1 should fit best.
const temperaturePrediction: Temperature | undefined = 1;

function heldOutLoss(model: CharGPT, ids: Int32Array, temperature: number): number {
  return tf.tidy(() => {
    // 1) windows of the context length, targets shifted by one; 2) log-softmax of logits / temperature; 3) mean NLL.
    const T = model.config.contextLength;
    const windows = Math.floor((ids.length - 1) / T);
    const x = tf.tensor2d(Array.from({ length: windows }, (_, w) => Array.from(ids.subarray(w * T, w * T + T))), [windows, T], "int32");
    const y = tf.tensor2d(Array.from({ length: windows }, (_, w) => Array.from(ids.subarray(w * T + 1, w * T + T + 1))), [windows, T], "int32");
    const logProbs = tf.logSoftmax(tf.div(model.logits(x), temperature)); // (windows, T, V)
    const picked = tf.sum(tf.mul(logProbs, tf.oneHot(y, logProbs.shape[2]!)), -1); // (windows, T)
    return -tf.mean(picked).dataSync()[0]!;
  });
}
