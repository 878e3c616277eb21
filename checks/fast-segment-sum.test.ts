/**
 * The wasm backend's UnsortedSegmentSum and row-copy GatherV2 (kernel-lib/src/runtime/wasm-kernels.ts) against hand-computed values
 * and the cpu backend, including tf.gather's gradient (how embeddings train).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tf, useBestBackend } from "kernel-lib";

/** Runs `f` on the named tfjs backend and returns its result as a flat array. */
async function on(backend: "cpu" | "wasm", f: () => tf.Tensor): Promise<number[]> {
  if (backend === "wasm") await useBestBackend({ force: "wasm", verbose: false });
  else await tf.setBackend("cpu");
  assert.equal(tf.getBackend(), backend, "active backend");
  const t = tf.tidy(f);
  const values = Array.from(await t.data());
  t.dispose();
  return values;
}

function assertClose(actual: number[], expected: number[], tol = 1e-5): void {
  assert.equal(actual.length, expected.length, "length");
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol * (1 + Math.abs(expected[i]!)), `element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

test("sums rows into their segments, dropping ids out of range", async () => {
  const got = await on("wasm", () =>
    tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]), tf.tensor1d([2, 0, 2, -1, 3], "int32"), 3),
  );
  // Segment 0: row 1; segment 1: nothing; segment 2: rows 0 and 2; ids -1 and 3 are out of range.
  assert.deepEqual(got, [3, 4, 0, 0, 6, 8]);
});

test("int32 values agree with the cpu backend", async () => {
  const f = () => tf.unsortedSegmentSum(tf.range(0, 24, 1, "int32").reshape([6, 4]), tf.tensor1d([1, 0, 1, 3, 3, 0], "int32"), 4);
  const cpu = await on("cpu", f);
  const wasm = await on("wasm", f);
  assert.deepEqual(wasm, cpu);
});

test("2-D segment ids sum like the same ids flattened (the cpu backend takes only 1-D ids)", async () => {
  const x = () => tf.range(0, 24, 1, "float32").reshape([2, 3, 4]);
  const ids = [[1, 0, 1], [3, 3, 0]];
  // The op is typed for 1-D ids, but the kernel (and TensorFlow) accept ids of any leading rank.
  const wasm = await on("wasm", () => tf.unsortedSegmentSum(x(), tf.tensor2d(ids, [2, 3], "int32") as unknown as tf.Tensor1D, 4));
  const cpu = await on("cpu", () => tf.unsortedSegmentSum(x().reshape([6, 4]), tf.tensor1d(ids.flat(), "int32"), 4));
  assert.deepEqual(wasm, cpu);
});

test("tf.gather's gradient (an embedding lookup) matches the cpu backend", async () => {
  const f = () => {
    const table = tf.tensor2d(Array.from({ length: 40 }, (_, i) => Math.sin(i)), [10, 4]);
    const ids = tf.tensor2d([[1, 7, 7], [0, 9, 1]], [2, 3], "int32");
    const w = tf.tensor3d(Array.from({ length: 24 }, (_, i) => Math.cos(i)), [2, 3, 4]);
    return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), w)))(table);
  };
  const cpu = await on("cpu", f);
  const wasm = await on("wasm", f);
  assertClose(wasm, cpu);
});

test("an embedding trains on wasm without leaking tensors", async () => {
  await useBestBackend({ force: "wasm", verbose: false });
  const table = tf.variable(tf.ones([6, 3]));
  const ids = tf.tensor1d([0, 2, 2, 5], "int32");
  const opt = tf.train.sgd(0.1);
  const before = tf.memory().numTensors;
  for (let step = 0; step < 3; step++) {
    tf.dispose(opt.minimize(() => tf.sum(tf.gather(table, ids)), true) ?? []);
  }
  assert.equal(tf.memory().numTensors, before, "tensor count after training steps");
  // Row 2 is looked up twice per step, so it moves twice as far as rows 0 and 5; rows 1, 3, 4 stay.
  assertClose(Array.from(table.dataSync()), [0.7, 0.7, 0.7, 1, 1, 1, 0.4, 0.4, 0.4, 1, 1, 1, 1, 1, 1, 0.7, 0.7, 0.7]);
  tf.dispose([table, ids]);
  opt.dispose();
});

// GatherV2 (the row-copy kernel that replaces wasm's element-by-element one).

/** A seeded list of integers in [0, n). */
function ints(count: number, n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  });
}

test("GatherV2 on wasm is kernel-lib's row copy, and gathers as a hand computation says", async () => {
  await useBestBackend({ force: "wasm", verbose: false });
  assert.equal(tf.getKernel("GatherV2", "wasm")?.kernelFunc.name, "gatherV2");
  const got = await on("wasm", () => tf.gather(tf.tensor2d([[1, 2], [3, 4], [5, 6]]), tf.tensor1d([2, 0, 2], "int32")));
  assert.deepEqual(got, [5, 6, 1, 2, 5, 6]);
  const cols = await on("wasm", () => tf.gather(tf.tensor2d([[1, 2, 3], [4, 5, 6]]), tf.tensor1d([2, 1], "int32"), 1));
  assert.deepEqual(cols, [3, 2, 6, 5]);
});

test("GatherV2 agrees with the cpu backend over axes, negative axes, index ranks and dtypes", async () => {
  const shape = [3, 5, 4, 2];
  let seed = 7;
  for (const dtype of ["float32", "int32", "bool"] as const) {
    for (const axis of [0, 1, 2, 3, -1, -3]) {
      for (const idxShape of [[6], [2, 3], [1]]) {
        const size = shape[axis < 0 ? axis + shape.length : axis]!;
        const idx = ints(idxShape.reduce((a, b) => a * b, 1), size, seed++);
        const values = ints(120, 9, seed++).map((v) => (dtype === "bool" ? v % 2 : v - 4));
        const f = () => tf.gather(tf.tensor(values, shape, dtype), tf.tensor(idx, idxShape, "int32"), axis);
        assert.deepEqual(await on("wasm", f), await on("cpu", f), `${dtype}, axis ${axis}, indices [${idxShape}]`);
      }
    }
  }
});

test("GatherV2 with batchDims 1 falls back to the wasm backend's own kernel and agrees with cpu", async () => {
  const f = () => tf.gather(tf.range(0, 24, 1, "float32").reshape([2, 3, 4]), tf.tensor2d([[2, 0], [1, 1]], [2, 2], "int32"), 1, 1);
  assert.deepEqual(await on("wasm", f), await on("cpu", f));
});

test("GatherV2 refuses an index out of range, naming it, and leaks nothing", async () => {
  await useBestBackend({ force: "wasm", verbose: false });
  const before = tf.memory().numTensors;
  const x = tf.tensor2d([[1, 2], [3, 4]]);
  const bad = tf.tensor1d([0, 2], "int32");
  assert.throws(() => tf.gather(x, bad), /index 2 \(position 1\) is not in \[0, 1\]/);
  tf.dispose([x, bad]);
  assert.equal(tf.memory().numTensors, before);
});

test("an embedding trains on wasm through the row-copy gather: gradient equal to the cpu backend's", async () => {
  const ids = ints(64, 10, 3);
  const f = () =>
    tf.grad((table: tf.Tensor) => tf.sum(tf.mul(tf.gather(table, tf.tensor2d(ids, [8, 8], "int32")), tf.linspace(-1, 1, 8 * 8 * 6).reshape([8, 8, 6]))))(
      tf.linspace(0, 1, 60).reshape([10, 6]),
    );
  assertClose(await on("wasm", f), await on("cpu", f));
});
