/**
 * LayerNorm over the last axis with its gradient written out. Taught in notebooks/02-transformer.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { requireTensor, ShapeError } from "./errors";

/**
 * LayerNorm over the last axis (Ba et al. 2016): (x - mean) / sqrt(var + eps) * gamma + beta.
 * The gradient is written out (the standard closed form below) rather than differentiated through
 * tf.moments: the same numbers with about half the ops, which matters on one CPU core.
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): tf.Tensor {
  requireTensor(x, "x", "layerNorm");
  requireTensor(gamma, "gamma", "layerNorm");
  requireTensor(beta, "beta", "layerNorm");
  const d = x.shape[x.rank - 1]!;
  if (gamma.size !== d || beta.size !== d) throw new ShapeError(`layerNorm: x has shape [${x.shape.join(", ")}] but gamma has [${gamma.shape.join(", ")}] and beta [${beta.shape.join(", ")}]`);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, g, b] = args as [tf.Tensor, tf.Tensor, tf.Tensor];
    const save = args[3] as tf.GradSaveFunc;
    const [xHat, rstd] = tf.tidy(() => {
      const { mean, variance } = tf.moments(xIn, -1, true);
      const r = tf.rsqrt(tf.add(variance, eps)); // (..., 1)
      return [tf.mul(tf.sub(xIn, mean), r), r];
    });
    save([xHat, rstd, g]);
    return {
      value: tf.tidy(() => tf.add(tf.mul(xHat, g), b)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, r, gm] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        // dx = rstd * (dxHat - mean(dxHat) - xHat * mean(dxHat * xHat)), with dxHat = dy * gamma.
        const dxHat = tf.mul(dy, gm);
        const dx = tf.mul(r, tf.sub(tf.sub(dxHat, tf.mean(dxHat, -1, true)), tf.mul(xh, tf.mean(tf.mul(dxHat, xh), -1, true))));
        const flatDy = dy.reshape([-1, d]);
        const dGamma = tf.sum(tf.mul(flatDy, xh.reshape([-1, d])), 0).reshape(gm.shape);
        const dBeta = tf.sum(flatDy, 0).reshape(gm.shape);
        return [dx, dGamma, dBeta];
      },
    };
  });
  return op(x, gamma, beta);
}
