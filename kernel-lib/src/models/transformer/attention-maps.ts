/**
 * Reading a trained model's attention maps (rows are queries, columns keys): the check that each is causal and
 * normalised, and how much weight a head puts a fixed number of characters back. Taught in
 * notebooks/02-transformer.ipynb ("What a trained head looks at").
 */
import { CheckError } from "../../notebook/check";

/**
 * The mean weight that a (T, T) map's queries put on the key `offset` positions back (0: the query itself,
 * 1: the previous character), over the T - offset queries that have such a key.
 */
export function offsetWeight(map: number[][], offset: number): number {
  const T = map.length;
  if (!(Number.isInteger(offset) && offset >= 0 && offset < T)) throw new RangeError(`offsetWeight: offset must be an integer from 0 to ${T - 1}, got ${offset}`);
  let total = 0;
  for (let i = offset; i < T; i++) {
    const row = map[i]!;
    if (row.length !== T) throw new RangeError(`offsetWeight: the map must be square; row ${i} has ${row.length} of ${T} columns`);
    total += row[i - offset]!;
  }
  return total / (T - offset);
}

/**
 * Checks every map is causal (weight exactly 0 on every key after the query) and normalised (each row sums to
 * 1 within `tol`); throws a CheckError naming the first map and row that is not.
 */
export function checkCausalWeights(maps: number[][][], tol = 1e-4): void {
  maps.forEach((map, k) =>
    map.forEach((row, i) => {
      const future = row.slice(i + 1).findIndex((w) => w !== 0);
      if (future >= 0) throw new CheckError(`map ${k}, row ${i}: weight ${row[i + 1 + future]} on the future key ${i + 1 + future}`);
      const sum = row.reduce((s, w) => s + w, 0);
      if (!(Math.abs(sum - 1) <= tol)) throw new CheckError(`map ${k}, row ${i}: the weights sum to ${sum}, not 1`);
    }),
  );
}
