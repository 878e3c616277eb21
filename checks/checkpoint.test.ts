/**
 * The shared checkpoint format (kernel-lib/src/train/checkpoint.ts) with the character model: a round trip gives
 * the same logits and tokenizer; a corrupt, truncated, wrong-kind or mismatched-config file is refused with
 * a clear CheckpointError; writes are atomic (no temporary file left, a failed write keeps the old file).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import {
  CharGPT,
  charGPTConfig,
  charGPTLoss,
  loadPrideAndPrejudice,
  splitTrainVal,
  CharTokenizer,
  CheckpointError,
  loadCharGPT,
  loadCheckpoint,
  Rng,
  saveCharGPT,
  saveCheckpoint,
  tf,
  useBestBackend,
} from "kernel-lib";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ckpt-test-"));
const tok = CharTokenizer.fromText("It is a truth universally acknowledged.");
const config = charGPTConfig("tiny", tok.vocabSize);
let model: CharGPT;
let file: string;

before(async () => {
  await useBestBackend({ verbose: false });
  model = new CharGPT(config, new Rng(11));
  file = path.join(dir, "model.ckpt");
  await saveCharGPT(file, model, tok, 123, { valLoss: 1.5 });
});

after(() => {
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

function logitsOf(m: CharGPT): number[] {
  return tf.tidy(() => Array.from(m.logits(tf.tensor2d([Array.from(tok.encode("a truth"))], undefined, "int32")).dataSync()));
}

test("round trip: same logits, tokenizer, step and extra; no tensors leaked; no temporary files", () => {
  const before = tf.memory().numTensors;
  const loaded = loadCharGPT(file, config);
  assert.deepEqual(logitsOf(loaded.model), logitsOf(model));
  assert.deepEqual(loaded.tokenizer.chars, tok.chars);
  assert.equal(loaded.step, 123);
  assert.equal(loaded.extra["valLoss"], 1.5);
  loaded.model.dispose();
  assert.equal(tf.memory().numTensors, before, "tensors after load + dispose");
  assert.deepEqual(fs.readdirSync(dir), ["model.ckpt"], "only the checkpoint is left in the folder");
});

test("a flipped byte in the weights is refused as corrupt", () => {
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 10] ^= 0x40;
  const bad = path.join(dir, "corrupt.ckpt");
  fs.writeFileSync(bad, bytes);
  assert.throws(() => loadCharGPT(bad), (e: Error) => e instanceof CheckpointError && /corrupt/.test(e.message) && e.message.includes(bad));
  fs.rmSync(bad);
});

test("truncated files and garbage are refused", () => {
  const bytes = fs.readFileSync(file);
  const bad = path.join(dir, "truncated.ckpt");
  for (const cut of [bytes.length - 4, 200, 10]) {
    fs.writeFileSync(bad, bytes.subarray(0, cut));
    assert.throws(() => loadCharGPT(bad), (e: Error) => e instanceof CheckpointError && /truncated|bad magic/.test(e.message), `cut at ${cut}`);
  }
  fs.writeFileSync(bad, "not a checkpoint at all");
  assert.throws(() => loadCharGPT(bad), (e: Error) => e instanceof CheckpointError && /bad magic/.test(e.message));
  fs.rmSync(bad);
  assert.throws(() => loadCharGPT(path.join(dir, "missing.ckpt")), /no such file/);
});

test("a config that differs is refused, naming the key and both values", () => {
  const other = { ...config, dModel: 64 };
  assert.throws(() => loadCharGPT(file, other), (e: Error) => e instanceof CheckpointError && e.message.includes("dModel: checkpoint 32, expected 64"));
});

test("another kind of model is refused", async () => {
  const other = path.join(dir, "vae.ckpt");
  const w = tf.zeros([2, 2]);
  await saveCheckpoint(other, { kind: "vae", config: {}, step: 0, weights: { w } });
  w.dispose();
  assert.throws(() => loadCharGPT(other), (e: Error) => e instanceof CheckpointError && e.message.includes('holds a "vae" model, expected "char-gpt"'));
  fs.rmSync(other);
});

test("weights that do not fit the config are refused with the weight's name and both shapes", async () => {
  const bad = path.join(dir, "wrong-shapes.ckpt");
  const weights = { ...model.variables(), "head.b": tf.zeros([3]) as tf.Variable | tf.Tensor };
  await saveCheckpoint(bad, { kind: "char-gpt", config: model.config, step: 1, weights, extra: { tokenizer: tok.toJSON() } });
  tf.dispose(weights["head.b"]);
  const before = tf.memory().numTensors;
  assert.throws(() => loadCharGPT(bad), (e: Error) => e.message.includes('"head.b" has shape [3]') && e.message.includes(`[${tok.vocabSize}]`));
  assert.equal(tf.memory().numTensors, before, "a failed load leaks nothing");
  fs.rmSync(bad);
});

test("a failed write leaves the previous checkpoint intact and no temporary file", async () => {
  const good = fs.readFileSync(file);
  const bool = tf.tensor1d([true, false], "bool");
  await assert.rejects(saveCheckpoint(file, { kind: "char-gpt", config, step: 9, weights: { b: bool } }), /only float32 and int32/);
  bool.dispose();
  assert.ok(fs.readFileSync(file).equals(good), "the old checkpoint is unchanged");
  assert.deepEqual(fs.readdirSync(dir), ["model.ckpt"]);
  // And a successful overwrite replaces it whole.
  await saveCharGPT(file, model, tok, 124);
  const reread = loadCheckpoint(file);
  assert.equal(reread.step, 124);
  tf.dispose(Object.values(reread.weights));
});

test("the shipped checkpoint (notebooks/checkpoints/char-gpt.ckpt) loads as the base model and scores what it records", async () => {
  const shippedFile = path.join(__dirname, "..", "..", "notebooks", "checkpoints", "char-gpt.ckpt");
  const text = loadPrideAndPrejudice();
  const corpusTokenizer = CharTokenizer.fromText(text);
  const shipped = loadCharGPT(shippedFile, charGPTConfig("base", corpusTokenizer.vocabSize));
  assert.deepEqual(shipped.tokenizer.chars, corpusTokenizer.chars, "vocabulary");
  assert.equal(shipped.extra["partial"], false, "a finished run, not a periodic checkpoint");
  const recorded = shipped.extra["valLoss"] as number;
  assert.ok(recorded > 0 && recorded < 3, `recorded validation loss ${recorded}`);
  // The first 8,192 validation characters: a quick re-measurement that must land near the recorded whole-split number.
  const { val } = splitTrainVal(corpusTokenizer.encode(text), 0.9);
  const partial = await charGPTLoss(shipped.model, val.subarray(0, 8193));
  assert.ok(Math.abs(partial - recorded) < 0.15, `re-measured ${partial} on 8,192 characters vs recorded ${recorded}`);
  assert.ok(fs.statSync(shippedFile).size < 5_000_000, "the shipped checkpoint stays small");
  shipped.model.dispose();
});
