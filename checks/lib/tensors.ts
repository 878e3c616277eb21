/** Helpers shared by the tensor tests: backend equivalence, element-wise closeness. */
import assert from "node:assert/strict";
import { tf } from "kernel-lib";

/** A computation whose outputs are compared across backends. */
export type Fn = () => tf.Tensor | tf.Tensor[];

/** Runs `f` inside tf.tidy on the active backend and returns every output as a flat array (outputs disposed). */
export async function evalOutputs(f: Fn): Promise<number[][]> {
  const out = tf.tidy(f);
  const list = Array.isArray(out) ? out : [out];
  const values = await Promise.all(list.map(async (t) => Array.from(await t.data())));
  tf.dispose(list);
  return values;
}

/** Asserts |actual - expected| <= tol * (1 + |expected|) element by element, and that every actual value is finite. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    assert.ok(Number.isFinite(a) && Math.abs(a - e) <= tol * (1 + Math.abs(e)), `${what}[${i}]: got ${a}, expected ${e} (tol ${tol})`);
  }
}

/** A tensor's values as a plain array. */
export const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());
