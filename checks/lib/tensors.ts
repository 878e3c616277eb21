/** Helpers shared by the backend-equivalence tests. */
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
