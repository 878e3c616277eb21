/**
 * Weight initialisers: PyTorch's default uniform init and a variable made inside tf.tidy.
 * Used by every model; the uniform init is discussed in notebooks/05-gan.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../runtime/random";

/** PyTorch's default Linear/Conv init, U(-1/√fanIn, 1/√fanIn) for weights and biases, so the lesson's GANs match the reference runs. */
export function uniformInit(shape: number[], fanIn: number, r: Rng): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.randomUniform(shape, -bound, bound, "float32", r.seed());
}


/**
 * A variable initialised from `init()`, inside tf.tidy so the initial tensor is disposed (the variable keeps
 * its own reference to the data): building a model leaves exactly its variables behind.
 */
export function param(init: () => tf.Tensor): tf.Variable {
  return tf.tidy(() => tf.variable(init()));
}
