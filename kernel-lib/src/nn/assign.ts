/**
 * Setting a variable's value without leaving a tensor behind. `v.assign(t)` makes `v` share `t`'s data and
 * leaves `t` a live tensor of its own (tf.memory().numTensors counts it) until it is disposed; these helpers
 * dispose it, so a lesson that re-draws or perturbs weights ends with only its variables alive.
 * Used in notebooks/01-attention.ipynb (multi-head check, gradient check) and notebooks/02-transformer.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../runtime/random";

/** Sets `variable` to `values` (row-major, its own shape); throws a RangeError naming both sizes when they differ. */
export function assignValues(variable: tf.Variable, values: ArrayLike<number>): void {
  if (values.length !== variable.size) {
    throw new RangeError(`assignValues: ${variable.name} has ${variable.size} entries [${variable.shape.join(", ")}], got ${values.length} values`);
  }
  const t = tf.tensor(Float32Array.from(values), variable.shape, "float32");
  variable.assign(t);
  t.dispose(); // the variable keeps the data
}

/**
 * Re-draws each variable, in order, from N(0, std^2), one seed from `r` per variable (so the draws equal
 * `tf.randomNormal(v.shape, 0, std, "float32", r.seed())` taken in the same order). Throws on a std that is
 * not a finite number >= 0.
 */
export function redrawNormal(variables: tf.Variable[], std: number, r: Rng): void {
  if (!(Number.isFinite(std) && std >= 0)) throw new RangeError(`redrawNormal: std must be a finite number >= 0, got ${std}`);
  for (const v of variables) {
    if (!(v instanceof tf.Variable)) throw new TypeError(`redrawNormal: expected tf.Variables, got ${String(v)}`);
    const t = tf.randomNormal(v.shape, 0, std, "float32", r.seed());
    v.assign(t);
    t.dispose();
  }
}
