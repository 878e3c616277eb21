/**
 * kernel-lib/src/models/transformer/kv-cache.ts with the shipped character GPT: the cached generator writes the
 * same characters as naive generation for the same seed (before the context fills, when it fills, and after the
 * window slides; greedy, top-k and top-p), the cached prefill gives the full forward pass's logits, nothing
 * leaks; and top-p sampling's nucleus against a hand computation.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { forwardCached, generate, generateCached, KvCache, loadCharGPT, Rng, samplingDistribution, tf, useBestBackend } from "kernel-lib";

const file = path.join(__dirname, "..", "..", "notebooks", "checkpoints", "char-gpt.ckpt");

test("cached and naive generation write the same characters (lengths 20, 60 and 100 after a 10-character prompt)", async () => {
  await useBestBackend({ verbose: false });
  const { model, tokenizer } = loadCharGPT(file);
  const before = tf.memory().numTensors;
  const prompt = "Elizabeth ";
  for (const [length, options] of [
    [20, { temperature: 0 }],
    [60, { temperature: 0.8, topK: 10 }],
    [100, { temperature: 1, topP: 0.9 }],
  ] as const) {
    const naive = generate(model, tokenizer, prompt, length, { ...options, rng: new Rng(length) });
    const cached = generateCached(model, tokenizer, prompt, length, { ...options, rng: new Rng(length) });
    assert.equal(cached, naive, `length ${length}`);
    assert.equal(cached.length, prompt.length + length);
  }
  assert.equal(tf.memory().numTensors, before, "generation leaked tensors");
  model.dispose();
});

test("the cached prefill and one cached step give the full forward pass's last logits", async () => {
  await useBestBackend({ verbose: false });
  const { model, tokenizer } = loadCharGPT(file);
  const ids = Array.from(tokenizer.encode("It is a truth universally"));
  const full = (n: number) => tf.tidy(() => model.logits(tf.tensor2d(ids.slice(0, n), [1, n], "int32")).slice([0, n - 1, 0], [1, 1, -1]).dataSync());
  const cache = new KvCache(model.config.numLayers);
  const prefill = forwardCached(model, cache, ids.slice(0, -1));
  const step = forwardCached(model, cache, ids.slice(-1));
  const worst = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i]!)));
  assert.ok(worst(prefill, full(ids.length - 1)) < 1e-4, `prefill differs by ${worst(prefill, full(ids.length - 1))}`);
  assert.ok(worst(step, full(ids.length)) < 1e-4, `cached step differs by ${worst(step, full(ids.length))}`);
  assert.equal(cache.length, ids.length);
  assert.throws(() => forwardCached(model, cache, new Array(64).fill(0)), /do not fit the context of 64/);
  cache.dispose();
  model.dispose();
});

test("top-p keeps the smallest most-likely set with mass >= p and renormalises it", () => {
  const logits = [0.5, 0.3, 0.15, 0.05].map(Math.log);
  const close = (a: number[], b: number[]) => a.every((x, i) => Math.abs(x - b[i]!) < 1e-12);
  assert.ok(close(samplingDistribution(logits, 1, undefined, 0.7), [0.625, 0.375, 0, 0]));
  assert.ok(close(samplingDistribution(logits, 1, undefined, 0.5), [1, 0, 0, 0]));
  assert.ok(close(samplingDistribution(logits, 1, undefined, 0.81), [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0]));
  assert.ok(close(samplingDistribution(logits, 1, undefined, 1), [0.5, 0.3, 0.15, 0.05]));
  assert.throws(() => samplingDistribution(logits, 1, undefined, 0), /topP must be in \(0, 1\]/);
});
