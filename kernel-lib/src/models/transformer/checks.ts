/**
 * Where the positional encoding goes, measured: the self-attention weights of each layer of a residual
 * attention stack, and how far each layer is from permutation equivariance. Taught in
 * notebooks/02-transformer.ipynb; checks/lesson-checks.test.ts shows the check failing on a wrong placement.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiHeadAttention } from "../attention";
import { CheckError } from "../../notebook/check";

/** Where a stack adds the encoding: nowhere, to its inputs, or to the output of layer 1's attention. */
export type PositionPlacement = "none" | "input" | "afterFirstAttention";

/**
 * The attention weights (1, h, T, T) of every layer of the stack h <- h + attn_l(h), with the encoding
 * `pe` (T, d) added at `placement`. `pe` is indexed by position, so it does not move when the tokens do.
 */
export function stackAttentionWeights(layers: MultiHeadAttention[], x: tf.Tensor, pe: tf.Tensor, placement: PositionPlacement): tf.Tensor[] {
  return tf.tidy(() => {
    let h = placement === "input" ? tf.add(x, pe) : x;
    const weights: tf.Tensor[] = [];
    layers.forEach((layer, l) => {
      const { output, weights: w } = layer.apply(h);
      weights.push(w);
      h = tf.add(h, output); // residual
      if (l === 0 && placement === "afterFirstAttention") h = tf.add(h, pe);
    });
    return weights;
  });
}

/**
 * For each layer l: max |W_l(P x) - P W_l(x) P^T|, with P permuting the token axis (axis 1) of x by `perm`.
 * 0 means the layer's weights cannot tell the two orders apart.
 */
export function orderSensitivity(weightsOf: (x: tf.Tensor) => tf.Tensor[], x: tf.Tensor, perm: number[]): number[] {
  return tf.tidy(() => {
    const idx = tf.tensor1d(perm, "int32");
    const permuted = weightsOf(tf.gather(x, idx, 1));
    return weightsOf(x).map((w, l) => {
      const pwp = tf.gather(tf.gather(w, idx, 2), idx, 3); // P W P^T
      return tf.max(tf.abs(tf.sub(permuted[l]!, pwp))).dataSync()[0]!;
    });
  });
}

/**
 * Checks that layer l is blind to order (sensitivity < 1e-5) where `sees[l]` is false and sees it
 * (> 1e-2) where true; throws a CheckError naming the first layer that does not. Returns the sensitivities.
 */
export function checkOrderSensitivity(weightsOf: (x: tf.Tensor) => tf.Tensor[], x: tf.Tensor, perm: number[], sees: boolean[], name: string): number[] {
  const measured = orderSensitivity(weightsOf, x, perm);
  if (measured.length !== sees.length) throw new CheckError(`${name}: ${measured.length} layers measured, ${sees.length} expected`);
  measured.forEach((m, l) => {
    const ok = sees[l] ? m > 1e-2 : m < 1e-5;
    if (!ok) throw new CheckError(`${name}: layer ${l + 1} should ${sees[l] ? "see" : "be blind to"} the order, but max |W(Px) - P W(x) P^T| = ${m.toExponential(2)}`);
  });
  return measured;
}
