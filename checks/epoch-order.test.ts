/**
 * kernel-lib/src/data/epoch-order.ts: each epoch visits every example at most once, in a new seeded order, in
 * full batches; the same seed gives the same batches; a batch size that cannot fit is an error naming it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EpochOrder, Rng } from "kernel-lib";

test("an epoch of 10 examples in batches of 3: three disjoint batches, the tail of 1 skipped, then a new order", () => {
  const order = new EpochOrder(10, 3, new Rng(7));
  const epoch1 = [order.next(), order.next(), order.next()];
  for (const b of epoch1) assert.equal(b.length, 3);
  const seen = epoch1.flat();
  assert.equal(new Set(seen).size, 9, `indices repeat within an epoch: ${seen}`);
  assert.ok(seen.every((i) => Number.isInteger(i) && i >= 0 && i < 10));
  // The fourth batch would need the one left over: a new epoch starts instead.
  const epoch2 = [order.next(), order.next(), order.next()].flat();
  assert.equal(new Set(epoch2).size, 9);
  assert.notDeepEqual(epoch2, seen, "the second epoch should be shuffled anew");
});

test("the permutation is the generator's: the same as Rng.permutation on a twin generator", () => {
  const order = new EpochOrder(6, 2, new Rng(3));
  const expected = new Rng(3).permutation(6);
  assert.deepEqual([order.next(), order.next(), order.next()], [expected.slice(0, 2), expected.slice(2, 4), expected.slice(4, 6)]);
});

test("a batch larger than the data, or not a positive integer, is a RangeError naming the sizes", () => {
  assert.throws(() => new EpochOrder(5, 6, new Rng(0)), /batch size 6 must be an integer in 1\.\.5/);
  assert.throws(() => new EpochOrder(5, 0, new Rng(0)), /batch size 0/);
  assert.throws(() => new EpochOrder(5, 2.5, new Rng(0)), /batch size 2\.5/);
});
