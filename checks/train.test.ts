/**
 * The shared training loop (kernel-lib/src/train/train.ts): it throws when a step leaks tensors, stops between
 * steps when the kernel's interrupt flag is set (and writes a checkpoint of the steps done), and resumes.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, before, test } from "node:test";
import { KERNEL_HOOKS, KernelHooks, LeakError, loadCheckpoint, tf, train, useBestBackend } from "kernel-lib";

before(async () => {
  await useBestBackend({ verbose: false });
});

afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[KERNEL_HOOKS];
});

test("a step that leaks a tensor stops the loop with a LeakError naming the step", async () => {
  const kept: tf.Tensor[] = [];
  const w = tf.variable(tf.scalar(1));
  const opt = tf.train.sgd(0.1);
  await assert.rejects(
    train({
      steps: 5,
      progress: false,
      step: (i) => {
        // From the third step on, one tensor per step is left alive.
        if (i >= 2) kept.push(tf.ones([2]));
        return opt.minimize(() => tf.square(w) as tf.Scalar, true)!;
      },
    }),
    (e: Error) => e instanceof LeakError && /step 3 leaked tensors/.test(e.message),
  );
  tf.dispose([...kept, w]);
  opt.dispose();
});

test("a step that disposes what it makes runs to the end with a flat tensor count", async () => {
  const w = tf.tidy(() => tf.variable(tf.scalar(3)));
  const before = tf.memory().numTensors;
  const opt = tf.train.adam(0.1);
  const result = await train({ steps: 20, progress: false, step: () => opt.minimize(() => tf.square(w) as tf.Scalar, true)! });
  assert.equal(result.stepsDone, 20);
  assert.equal(result.interrupted, false);
  assert.ok(result.last["loss"]! < 9, "the loss went down");
  opt.dispose();
  assert.equal(tf.memory().numTensors, before, "only the optimizer's state was added, and disposed with it");
  w.dispose();
});

test("the interrupt flag stops the loop between steps, writes a checkpoint, and a rerun resumes", async () => {
  const displays: unknown[] = [];
  const hooks: KernelHooks = { display: (c) => displays.push(c), interruptRequested: false };
  (globalThis as Record<symbol, unknown>)[KERNEL_HOOKS] = hooks;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "train-test-"));
  const file = path.join(dir, "w.ckpt");
  const w = tf.variable(tf.scalar(2));
  const ran: number[] = [];
  const options = {
    steps: 10,
    step: (i: number) => {
      ran.push(i);
      // The user presses "interrupt" while step 3 (index 3) runs: the loop must finish it and stop.
      if (i === 3) hooks.interruptRequested = true;
      return tf.tidy(() => {
        w.assign(tf.mul(w, 0.5));
        return tf.square(w) as tf.Scalar;
      });
    },
    checkpoint: { path: file, make: (stepsDone: number) => ({ kind: "test", config: {}, step: stepsDone, weights: { w } }) },
  };
  const first = await train(options);
  assert.deepEqual(ran, [0, 1, 2, 3]);
  assert.equal(first.interrupted, true);
  assert.equal(first.stepsDone, 4);
  const ckpt = loadCheckpoint(file, { kind: "test" });
  assert.equal(ckpt.step, 4);
  assert.equal(ckpt.weights["w"]!.dataSync()[0], 2 / 16);
  tf.dispose(Object.values(ckpt.weights));
  assert.ok(displays.length > 0, "the progress display went to the kernel");
  // The next cell starts with the flag cleared (the kernel does this); the rerun continues at step 4.
  hooks.interruptRequested = false;
  ran.length = 0;
  const second = await train({ ...options, startStep: first.stepsDone });
  assert.deepEqual(ran, [4, 5, 6, 7, 8, 9]);
  assert.equal(second.interrupted, false);
  assert.equal(loadCheckpoint(file).step, 10);
  w.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});
