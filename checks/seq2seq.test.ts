/**
 * The encoder-decoder (kernel-lib/src/models/seq2seq/) and the date data (kernel-lib/src/data/dates.ts):
 * cross-attention is lesson 01's attention with keys and values from another sequence (against softmax(x mᵀ/√d) m
 * by hand), the decoder cannot see later target tokens, source padding changes nothing, the label-smoothed loss
 * by hand, beam width 1 equals greedy, checkpoints round-trip; number words by hand, seeded and date-disjoint
 * splits, and a corrupt data file; the date task's helpers (models/seq2seq/dates-task.ts): teacher-forced batches,
 * character accuracy by hand, the shared training run without leaks, the shipped checkpoint's config.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import {
  beamDecode,
  characterAccuracy,
  DATE_VOCABS,
  dateSeq2SeqConfig,
  dateTextPairs,
  decodeTexts,
  exactMatchOf,
  teacherForcedBatch,
  teacherForcedLogits,
  trainSeq2Seq,
  datePairs,
  EncoderDecoder,
  exactMatch,
  greedyDecode,
  loadDates,
  loadSeq2Seq,
  makeDateSplits,
  MultiHeadCrossAttention,
  numberWords,
  ordinalWords,
  PAD,
  Rng,
  saveSeq2Seq,
  Seq2SeqVocab,
  tf,
  useBestBackend,
  yearWords,
} from "kernel-lib";

const small = { srcVocab: 10, tgtVocab: 8, maxSrcLen: 12, maxTgtLen: 6, dModel: 16, numHeads: 2, encoderLayers: 1, decoderLayers: 1 };

test("cross-attention with identity projections and one head is softmax(x mᵀ / √d) m, computed by hand", async () => {
  await useBestBackend({ verbose: false });
  const ca = new MultiHeadCrossAttention(3, 1, new Rng(0));
  for (const k of ["wq", "wk", "wv", "wo"] as const) ca.weights[k].assign(tf.eye(3));
  const x = [[1, 0, 2], [0, 1, -1]];
  const m = [[0.5, 1, 0], [2, -1, 1], [0, 0, 1], [1, 1, 1]];
  const got = tf.tidy(() => ca.apply(tf.tensor3d([x]), tf.tensor3d([m])).output.arraySync() as number[][][]);
  x.forEach((q, i) => {
    const scores = m.map((k) => q.reduce((s, v, j) => s + v * k[j]!, 0) / Math.sqrt(3));
    const e = scores.map((s) => Math.exp(s - Math.max(...scores)));
    const w = e.map((v) => v / e.reduce((a, b) => a + b, 0));
    const expected = [0, 1, 2].map((j) => m.reduce((s, row, r) => s + w[r]! * row[j]!, 0));
    expected.forEach((v, j) => assert.ok(Math.abs(got[0]![i]![j]! - v) < 1e-5, `row ${i} col ${j}: ${got[0]![i]![j]} vs ${v}`));
  });
  ca.dispose();
});

test("the decoder is causal and source padding is invisible", async () => {
  await useBestBackend({ verbose: false });
  const model = new EncoderDecoder(small, new Rng(1));
  const run = (src: number[], tgt: number[]) =>
    tf.tidy(() => {
      const s = tf.tensor2d([src], [1, src.length], "int32");
      const mask = model.sourceMask(s);
      return model.decode(model.encode(s, mask), mask, tf.tensor2d([tgt], [1, tgt.length], "int32")).logits.arraySync() as number[][][];
    });
  const a = run([3, 4, 5], [1, 3, 4, 5]);
  const b = run([3, 4, 5], [1, 3, 7, 6]); // positions 2 and 3 changed
  const c = run([3, 4, 5, PAD, PAD], [1, 3, 4, 5]);
  const close = (u: number[], v: number[]) => u.every((x, i) => Math.abs(x - v[i]!) < 1e-5);
  assert.ok(close(a[0]![0]!, b[0]![0]!) && close(a[0]![1]!, b[0]![1]!), "logits before the change must not move");
  assert.ok(!close(a[0]![2]!, b[0]![2]!), "the changed position's own logits should move");
  a[0]!.forEach((row, t) => assert.ok(close(row, c[0]![t]!), `padding the source changed position ${t}`));
  model.dispose();
});

test("label-smoothed loss by hand: -Σ_v ((1 - ε) 1[v = y] + ε / V) log p_v, PAD targets skipped", async () => {
  await useBestBackend({ verbose: false });
  const model = new EncoderDecoder(small, new Rng(2));
  const src = tf.tensor2d([[3, 4]], [1, 2], "int32");
  const tin = tf.tensor2d([[1, 5, 6]], [1, 3], "int32");
  const tout = tf.tensor2d([[5, 6, PAD]], [1, 3], "int32");
  const eps = 0.1;
  const logits = tf.tidy(() => {
    const mask = model.sourceMask(src);
    return model.decode(model.encode(src, mask), mask, tin).logits.arraySync() as number[][][];
  });
  let expected = 0;
  for (const [t, y] of [[0, 5], [1, 6]] as const) {
    const l = logits[0]![t]!;
    const max = Math.max(...l);
    const lse = max + Math.log(l.reduce((s, v) => s + Math.exp(v - max), 0));
    expected -= l.reduce((s, v, k) => s + ((k === y ? 1 - eps : 0) + eps / 8) * (v - lse), 0);
  }
  expected /= 2;
  const got = tf.tidy(() => model.loss(src, tin, tout, eps).dataSync()[0]!);
  assert.ok(Math.abs(got - expected) < 1e-5, `loss ${got}, by hand ${expected}`);
  tf.dispose([src, tin, tout]);
  model.dispose();
});

test("beam search of width 1 equals greedy decoding; checkpoints round-trip; nothing leaks", async () => {
  await useBestBackend({ verbose: false });
  const vocabs = { source: new Seq2SeqVocab("abcdefg"), target: new Seq2SeqVocab("01234") };
  const model = new EncoderDecoder({ ...small, srcVocab: vocabs.source.size, tgtVocab: vocabs.target.size }, new Rng(3));
  const sources = ["abc", "gfedcba", "d"].map((s) => vocabs.source.encode(s));
  const n0 = tf.memory().numTensors;
  const greedy = greedyDecode(model, sources);
  sources.forEach((s, i) => assert.deepEqual(beamDecode(model, s, 1).ids, greedy[i]));
  assert.equal(tf.memory().numTensors, n0);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-s2s-"));
  await saveSeq2Seq(path.join(dir, "m.ckpt"), model, vocabs, 7, { note: 1 });
  const loaded = loadSeq2Seq(path.join(dir, "m.ckpt"));
  assert.equal(loaded.step, 7);
  assert.deepEqual(greedyDecode(loaded.model, sources), greedy);
  assert.equal(loaded.vocabs.target.decode(vocabs.target.encode("4310", { eos: true })), "4310");
  fs.rmSync(dir, { recursive: true });
  loaded.model.dispose();
  model.dispose();
  assert.equal(exactMatch(["a", "b"], ["a", "c"]), 0.5);
  assert.throws(() => vocabs.source.encode("abz"), /"z" at position 2 of "abz" is not in the vocabulary/);
});

test("number words by hand; seeded pairs; test, val and train share no date; the shipped files load and a corrupt one is refused", () => {
  assert.deepEqual([numberWords(7), numberWords(42), numberWords(90)], ["seven", "forty-two", "ninety"]);
  assert.deepEqual([ordinalWords(1), ordinalWords(12), ordinalWords(23), ordinalWords(30)], ["first", "twelfth", "twenty-third", "thirtieth"]);
  const r = new Rng(0);
  assert.deepEqual([yearWords(1905, r), yearWords(1994, r), yearWords(2000, r), yearWords(2007, r)], ["nineteen oh five", "nineteen ninety-four", "two thousand", "two thousand and seven"]);
  assert.deepEqual(datePairs(5, 9), datePairs(5, 9));
  const splits = makeDateSplits();
  const test = new Set(splits.test.map((p) => p.iso));
  const val = new Set(splits.val.map((p) => p.iso));
  assert.ok(splits.val.every((p) => !test.has(p.iso)) && splits.train.every((p) => !test.has(p.iso) && !val.has(p.iso)));
  assert.deepEqual(loadDates("test"), splits.test);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-dates-"));
  fs.mkdirSync(path.join(dir, "dates"));
  const shipped = fs.readFileSync(path.join(__dirname, "..", "..", "datasets", "dates", "dates-val.tsv.gz"));
  shipped[shipped.length - 9] ^= 1;
  fs.writeFileSync(path.join(dir, "dates", "dates-val.tsv.gz"), shipped);
  assert.throws(() => loadDates("val", dir), /SHA-256 is [0-9a-f]+, expected a9412a43/);
  fs.rmSync(dir, { recursive: true });
});

test("the date task: teacher-forced batches by hand, character accuracy by hand, a short trainSeq2Seq run without leaks", async () => {
  await useBestBackend({ verbose: false });
  const pairs = dateTextPairs("val").slice(0, 40);
  for (const p of dateTextPairs("train")) DATE_VOCABS.source.encode(p.source); // every training character is known
  const b = teacherForcedBatch(DATE_VOCABS, [{ source: "may the first, two thousand", target: "2000-05-01" }, { source: "june", target: "1-2" }]);
  assert.deepEqual(b.tgtIn.arraySync(), [[1, ...DATE_VOCABS.target.encode("2000-05-01")], [1, 4, 13, 5, 0, 0, 0, 0, 0, 0, 0]]);
  assert.deepEqual((b.tgtOut.arraySync() as number[][])[1], [4, 13, 5, 2, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(b.src.shape, [2, 27]);
  tf.dispose([b.src, b.tgtIn, b.tgtOut]);
  assert.equal(characterAccuracy(["1994-03-23", "1994"], ["1994-03-24", "2094-01-01"]), (9 + 2) / 20);
  assert.throws(() => characterAccuracy([], []), /0 outputs for 0 targets/);
  const model = new EncoderDecoder({ ...dateSeq2SeqConfig({ dModel: 16, numHeads: 2, layers: 1 }) }, new Rng(6));
  const n0 = tf.memory().numTensors;
  const result = await trainSeq2Seq(model, dateTextPairs("train").slice(0, 256), DATE_VOCABS, { steps: 6, batchSize: 32, evalEvery: 3, evalPairs: pairs.slice(0, 8), rng: new Rng(7), progress: false });
  assert.equal(tf.memory().numTensors, n0, "training leaves no tensor behind (the optimizer is disposed)");
  assert.deepEqual(result.evaluations.map((e) => e.step), [3, 6]);
  assert.equal(result.history["loss"]!.length, 6);
  const { logits, targets, cross } = teacherForcedLogits(model, DATE_VOCABS, pairs.slice(0, 3), { withCross: true });
  assert.deepEqual([logits.length, logits[0]!.length, logits[0]![0]!.length, targets[0]!.length], [3, 11, 14, 11]);
  assert.equal(cross![0]!.length, 2); // heads of the last decoder block
  const sources = pairs.slice(0, 5).map((p) => p.source);
  assert.deepEqual(decodeTexts(model, DATE_VOCABS, sources, { beam: 1 }), decodeTexts(model, DATE_VOCABS, sources, { batch: 2 }));
  assert.equal(exactMatchOf(model, DATE_VOCABS, pairs.slice(0, 5)), exactMatch(decodeTexts(model, DATE_VOCABS, sources), pairs.slice(0, 5).map((p) => p.target)));
  assert.equal(tf.memory().numTensors, n0);
  model.dispose();
  const shipped = loadSeq2Seq(path.join(__dirname, "..", "..", "notebooks", "checkpoints", "seq2seq-dates.ckpt"));
  for (const [k, v] of Object.entries(dateSeq2SeqConfig())) assert.equal((shipped.model.config as unknown as Record<string, number>)[k], v, k);
  shipped.model.dispose();
});
