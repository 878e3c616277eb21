/**
 * Training practice for the character GPT (kernel-lib/src/models/transformer/char-lm.ts, char-gpt.ts, block.ts):
 * the warm-up and cosine schedule and clipping by global norm against hand-computed values, seeded dropout that
 * is off at evaluation, weight tying's parameter count and tied head, and a clipped, dropped-out training step
 * without leaks.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CharGPT, charGPTConfig, charGPTStep, clipByGlobalNorm, learningRateAt, Rng, tf, useBestBackend } from "kernel-lib";

test("learning rate: linear warm-up to 1e-3 over 10 steps, then cosine to 1e-4 at the last of 110 steps", () => {
  const o = { learningRate: 1e-3, warmupSteps: 10, schedule: "cosine" as const };
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-15;
  assert.ok(close(learningRateAt(0, 110, o), 1e-4));
  assert.ok(close(learningRateAt(4, 110, o), 5e-4));
  assert.ok(close(learningRateAt(9, 110, o), 1e-3));
  assert.ok(close(learningRateAt(10, 110, o), 1e-3));
  // Half-way through the decay (progress 1/2): min + (max - min) / 2.
  assert.ok(Math.abs(learningRateAt(10 + 99 / 2, 110, o) - 5.5e-4) < 1e-12);
  assert.ok(close(learningRateAt(109, 110, o), 1e-4));
  assert.equal(learningRateAt(50, 110, { learningRate: 1e-3 }), 1e-3);
});

test("clipping by global norm: (3, 4) has norm 5; clipped to 1 it is (0.6, 0.8); under the limit it is untouched", async () => {
  await useBestBackend({ verbose: false });
  const grads = { a: tf.tensor1d([3]), b: tf.tensor1d([4]) };
  const c = clipByGlobalNorm(grads, 1);
  assert.equal(c.norm, 5);
  assert.ok(Math.abs(c.grads.a!.dataSync()[0]! - 0.6) < 1e-6 && Math.abs(c.grads.b!.dataSync()[0]! - 0.8) < 1e-6);
  assert.equal(clipByGlobalNorm(grads, 10).grads, grads);
  tf.dispose([...Object.values(grads), ...Object.values(c.grads)]);
});

test("dropout: seeded, changes the training loss, keeps expectations, and is off in logits()", async () => {
  await useBestBackend({ verbose: false });
  const model = new CharGPT(charGPTConfig("tiny", 11), new Rng(1));
  const x = tf.tensor2d([[1, 2, 3, 4, 5, 6]], [1, 6], "int32");
  const y = tf.tensor2d([[2, 3, 4, 5, 6, 7]], [1, 6], "int32");
  const l = (d?: { rate: number; seed: number }) => tf.tidy(() => model.loss(x, y, d).dataSync()[0]!);
  assert.equal(l({ rate: 0.3, seed: 5 }), l({ rate: 0.3, seed: 5 }));
  assert.notEqual(l({ rate: 0.3, seed: 5 }), l());
  assert.equal(l({ rate: 0, seed: 5 }), l());
  // tf.dropout scales the kept units by 1 / (1 - rate): the mean of a large dropped-out tensor stays put.
  const kept = tf.tidy(() => tf.dropout(tf.ones([200000]), 0.3, undefined, 9).mean().dataSync()[0]!);
  assert.ok(Math.abs(kept - 1) < 0.01, `mean after dropout ${kept}`);
  tf.dispose([x, y]);
  model.dispose();
});

test("weight tying: V·d fewer parameters, no head.w, logits from the embedding table; a clipped, dropped-out step leaks nothing", async () => {
  await useBestBackend({ verbose: false });
  const untied = new CharGPT(charGPTConfig("tiny", 13), new Rng(2));
  const tied = new CharGPT(charGPTConfig("tiny", 13, { tieWeights: true }), new Rng(2));
  assert.equal(untied.numParams() - tied.numParams(), 13 * 32);
  assert.ok(!("head.w" in tied.variables()) && tied.config.tieWeights === true && !("tieWeights" in untied.config));
  const x = tf.tensor2d([[1, 2, 3]], [1, 3], "int32");
  const y = tf.tensor2d([[2, 3, 4]], [1, 3], "int32");
  // The tied logits at position 0 equal LN(x₀) · Eᵀ + b; perturbing one embedding row moves its logit column.
  const before = tf.tidy(() => tied.logits(x).slice([0, 0, 5], [1, 1, 1]).dataSync()[0]!);
  tied.tokEmb.assign(tf.tidy(() => tied.tokEmb.add(tf.oneHot([5], 13).reshape([13, 1]).mul(tf.ones([1, 32])))));
  const after = tf.tidy(() => tied.logits(x).slice([0, 0, 5], [1, 1, 1]).dataSync()[0]!);
  assert.notEqual(after, before);
  const optimizer = tf.train.adam(1e-3);
  let n0 = 0;
  for (let i = 0; i < 3; i++) {
    if (i === 1) n0 = tf.memory().numTensors;
    charGPTStep(tied, optimizer, x, y, 1e-3, 0.01, { clipNorm: 0.5, dropout: { rate: 0.1, seed: i } }).dispose();
  }
  assert.equal(tf.memory().numTensors, n0);
  tf.dispose([x, y]);
  optimizer.dispose();
  tied.dispose();
  untied.dispose();
});
