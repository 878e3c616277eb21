/**
 * The kernels around the convolutions on wasm (kernel-lib/src/runtime/image-kernels.ts, native/src/norm.cc):
 * groupNorm forward and gradients against the tfjs-ops formula on the cpu backend, SplitV (concat's
 * gradient), AvgPoolGrad and ResizeNearestNeighborGrad (fast and package paths) against cpu, leaks, errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tf, useBestBackend, groupNorm, groupNormOps } from "kernel-lib";
import { evalOutputs, assertClose, Fn } from "./lib/tensors";

async function run(backend: "cpu" | "wasm", f: Fn): Promise<number[][]> {
  if (backend === "wasm") await useBestBackend({ force: "wasm", verbose: false });
  else await tf.setBackend("cpu");
  assert.equal(tf.getBackend(), backend);
  return evalOutputs(f);
}

/** `wasm` on wasm equals `cpu` on cpu, output by output. */
async function agree(wasm: Fn, cpu: Fn, what: string, tol = 1e-4): Promise<void> {
  const expected = await run("cpu", cpu);
  const actual = await run("wasm", wasm);
  assert.equal(actual.length, expected.length, `${what}: outputs`);
  expected.forEach((e, i) => assertClose(actual[i]!, e, tol, `${what} output ${i}`));
}

const det = (shape: number[], seed: number, scale = 1, offset = 0) =>
  tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed * 3.1 + i * 0.71) * scale + offset), shape);

const CASES: [number[], number][] = [
  [[1, 3, 5, 8], 8], // batch 1, one channel per group
  [[2, 4, 4, 6], 3],
  [[3, 5, 7, 12], 1], // one group: layer norm over h, w, c
  [[4, 7, 7, 32], 8],
  [[16, 14, 14, 64], 8], // large enough for the pool
];

test("groupNorm on wasm+native equals the ops formula on cpu, forward and gradients", async () => {
  const choice = await useBestBackend({ force: "wasm", verbose: false });
  assert.match(choice.summary, /wasm\+native/);
  assert.ok(tf.getKernel("AigcGroupNorm", "wasm"), "the native kernel is registered");
  for (const [shape, groups] of CASES) {
    const c = shape[3]!;
    // An offset and a scale per case, so the mean and variance matter.
    const inputs = () => [det(shape, 1, 3, 0.5), det([c], 2, 1, 1), det([c], 3)] as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    const r = () => det(shape, 4);
    const grads = (norm: typeof groupNorm) => () => {
      const [x, g, b] = inputs();
      const y = norm(x, g, b, groups);
      const gs = tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(norm(xx as tf.Tensor4D, gg as tf.Tensor1D, bb as tf.Tensor1D, groups), r())))([x, g, b]);
      return [y, ...gs];
    };
    await agree(grads(groupNorm), grads(groupNormOps), `groupNorm [${shape}] groups ${groups}`, 2e-4);
  }
});

test("groupNorm trains without leaking tensors or wasm buffers, and rejects bad shapes clearly", async () => {
  await useBestBackend({ force: "wasm", verbose: false });
  const x = det([2, 4, 4, 8], 5);
  const g = tf.variable(tf.ones([8]));
  const b = tf.variable(tf.zeros([8]));
  const opt = tf.train.sgd(0.1);
  const step = () => opt.minimize(() => tf.mean(tf.square(tf.sub(groupNorm(x as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, 4), 0.3))) as tf.Scalar, true)!;
  step().dispose();
  const tensors = tf.memory().numTensors;
  const buffers = tf.engine().backend.numDataIds();
  for (let i = 0; i < 5; i++) step().dispose();
  assert.equal(tf.memory().numTensors, tensors, "tensors");
  assert.equal(tf.engine().backend.numDataIds(), buffers, "wasm buffers");
  assert.throws(() => groupNorm(x as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, 3), /8 channels \(x \[2,4,4,8\]\) do not split into 3 groups/);
  assert.throws(() => groupNorm(x as tf.Tensor4D, tf.ones([4]) as tf.Tensor1D, b as tf.Tensor1D, 4), /gamma and beta must be \[8\], got \[4\]/);
  tf.dispose([x, g, b]);
});

test("concat's gradient (SplitV) and tf.split agree with cpu", async () => {
  const f = () => {
    const a = det([2, 3, 4, 5], 6);
    const b = det([2, 3, 4, 7], 7);
    const r = det([2, 3, 4, 12], 8);
    const gs = tf.grads((aa: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(tf.concat([aa, bb], 3), r)))([a, b]);
    return [...gs, ...tf.split(det([6, 10], 9), [2, 3, 5], 1), ...tf.split(det([6, 4, 3], 10), 3, 0), ...tf.split(det([4, 6], 11), [1, -1], -1)];
  };
  await agree(f, f, "concat gradient and split", 0);
});

test("avgPool gradients agree with cpu and nearest-resize gradients with a reference from the cpu forward pass, fast paths and the package's", async () => {
  const pool = (shape: number[], k: number, s: number, pad: "valid" | "same", seed: number) => () => {
    const x = det(shape, seed);
    const y = tf.avgPool(x as tf.Tensor4D, k, s, pad);
    const r = det(y.shape, seed + 1);
    return [y, tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(xx as tf.Tensor4D, k, s, pad), r)))(x)];
  };
  for (const [shape, k, s, pad] of [
    [[2, 8, 8, 3], 2, 2, "valid"], // the fast path
    [[1, 7, 9, 5], 2, 2, "valid"], // odd sizes: the last row and column get no gradient
    [[64, 28, 28, 32], 2, 2, "valid"], // the U-Net's
    [[2, 9, 9, 2], 3, 3, "valid"],
    [[2, 8, 8, 3], 3, 2, "same"], // the package's kernel
  ] as [number[], number, number, "valid" | "same"][]) {
    await agree(pool(shape, k, s, pad, 20), pool(shape, k, s, pad, 20), `avgPool [${shape}] ${k}/${s} ${pad}`, 1e-5);
  }
  // tfjs-backend-cpu 4.22's ResizeNearestNeighborGrad reads dy at the images' batch stride (wrong for
  // batch > 1), so the reference gradient is built from the cpu *forward* pass instead: resize the
  // element indices, then add each dy value into the element its output pixel read.
  const resize = (shape: number[], size: [number, number], alignCorners: boolean, halfPixel: boolean, seed: number) => () => {
    const x = det(shape, seed);
    const y = tf.image.resizeNearestNeighbor(x as tf.Tensor4D, size, alignCorners, halfPixel);
    const r = det(y.shape, seed + 1);
    return [y, tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(xx as tf.Tensor4D, size, alignCorners, halfPixel), r)))(x)];
  };
  const reference = (shape: number[], size: [number, number], alignCorners: boolean, halfPixel: boolean, seed: number) => () => {
    const n = shape.reduce((a, b) => a * b, 1);
    const ids = tf.image.resizeNearestNeighbor(tf.range(0, n).reshape(shape) as tf.Tensor4D, size, alignCorners, halfPixel);
    const y = tf.image.resizeNearestNeighbor(det(shape, seed) as tf.Tensor4D, size, alignCorners, halfPixel);
    const r = det(y.shape, seed + 1).dataSync();
    const dx = new Float64Array(n);
    ids.dataSync().forEach((id, j) => (dx[id] += r[j]!));
    return [y, tf.tensor(Array.from(dx), shape)];
  };
  for (const [shape, size, ac, hp] of [
    [[2, 7, 7, 4], [14, 14], false, false], // the fast path
    [[1, 3, 5, 2], [6, 10], false, true], // half-pixel centers, same mapping at x2
    [[64, 14, 14, 32], [28, 28], false, false], // the U-Net's
    [[2, 4, 4, 3], [12, 12], false, false], // x3: the package's kernel
    [[2, 4, 4, 3], [8, 8], true, false], // alignCorners: the package's kernel
  ] as [number[], [number, number], boolean, boolean][]) {
    await agree(resize(shape, size, ac, hp, 30), reference(shape, size, ac, hp, 30), `resizeNearest [${shape}] to ${size} ${ac} ${hp}`, 1e-5);
  }
});
