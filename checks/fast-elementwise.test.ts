/**
 * The native elementwise kernels of the fast CPU route (kernel-lib/src/runtime/native-elementwise.ts): Add, Sub, Multiply,
 * RealDiv with every broadcast training uses, Pow with a scalar exponent, and Identity without a
 * copy, against the cpu backend; the broadcast classifier on hand-worked shapes; leaks.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tf, useBestBackend, repeatPattern } from "kernel-lib";
import { evalOutputs, Fn } from "./lib/tensors";


async function run(backend: "cpu" | "wasm", f: Fn): Promise<number[][]> {
  if (backend === "wasm") await useBestBackend({ force: "wasm", verbose: false });
  else await tf.setBackend("cpu");
  assert.equal(tf.getBackend(), backend);
  return evalOutputs(f);
}

async function agree(f: Fn, what: string, tol = 1e-6): Promise<void> {
  const cpu = await run("cpu", f);
  const wasm = await run("wasm", f);
  cpu.forEach((c, i) => {
    const w = wasm[i]!;
    assert.equal(w.length, c.length, `${what}: length`);
    c.forEach((e, j) => {
      const a = w[j]!;
      const ok = Number.isNaN(e) ? Number.isNaN(a) : a === e || Math.abs(a - e) <= tol * (1 + Math.abs(e));
      assert.ok(ok, `${what} output ${i}[${j}]: ${a} vs ${e}`);
    });
  });
}

const det = (shape: number[], seed: number) =>
  tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed * 5.3 + i * 0.77) * 3 + 0.01), shape);

test("repeatPattern classifies broadcasts by hand-worked examples", () => {
  assert.deepEqual(repeatPattern([2, 3], [2, 3]), { size: 6, inner: 1 }); // same shape
  assert.deepEqual(repeatPattern([], [2, 3]), { size: 1, inner: 1 }); // scalar
  assert.deepEqual(repeatPattern([3], [2, 3]), { size: 3, inner: 1 }); // bias over rows
  assert.deepEqual(repeatPattern([2, 1], [2, 3]), { size: 2, inner: 3 }); // a column, repeated along rows
  assert.deepEqual(repeatPattern([4, 4], [2, 3, 4, 4]), { size: 16, inner: 1 }); // a mask under batches and heads
  assert.deepEqual(repeatPattern([2, 1, 4], [2, 3, 4]), null); // two separate runs of axes
  assert.deepEqual(repeatPattern([1, 3, 1], [2, 3, 4]), { size: 3, inner: 4 });
});

test("Add, Sub, Multiply, RealDiv agree with cpu for every broadcast pattern", async () => {
  const pairs: [number[], number[]][] = [
    [[5, 7], [5, 7]],
    [[5, 7], []],
    [[], [5, 7]],
    [[5, 7], [7]],
    [[7], [5, 7]],
    [[5, 7], [5, 1]],
    [[2, 3, 4, 4], [4, 4]],
    [[2, 3, 5], [1, 3, 1]],
    [[2, 3, 5], [2, 1, 5]], // not a single run: the original kernel
    [[2, 1], [1, 3]], // both broadcast: the original kernel
    [[300, 300], [300]], // large enough for the threaded path
    [[300, 300], [300, 1]],
  ];
  for (const [sa, sb] of pairs) {
    await agree(
      () => [tf.add(det(sa, 1), det(sb, 2)), tf.sub(det(sa, 3), det(sb, 4)), tf.mul(det(sa, 5), det(sb, 6)), tf.div(det(sa, 7), det(sb, 8))],
      `[${sa}] op [${sb}]`,
    );
  }
});

test("division by zero and NaN propagate as on cpu", async () => {
  await agree(() => tf.div(tf.tensor1d([1, -1, 0, NaN, 2]), tf.tensor1d([0, 0, 0, 1, NaN])), "div special values", 0);
  await agree(() => tf.mul(tf.tensor1d([Infinity, 0, NaN]), tf.scalar(0)), "mul special values", 0);
});

test("Pow with scalar exponents agrees with cpu; other exponents use the original kernel", async () => {
  for (const e of [0, 1, 2, 3, 4, 0.5, -1, 2.5]) {
    await agree(() => tf.pow(det([4, 9], 9), tf.scalar(e)), `pow ${e}`, 1e-5);
  }
  await agree(() => tf.pow(tf.abs(det([70000], 10)), tf.scalar(3)), "pow 3 threaded", 1e-6);
  await agree(() => tf.pow(tf.abs(det([3, 4], 11)), det([4], 12)), "pow tensor exponent", 1e-5);
  await agree(() => {
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.pow(x, 3)));
    return g(det([5, 6], 13));
  }, "pow gradient", 1e-5);
});

test("Identity shares the buffer, and disposing either tensor keeps the other intact", async () => {
  await useBestBackend({ force: "wasm", verbose: false });
  const buffers = tf.engine().backend.numDataIds();
  const x = tf.tensor1d([1, 2, 3]);
  const y = tf.clone(x); // Identity
  assert.equal(tf.engine().backend.numDataIds(), buffers + 1, "one buffer for both");
  x.dispose();
  assert.deepEqual(Array.from(await y.data()), [1, 2, 3]);
  y.dispose();
  assert.equal(tf.engine().backend.numDataIds(), buffers, "freed with the last tensor");
});

test("a training step on the elementwise kernels leaks nothing", async () => {
  await useBestBackend({ force: "wasm", verbose: false });
  const w = tf.variable(det([6, 6], 14));
  const opt = tf.train.adam(0.01);
  const x = det([4, 6], 15);
  const step = () => tf.dispose(opt.minimize(() => tf.mean(tf.pow(tf.sub(tf.matMul(x, w), tf.div(x, 2)), 2)) as tf.Scalar, true) ?? []);
  step();
  const tensors = tf.memory().numTensors;
  const buffers = tf.engine().backend.numDataIds();
  for (let i = 0; i < 4; i++) step();
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(tf.engine().backend.numDataIds(), buffers);
  tf.dispose([w, x]);
  opt.dispose();
});

test("Slice agrees with cpu: rows, columns, inner blocks, whole tensors, int32 and bool", async () => {
  const x = () => det([4, 5, 6], 16);
  const cases: [number[], number[]][] = [
    [[0, 0, 0], [4, 5, 6]],
    [[1, 0, 0], [2, -1, -1]],
    [[0, 2, 0], [-1, 2, -1]],
    [[1, 1, 2], [3, 3, 3]],
    [[3, 4, 5], [1, 1, 1]],
    [[0, 0, 1], [4, 5, 4]],
  ];
  for (const [begin, sz] of cases) await agree(() => tf.slice(x(), begin, sz), `slice [${begin}] [${sz}]`, 0);
  await agree(() => tf.slice(det([2048, 384], 17), [0, 128], [2048, 128]), "q/k/v out of a fused projection", 0);
  await agree(() => tf.slice(tf.range(0, 60, 1, "int32").reshape([3, 4, 5]), [1, 1, 1], [2, 2, 3]), "int32", 0);
  await agree(() => tf.cast(tf.slice(tf.greater(det([3, 8], 18), 0), [1, 2], [2, 5]), "float32"), "bool", 0);
  await agree(() => tf.slice(det([7], 19), [2], [0]), "empty", 0);
  await agree(() => {
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.slice(t, [0, 1], [3, 2]), det([3, 2], 20))));
    return g(det([3, 5], 21));
  }, "slice gradient", 1e-6);
});

test("LeakyRelu, comparisons and Select agree with cpu, including NaN, -0 and broadcasts", async () => {
  const special = () => tf.tensor1d([-2, -0, 0, 3, NaN, -Infinity, Infinity, 1e-30, -1e-30]);
  await agree(() => tf.leakyRelu(special(), 0.3), "leakyRelu special values", 0);
  // Float alpha * x against the cpu backend's double product rounded once: 1 ulp apart at most.
  await agree(() => tf.leakyRelu(det([300, 300], 22), 0.2), "leakyRelu threaded", 1e-6);
  for (const op of [tf.greater, tf.greaterEqual, tf.less, tf.lessEqual, tf.equal, tf.notEqual]) {
    await agree(() => tf.cast(op(special(), tf.scalar(0)), "float32"), `${op.name} special values`, 0);
    await agree(() => tf.cast(op(det([30, 40], 23), det([40], 24)), "float32"), `${op.name} broadcast`, 0);
    await agree(() => tf.cast(op(tf.round(det([5, 6], 25)), tf.round(det([5, 6], 26))), "float32"), `${op.name} ties`, 0);
  }
  await agree(() => tf.where(tf.greater(det([70, 1000], 27), 0), det([70, 1000], 28), det([70, 1000], 29)), "select", 0);
  await agree(() => {
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(x, 0.2), det([8, 9], 32))));
    return g(det([8, 9], 33));
  }, "leakyRelu gradient", 1e-6);
});
