/**
 * kernel-lib/src/models/transformer/, data/text.ts and nn/layer-norm.ts: positional encodings, LayerNorm and GELU against
 * hand-computed values, permutation equivariance, the causal property of the model, parameter counts,
 * the tokenizer's errors, seeded sampling with temperature and top-k, embedding gradients on wasm,
 * the corpus loader's checksum, batching and the full validation pass, and no leaks in a training step.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  Block,
  CHAR_GPT_PRESETS,
  CharGPT,
  charGPTConfig,
  charGPTStep,
  CharTokenizer,
  checkFlatTensors,
  CorpusError,
  crossEntropy,
  evaluateLoss,
  gelu,
  generate,
  layerNorm,
  loadGzipText,
  loadPrideAndPrejudice,
  MultiHeadAttention,
  PRIDE_AND_PREJUDICE,
  randomBatch,
  Rng,
  sampleFromLogits,
  samplingDistribution,
  ShapeError,
  sinusoidalPositionalEncoding,
  splitTrainVal,
  tf,
  trainCharGPT,
  UnknownCharacterError,
  useBestBackend,
} from "kernel-lib";
import { assertClose, values } from "./lib/tensors";

before(async () => {
  await useBestBackend({ verbose: false });
});

test("sinusoidal positional encoding matches sin/cos(pos / 10000^(2i/d))", () => {
  const pe = sinusoidalPositionalEncoding(3, 6);
  assert.deepEqual(pe.shape, [3, 6]);
  const v = values(pe);
  assertClose(v.slice(0, 6), [0, 1, 0, 1, 0, 1], 1e-7, "position 0");
  const f = (i2: number) => 1 / Math.pow(10000, i2 / 6);
  assertClose(v.slice(12, 18), [Math.sin(2 * f(0)), Math.cos(2 * f(0)), Math.sin(2 * f(2)), Math.cos(2 * f(2)), Math.sin(2 * f(4)), Math.cos(2 * f(4))], 1e-6, "position 2");
  pe.dispose();
});

test("LayerNorm normalises each vector; its written-out gradient equals autodiff through tf.moments", () => {
  const x = tf.tensor2d([[1, 2, 3, 4], [10, 10, 10, 14]]);
  const y = layerNorm(x, tf.ones([4]), tf.zeros([4]));
  // Row 0: mean 2.5, variance 1.25.
  const s = Math.sqrt(1.25 + 1e-5);
  assertClose(values(y).slice(0, 4), [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], 1e-5, "row 0");
  const r = new Rng(3);
  const xr = tf.randomNormal([2, 3, 8], 0, 2, "float32", r.seed());
  const g = tf.randomNormal([8], 1, 0.3, "float32", r.seed());
  const b = tf.randomNormal([8], 0, 1, "float32", r.seed());
  const w = tf.randomNormal([2, 3, 8], 0, 1, "float32", r.seed());
  const reference = (a: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => {
    const { mean, variance } = tf.moments(a, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, 1e-5))), gm), bt);
  };
  const ours = tf.grads((a: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => tf.sum(tf.mul(layerNorm(a, gm, bt), w)))([xr, g, b]);
  const ref = tf.grads((a: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => tf.sum(tf.mul(reference(a, gm, bt), w)))([xr, g, b]);
  ["x", "gamma", "beta"].forEach((name, i) => assertClose(values(ours[i]!), values(ref[i]!), 1e-4, `d/d${name}`));
  assert.throws(() => layerNorm(x, tf.ones([3]), tf.zeros([4])), (e: Error) => e instanceof ShapeError && e.message.includes("[2, 4]") && e.message.includes("[3]"));
  tf.dispose([x, y, xr, g, b, w, ...ours, ...ref]);
});

test("GELU (tanh approximation) at hand-computed points", () => {
  const y = gelu(tf.tensor1d([0, 1, -1, 3]));
  const ref = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  assertClose(values(y), [0, ref(1), ref(-1), ref(3)], 1e-6, "gelu");
  assertClose([ref(1)], [0.841192], 1e-5, "gelu(1)");
  y.dispose();
});

test("self-attention without positions is permutation-equivariant; adding positional encodings breaks it", () => {
  const T = 5;
  const d = 8;
  const mha = new MultiHeadAttention({ dModel: d, numHeads: 2 }, new Rng(4));
  // Larger weights than the 0.02 initialisation, so the scores differ by O(1) and the effect is plain.
  for (const w of ["wq", "wk", "wv", "wo"] as const) mha.weights[w].assign(tf.randomNormal([d, d], 0, 0.5, "float32", w.charCodeAt(1)));
  const x = tf.randomNormal([1, T, d], 0, 1, "float32", 21);
  const perm = [3, 0, 4, 1, 2];
  const permIdx = tf.tensor1d(perm, "int32");
  const permute = (t: tf.Tensor) => tf.gather(t, permIdx, 1);
  const pe = sinusoidalPositionalEncoding(T, d);
  const [outOfPermuted, permutedOut, withPos, withPosPermuted] = tf.tidy(() => [
    mha.apply(permute(x)).output,
    permute(mha.apply(x).output),
    permute(mha.apply(tf.add(x, pe)).output),
    mha.apply(tf.add(permute(x), pe)).output,
  ]);
  assertClose(values(outOfPermuted!), values(permutedOut!), 1e-5, "attention(permuted x) = permuted attention(x)");
  const gap = Math.max(...values(withPos!).map((v, i) => Math.abs(v - values(withPosPermuted!)[i]!)));
  assert.ok(gap > 0.05, `with positions the outputs must differ, max gap ${gap}`);
  tf.dispose([x, permIdx, pe, outOfPermuted!, permutedOut!, withPos!, withPosPermuted!]);
  mha.dispose();
});

test("a pre-LN block keeps the shape; its MLP acts on each position alone", () => {
  const block = new Block({ dModel: 16, numHeads: 4 }, new Rng(2));
  const x = tf.randomNormal([2, 6, 16], 0, 1, "float32", 5);
  const { output, weights } = block.apply(x);
  assert.deepEqual(output.shape, [2, 6, 16]);
  assert.deepEqual(weights.shape, [2, 4, 6, 6]);
  assert.deepEqual(block.mlp.w1.shape, [16, 64], "dFF defaults to 4 * dModel");
  const whole = block.feedForward(x);
  const one = block.feedForward(x.slice([1, 3, 0], [1, 1, 16]));
  assertClose(values(one), values(whole.slice([1, 3, 0], [1, 1, 16])), 1e-5, "MLP at position (1, 3)");
  tf.dispose([x, output, weights, whole, one]);
  block.dispose();
});

test("parameter count of each preset matches the closed form; base is about 0.8M", () => {
  const V = 75;
  for (const preset of Object.keys(CHAR_GPT_PRESETS) as (keyof typeof CHAR_GPT_PRESETS)[]) {
    const c = charGPTConfig(preset, V);
    const d = c.dModel;
    const perBlock = 4 * (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d) + 4 * d;
    const expected = V * d + c.contextLength * d + c.numLayers * perBlock + 2 * d + d * V + V;
    const model = new CharGPT(c, new Rng(0));
    assert.equal(model.numParams(), expected, `${preset} parameters`);
    if (preset === "base") assert.ok(expected > 780_000 && expected < 850_000, `base has ${expected} parameters`);
    model.dispose();
  }
});

test("the model is causal: changing a later character never changes earlier logits", () => {
  const model = new CharGPT(charGPTConfig("tiny", 10), new Rng(1));
  const a = tf.tensor2d([[1, 2, 3, 4, 5, 6]], undefined, "int32");
  const b = tf.tensor2d([[1, 2, 3, 9, 0, 0]], undefined, "int32");
  const la = model.logits(a);
  const lb = model.logits(b);
  assertClose(values(la).slice(0, 30), values(lb).slice(0, 30), 1e-5, "logits at positions 0-2");
  const gap = Math.max(...values(la).slice(30).map((v, i) => Math.abs(v - values(lb)[30 + i]!)));
  assert.ok(gap > 1e-4, "later positions see the change");
  assert.throws(() => model.logits(tf.zeros([1, 33], "int32")), (e: Error) => e instanceof ShapeError && e.message.includes("[1, 33]") && e.message.includes("32"));
  tf.dispose([a, b, la, lb]);
  model.dispose();
});

test("tf.grad of the whole model's loss agrees with central finite differences (custom LayerNorm and softmax gradients included)", () => {
  const model = new CharGPT(charGPTConfig("tiny", 9, { contextLength: 6, numLayers: 2 }), new Rng(12));
  // Weights 10x the initialisation (std 0.2), so attention is far from uniform and every gradient is sizeable.
  for (const v of Object.values(model.variables())) if (v.rank === 2) v.assign(tf.tidy(() => tf.mul(v, 10)));
  for (const v of [model.blocks[0]!.ln1.gamma, model.blocks[1]!.ln2.beta]) v.assign(tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.3, "float32", 5))));
  const x = tf.tensor2d([[1, 5, 2, 8, 0, 3], [4, 4, 7, 6, 2, 1]], undefined, "int32");
  const y = tf.tensor2d([[5, 2, 8, 0, 3, 3], [4, 7, 6, 2, 1, 0]], undefined, "int32");
  const probes: [tf.Variable, number[]][] = [
    [model.blocks[0]!.attn.weights.wq, [0, 33, 500]],
    [model.blocks[1]!.attn.weights.wk, [7, 301]],
    [model.blocks[0]!.ln1.gamma, [3, 20]],
    [model.blocks[1]!.ln2.beta, [11]],
    [model.blocks[1]!.mlp.w1, [45, 1000]],
    [model.posEmb!, [2, 100]],
  ];
  const { grads, value } = tf.variableGrads(() => model.loss(x, y), probes.map(([v]) => v));
  const eps = 1e-2;
  for (const [v, idx] of probes) {
    const g = grads[v.name]!.dataSync();
    const original = v.dataSync().slice();
    for (const i of idx) {
      const at = (delta: number) => {
        const moved = Float32Array.from(original);
        moved[i]! += delta;
        v.assign(tf.tidy(() => tf.tensor(moved, v.shape)));
        return tf.tidy(() => model.loss(x, y).dataSync()[0]!);
      };
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      v.assign(tf.tidy(() => tf.tensor(original, v.shape)));
      assert.ok(Math.abs(g[i]! - numeric) <= 2e-3 + 0.03 * Math.abs(numeric), `d loss / d ${v.name}[${i}]: tf.grad ${g[i]}, central difference ${numeric}`);
    }
  }
  assert.ok(Math.max(...probes.map(([v]) => Math.max(...Array.from(grads[v.name]!.dataSync(), Math.abs)))) > 1e-2, "gradients large enough to compare");
  tf.dispose([x, y, value, ...Object.values(grads)]);
  model.dispose();
});

test("cross-entropy: hand-computed values; a fresh model starts near ln(vocabulary)", () => {
  const logits = tf.tensor2d([[0, 0], [Math.log(3), 0]]);
  const ce = crossEntropy(logits, tf.tensor1d([0, 1], "int32"));
  // -(ln 1/2 + ln 1/4) / 2
  assertClose([ce.dataSync()[0]!], [(Math.log(2) + Math.log(4)) / 2], 1e-6, "cross-entropy");
  const model = new CharGPT(charGPTConfig("tiny", 40), new Rng(2));
  const x = tf.tensor2d([[1, 5, 9, 13]], undefined, "int32");
  const loss = model.loss(x, tf.tensor2d([[5, 9, 13, 17]], undefined, "int32"));
  assertClose([loss.dataSync()[0]!], [Math.log(40)], 0.02, "initial loss");
  tf.dispose([logits, ce, x, loss]);
  model.dispose();
});

test("CharTokenizer round-trips and names an unknown character and its position", () => {
  const tok = CharTokenizer.fromText("hello world");
  assert.deepEqual(tok.chars, [" ", "d", "e", "h", "l", "o", "r", "w"]);
  assert.equal(tok.decode(tok.encode("world hello")), "world hello");
  assert.throws(
    () => tok.encode("hello, world"),
    (e: Error) => e instanceof UnknownCharacterError && e.message.includes('","') && e.message.includes("U+002C") && e.message.includes("position 5"),
  );
  assert.throws(() => tok.decode([0, 8]), /id 8 at position 1 is outside the vocabulary \[0, 8\)/);
  assert.deepEqual(CharTokenizer.fromJSON(JSON.parse(JSON.stringify(tok))).chars, tok.chars);
  assert.throws(() => new CharTokenizer(["a", "a"]), /appears twice/);
});

test("sampling: temperature 0 is greedy, top-k never leaves the top k, frequencies follow softmax(l / T)", () => {
  const logits = [1, 3, 2, 0];
  assert.deepEqual(samplingDistribution(logits, 0), [0, 1, 0, 0]);
  const t = 2;
  const z = logits.map((l) => Math.exp(l / t));
  const total = z.reduce((a, b) => a + b);
  assertClose(samplingDistribution(logits, t), z.map((v) => v / total), 1e-12, "softmax(l / 2)");
  const top2 = samplingDistribution(logits, 1, 2);
  assertClose(top2, [0, Math.E / (Math.E + 1), 1 / (Math.E + 1), 0], 1e-12, "top-2");
  const r = new Rng(42);
  const counts = [0, 0, 0, 0];
  const n = 20000;
  for (let i = 0; i < n; i++) counts[sampleFromLogits(logits, { temperature: t, rng: r })]! += 1;
  counts.forEach((c, i) => assert.ok(Math.abs(c / n - z[i]! / total) < 0.015, `index ${i}: frequency ${c / n} vs ${z[i]! / total}`));
  for (let i = 0; i < 500; i++) assert.ok([1, 2].includes(sampleFromLogits(logits, { topK: 2, rng: r })), "top-2 sample outside the top 2");
  assert.throws(() => samplingDistribution(logits, -1), /temperature must be >= 0/);
  assert.throws(() => samplingDistribution(logits, 1, 0), /topK must be a positive integer/);
  assert.throws(() => samplingDistribution([NaN, 1]), /NaN/);
});

test("generation is reproducible with a seed and continues the prompt", () => {
  const tok = CharTokenizer.fromText("abcdefgh ");
  const model = new CharGPT(charGPTConfig("tiny", tok.vocabSize), new Rng(3));
  const a = generate(model, tok, "abc", 20, { temperature: 1, topK: 5, rng: new Rng(9) });
  const b = generate(model, tok, "abc", 20, { temperature: 1, topK: 5, rng: new Rng(9) });
  const c = generate(model, tok, "abc", 20, { temperature: 1, topK: 5, rng: new Rng(10) });
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.ok(a.startsWith("abc") && a.length === 23, a);
  // A prompt longer than the context is cropped to its last contextLength characters, not an error.
  assert.equal(generate(model, tok, "abcdefgh ".repeat(5), 2, { rng: new Rng(1) }).length, 47);
  model.dispose();
});

test("embeddings train on wasm: the gradient reaches exactly the rows used and matches the cpu backend", async () => {
  const run = () =>
    tf.tidy(() => {
      const model = new CharGPT(charGPTConfig("tiny", 12), new Rng(5));
      const x = tf.tensor2d([[1, 4, 4, 7]], undefined, "int32");
      const y = tf.tensor2d([[4, 4, 7, 2]], undefined, "int32");
      const { grads } = tf.variableGrads(() => model.loss(x, y), [model.tokEmb]);
      const g = grads[model.tokEmb.name]!.arraySync() as number[][];
      model.dispose();
      return g;
    });
  await useBestBackend({ force: "wasm", verbose: false });
  const wasm = run();
  const used = new Set([1, 4, 7]);
  wasm.forEach((row, i) => {
    const norm = Math.hypot(...row);
    if (used.has(i)) assert.ok(norm > 1e-6, `row ${i} is used but got no gradient`);
    else assert.equal(norm, 0, `row ${i} is unused but got gradient ${norm}`);
  });
  await tf.setBackend("cpu");
  const cpu = run();
  await useBestBackend({ verbose: false });
  assertClose(wasm.flat(), cpu.flat(), 1e-4, "tokEmb gradient wasm vs cpu");
});

test("a training step leaks no tensors and lowers the loss on a repetitive text", async () => {
  const text = "the cat sat on the mat. ".repeat(40);
  const tok = CharTokenizer.fromText(text);
  const model = new CharGPT(charGPTConfig("tiny", tok.vocabSize, { contextLength: 16 }), new Rng(6));
  const ids = tok.encode(text);
  const optimizer = tf.train.adam(1e-2);
  const r = new Rng(7);
  const step = () => {
    const { x, y } = randomBatch(ids, 8, 16, r);
    const loss = charGPTStep(model, optimizer, x, y, 1e-2, 0.01);
    const v = loss.dataSync()[0]!;
    tf.dispose([x, y, loss]);
    return v;
  };
  await checkFlatTensors(step, 3, "charGPTStep");
  const first = step();
  let last = first;
  for (let i = 0; i < 60; i++) last = step();
  assert.ok(last < first * 0.5, `loss went from ${first} to ${last}`);
  optimizer.dispose();
  model.dispose();
});

test("trainCharGPT runs the shared loop: flat tensors, a full validation pass, a checkpoint", async () => {
  const text = "abcdefghij".repeat(60);
  const tok = CharTokenizer.fromText(text);
  const model = new CharGPT(charGPTConfig("tiny", tok.vocabSize, { contextLength: 8 }), new Rng(8));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "char-gpt-"));
  const file = path.join(dir, "m.ckpt");
  const before = tf.memory().numTensors;
  const result = await trainCharGPT(model, tok, text, { steps: 12, batchSize: 4, evalEvery: 4, progress: false, rng: new Rng(1), checkpointPath: file });
  assert.equal(tf.memory().numTensors, before, "tensors after training");
  assert.equal(result.stepsDone, 12);
  assert.equal(result.history["val"]!.length, 3, "evaluations at steps 4, 8, 12");
  assert.ok(Number.isFinite(result.valLoss) && result.secondsPerStep > 0);
  assert.ok(fs.existsSync(file), "checkpoint written");
  fs.rmSync(dir, { recursive: true, force: true });
  model.dispose();
});

test("corpus: the shipped file passes its checksum; a corrupt copy is refused", () => {
  const text = loadPrideAndPrejudice();
  assert.equal(text.length, PRIDE_AND_PREJUDICE.chars);
  assert.ok(text.startsWith("PRIDE AND PREJUDICE"));
  assert.equal(CharTokenizer.fromText(text).vocabSize, 75);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "austen-"));
  fs.mkdirSync(path.join(dir, "austen"));
  const bytes = fs.readFileSync(path.join(__dirname, "..", "..", "datasets", PRIDE_AND_PREJUDICE.file));
  bytes[100] ^= 1;
  fs.writeFileSync(path.join(dir, PRIDE_AND_PREJUDICE.file), bytes);
  assert.throws(() => loadPrideAndPrejudice(dir), (e: Error) => e instanceof CorpusError && e.message.includes("SHA-256") && e.message.includes(PRIDE_AND_PREJUDICE.sha256));
  assert.throws(() => loadGzipText(path.join(dir, "missing.gz"), "0"), /no such file/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("split, batches and the full validation pass", async () => {
  const ids = Int32Array.from({ length: 103 }, (_, i) => i);
  const { train, val } = splitTrainVal(ids, 0.9);
  assert.equal(train.length, 92);
  assert.equal(val[0], 92);
  const { x, y } = randomBatch(train, 4, 10, new Rng(1));
  const xs = x.arraySync();
  const ys = y.arraySync();
  xs.forEach((row, b) => row.forEach((v, t) => assert.equal(ys[b]![t], v + 1, "y is x shifted by one")));
  assert.ok(Math.max(...ys.flat()) <= 91, "batches stay inside the training split");
  // A fake loss (mean of the targets) shows every target 1..102 is counted once: mean 51.5.
  let windows = 0;
  const mean = await evaluateLoss(ids, 10, (_, yy) => {
    windows += yy.shape[0];
    return tf.mean(tf.cast(yy, "float32")) as tf.Scalar;
  }, 4);
  assertClose([mean], [51.5], 1e-6, "mean over all targets");
  assert.equal(windows, 11, "10 full windows and 1 short one");
  tf.dispose([x, y]);
});

test("CharGPT with causal: false reads the future (logits at position 0 depend on token 1); the default does not", () => {
  const config = charGPTConfig("tiny", 5, { contextLength: 4 });
  for (const causal of [true, false]) {
    const m = new CharGPT(config, new Rng(1), { causal });
    const [a, b] = tf.tidy(() => [
      m.logits(tf.tensor2d([[0, 1, 2, 3]], [1, 4], "int32")).slice([0, 0, 0], [1, 1, 5]).dataSync(),
      m.logits(tf.tensor2d([[0, 4, 2, 3]], [1, 4], "int32")).slice([0, 0, 0], [1, 1, 5]).dataSync(),
    ]);
    const moved = Math.max(...Array.from(a!, (v, i) => Math.abs(v - b![i]!)));
    if (causal) assert.equal(moved, 0);
    else assert.ok(moved > 1e-6, `without the mask position 0 should see token 1 (moved ${moved})`);
    m.dispose();
  }
});
