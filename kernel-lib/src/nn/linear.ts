/**
 * Linear (dense) layers: x·W + b, written so that their gradients use only untransposed matrix products.
 * Taught in notebooks/01-attention.ipynb (projections) and used by every model.
 */
import * as tf from "@tensorflow/tfjs";
import { requireTensor, ShapeError, shapeText } from "./errors";

/**
 * x·W + b for x (B, in), W (in, out), b (out). The gradient uses only untransposed matrix products:
 * tfjs-backend-wasm 4.22 (without the native addon) multiplies a transposed operand 8-17x slower than a plain one, and the built-in
 * gradient of tf.matMul multiplies two transposed operands; transposing explicitly first is far cheaper.
 * Same values as `x.matMul(W).add(b)` on every backend (checks/gan.test.ts).
 */
export function affine(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  const f = tf.customGrad((...args: unknown[]) => {
    const [xi, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([xi, w]);
    return {
      value: tf.add(tf.matMul(xi, w), b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor2D;
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        // dx = dy·Wᵀ (B, in); dW = xᵀ·dy (in, out); db = Σ_batch dy (out).
        return [tf.matMul(g, tf.transpose(ws)), tf.matMul(tf.transpose(xs), g), tf.sum(g, 0)];
      },
    };
  });
  return f(x, kernel, bias) as tf.Tensor2D;
}

/** Applies x (..., d_in) · w (d_in, d_out) + b to a tensor of any rank (tf.matMul wants equal ranks). */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  requireTensor(x, "x", "linear");
  requireTensor(w, "w", "linear");
  if (b !== undefined) requireTensor(b, "b", "linear");
  const dIn = x.shape[x.rank - 1]!;
  if (w.shape[0] !== dIn) throw new ShapeError(`linear: input has shape ${shapeText(x.shape)} but the weight has shape ${shapeText(w.shape)}`);
  return tf.tidy(() => {
    const flat = x.reshape([-1, dIn]);
    const y = b ? tf.add(tf.matMul(flat, w), b) : tf.matMul(flat, w);
    return y.reshape([...x.shape.slice(0, -1), w.shape[1]!]);
  });
}
