/**
 * WebGPU (kernel-lib/src/runtime/backend.ts, tryWebGpu) on Mesa's llvmpipe, the software adapter CI has:
 * it starts, agrees with the cpu backend, and is never chosen automatically while it is software.
 * Needs Debian's libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri (.ci/run installs them).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tf, useBestBackend } from "kernel-lib";
import { evalOutputs, Fn } from "./lib/tensors";


async function run(backend: "cpu" | "webgpu", f: Fn): Promise<number[][]> {
  await tf.setBackend(backend);
  assert.equal(tf.getBackend(), backend);
  return evalOutputs(f);
}

/** f on WebGPU equals f on cpu (GPU float arithmetic: relative 1e-3). */
async function agree(f: Fn, what: string): Promise<void> {
  const cpu = await run("cpu", f);
  const gpu = await run("webgpu", f);
  cpu.forEach((c, i) => {
    const g = gpu[i]!;
    assert.equal(g.length, c.length, `${what}: length`);
    c.forEach((e, j) => assert.ok(Math.abs(g[j]! - e) <= 1e-3 * (1 + Math.abs(e)), `${what} output ${i}[${j}]: ${g[j]} vs ${e}`));
  });
}

const det = (shape: number[], seed: number) =>
  tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed * 3.7 + i * 0.91)), shape);

test("the automatic choice passes over a software WebGPU adapter", async () => {
  const choice = await useBestBackend({ verbose: false });
  assert.notEqual(choice.name, "webgpu");
  const webgpu = choice.skipped.find((s) => s.name === "webgpu");
  assert.ok(webgpu, "webgpu is listed as skipped");
  assert.match(webgpu.reason, /no GPU device|software adapter/);
});

test("forced, WebGPU starts on llvmpipe and names the adapter", async () => {
  const choice = await useBestBackend({ force: "webgpu", verbose: false });
  assert.equal(choice.tfName, "webgpu");
  assert.match(choice.summary, /webgpu \[.*llvmpipe.*software\]/);
});

test("WebGPU agrees with cpu: matMul flags and batches, fused dense, softmax, sums, gradients", async () => {
  await useBestBackend({ force: "webgpu", verbose: false });
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    await agree(() => tf.matMul(det(ta ? [3, 37, 33] : [3, 33, 37], 1), det(tb ? [3, 29, 37] : [3, 37, 29], 2), ta, tb), `matMul ${ta} ${tb}`);
  }
  await agree(() => tf.fused.matMul({ a: det([17, 9], 3), b: det([9, 5], 4), bias: det([5], 5), activation: "relu" }), "fused dense");
  await agree(() => [tf.softmax(det([4, 50], 6)), tf.sum(det([6, 40], 7), 0), tf.sum(det([6, 40], 8), 1)], "softmax and sums");
  await agree(() => {
    const g = tf.grads((w: tf.Tensor, x: tf.Tensor) => tf.sum(tf.square(tf.tanh(tf.matMul(x, w)))));
    return g([det([8, 4], 9), det([16, 8], 10)]);
  }, "gradients");
});

test("an embedding (gather and its gradient) trains on WebGPU without leaking", async () => {
  await useBestBackend({ force: "webgpu", verbose: false });
  const table = tf.variable(tf.ones([5, 2]));
  const ids = tf.tensor1d([4, 1, 4], "int32");
  const opt = tf.train.sgd(0.5);
  const before = tf.memory().numTensors;
  tf.dispose(opt.minimize(() => tf.sum(tf.gather(table, ids)), true) ?? []);
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(Array.from(await table.data()), [1, 1, 0.5, 0.5, 1, 1, 1, 1, 0, 0]);
  tf.dispose([table, ids]);
  opt.dispose();
});
