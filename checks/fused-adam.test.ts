/**
 * The fused Adam / AdamW step (kernel-lib/src/train/fused-adam.ts, kernel-lib/native/src/optim.cc) against
 * tf.train.adam on the cpu backend: the same numbers to 1e-6 relative over 100 steps, on the native
 * path (wasm) and on the ops path (cpu, and wasm without the addon); AdamW against tf.train.adam with
 * the decay applied by hand; minimize, checkpoint round trip, leaks, errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tf, useBestBackend, FusedAdam, fusedAdam, fusedAdamW } from "kernel-lib";

const SHAPES = [[7, 5], [70001], [3], [2, 3, 4, 5]];

/** Deterministic gradient of variable `i` at step `t` (independent of the values, so both runs see the same). */
function grad(shape: number[], i: number, t: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const scale = 10 ** ((i % 3) - 1); // 0.1, 1, 10
  return tf.tensor(Array.from({ length: n }, (_, j) => Math.sin(j * 0.37 + t * 1.3 + i) * scale + (j % 5 === 0 ? 0 : 0.01 * t)), shape);
}

function initial(shape: number[], i: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Array.from({ length: n }, (_, j) => Math.cos(j * 0.11 + i) * (i + 1)), shape);
}

/**
 * Runs `steps` steps of `make()`'s optimizer on fresh variables on `backend`; `before(vars)` runs before
 * each step (for AdamW's decay done by hand). Returns the final values.
 */
async function train(
  backend: "cpu" | "wasm",
  make: () => tf.Optimizer,
  steps: number,
  before?: (vars: tf.Variable[]) => void,
): Promise<number[][]> {
  if (backend === "wasm") await useBestBackend({ force: "wasm", verbose: false });
  else await tf.setBackend("cpu");
  const vars = SHAPES.map((s, i) => tf.variable(initial(s, i), true, `adamtest_${backend}_${i}_${Math.random()}`));
  const opt = make();
  for (let t = 0; t < steps; t++) {
    before?.(vars);
    const grads = vars.map((v, i) => ({ name: v.name, tensor: grad(v.shape, i, t) }));
    opt.applyGradients(grads);
    tf.dispose(grads.map((g) => g.tensor));
  }
  const out = vars.map((v) => Array.from(v.dataSync()));
  tf.dispose(vars);
  opt.dispose();
  return out;
}

function assertRelative(actual: number[][], expected: number[][], tol: number, what: string): void {
  let worst = 0;
  expected.forEach((e, i) => {
    const a = actual[i]!;
    assert.equal(a.length, e.length);
    e.forEach((ev, j) => {
      const rel = Math.abs(a[j]! - ev) / Math.max(Math.abs(ev), 1e-3);
      worst = Math.max(worst, rel);
      assert.ok(Number.isFinite(a[j]!) && rel <= tol, `${what} var ${i}[${j}]: ${a[j]} vs ${ev} (relative ${rel})`);
    });
  });
  assert.ok(worst <= tol, `${what}: worst ${worst}`);
}

test("FusedAdam on wasm+native gives tf.train.adam's numbers (cpu backend) to 1e-6 relative over 100 steps", async () => {
  const choice = await useBestBackend({ force: "wasm", verbose: false });
  assert.match(choice.summary, /wasm\+native/);
  for (const [lr, b1, b2] of [[1e-3, 0.9, 0.999], [2e-4, 0.5, 0.999], [0.05, 0.8, 0.99]]) {
    const reference = await train("cpu", () => tf.train.adam(lr, b1, b2), 100);
    const fused = await train("wasm", () => fusedAdam(lr, b1, b2), 100);
    assertRelative(fused, reference, 1e-6, `adam lr ${lr} betas ${b1} ${b2}`);
    // The values moved: a step that did nothing would fail here.
    const start = SHAPES.map((s, i) => Array.from(tf.tidy(() => initial(s, i).dataSync())));
    const moved = Math.max(...reference.map((r, i) => Math.max(...r.map((v, j) => Math.abs(v - start[i]![j]!)))));
    assert.ok(moved > 10 * lr, `the reference moved (${moved})`);
  }
});

test("the ops path (cpu backend, and wasm without the addon) gives the same numbers", async () => {
  const reference = await train("cpu", () => tf.train.adam(2e-3, 0.9, 0.999), 100);
  assertRelative(await train("cpu", () => fusedAdam(2e-3, 0.9, 0.999), 100), reference, 1e-6, "ops path on cpu");
  process.env.AIGC_NATIVE = "0";
  try {
    assertRelative(await train("wasm", () => fusedAdam(2e-3, 0.9, 0.999), 100), reference, 1e-6, "ops path on wasm without the addon");
  } finally {
    delete process.env.AIGC_NATIVE;
  }
});

test("AdamW equals tf.train.adam with value *= 1 - lr wd before each step, on both paths", async () => {
  const [lr, wd] = [1e-2, 0.1];
  const decay = (vars: tf.Variable[]) => {
    for (const v of vars) v.assign(tf.tidy(() => tf.mul(v, Math.fround(1 - lr * wd))));
  };
  const reference = await train("cpu", () => tf.train.adam(lr, 0.9, 0.999), 100, decay);
  assertRelative(await train("wasm", () => fusedAdamW(lr, wd), 100), reference, 1e-6, "adamw native");
  assertRelative(await train("cpu", () => fusedAdamW(lr, wd), 100), reference, 1e-6, "adamw ops");
  // And the decay is really there: plain Adam ends elsewhere.
  const plain = await train("cpu", () => tf.train.adam(lr, 0.9, 0.999), 100);
  assert.ok(Math.abs(plain[0]![1]! - reference[0]![1]!) > 1e-3, "decay changes the result");
});

test("minimize trains a model; getWeights/setWeights resume to the same numbers; no leaks", async () => {
  await useBestBackend({ force: "wasm", verbose: false });
  const x = tf.tensor2d(Array.from({ length: 64 * 3 }, (_, i) => Math.sin(i)), [64, 3]);
  const y = tf.tidy(() => tf.add(tf.matMul(x, tf.tensor2d([[1], [-2], [0.5]])), 0.3));
  const w = tf.variable(tf.zeros([3, 1]));
  const b = tf.variable(tf.zeros([1]));
  const loss = () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, w), b), y))) as tf.Scalar;
  const opt = new FusedAdam({ learningRate: 0.05 });
  const l0 = loss().dataSync()[0]!;
  opt.minimize(loss, false, [w, b]);
  const tensors = tf.memory().numTensors;
  const buffers = tf.engine().backend.numDataIds();
  for (let i = 0; i < 30; i++) opt.minimize(loss, true, [w, b])!.dispose();
  assert.equal(tf.memory().numTensors, tensors, "tensors");
  assert.equal(tf.engine().backend.numDataIds(), buffers, "wasm buffers");
  const l1 = tf.tidy(() => loss().dataSync()[0]!);
  assert.ok(l1 < l0 * 0.8, `loss fell (${l0} -> ${l1})`);
  // Save, take two steps; restore into a fresh optimizer with the saved values; two steps again.
  const saved = await opt.getWeights();
  const values = [w, b].map((v) => tf.clone(v));
  assert.equal(saved.length, 5);
  assert.equal(saved[0]!.name, "iter");
  opt.minimize(loss, false, [w, b]);
  opt.minimize(loss, false, [w, b]);
  const after = [w, b].map((v) => Array.from(v.dataSync()));
  w.assign(values[0]!);
  b.assign(values[1]!);
  const resumed = new FusedAdam({ learningRate: 0.05 });
  await resumed.setWeights(saved);
  resumed.minimize(loss, false, [w, b]);
  resumed.minimize(loss, false, [w, b]);
  assert.deepEqual([w, b].map((v) => Array.from(v.dataSync())), after);
  tf.dispose([x, y, w, b, ...values, ...saved.map((s) => s.tensor)]);
  opt.dispose();
  resumed.dispose();
});

test("bad options and mismatched gradients are errors that say what is wrong", async () => {
  await useBestBackend({ force: "wasm", verbose: false });
  assert.throws(() => new FusedAdam({ beta1: 1 }), /betas must be < 1/);
  assert.throws(() => new FusedAdam({ learningRate: -1 }), /learningRate must be a finite number >= 0, got -1/);
  const v = tf.variable(tf.zeros([2, 3]), true, "adam_bad_shape");
  const opt = fusedAdam();
  const g = tf.zeros([3, 2]);
  assert.throws(() => opt.applyGradients({ adam_bad_shape: g }), /gradient \[3,2\] does not match variable adam_bad_shape \[2,3\]/);
  tf.dispose([v, g]);
  opt.dispose();
});
