/**
 * kernel-lib helpers of notebooks/02-transformer.ipynb: the char-gpt training record (read, described, drawn,
 * written: models/transformer/char-gpt-record.ts) and the attention-map readers (models/transformer/attention-maps.ts).
 * Runs on the cpu backend.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import {
  CharGPT,
  charGPTConfig,
  charGPTRecord,
  charGPTTrainingRecord,
  CheckError,
  checkCausalWeights,
  describeCharGPTRecord,
  offsetWeight,
  Rng,
  tf,
  thinCurve,
  trainingCurveChart,
} from "kernel-lib";
import type { CharGPTTrainResult } from "kernel-lib";

before(async () => {
  await tf.setBackend("cpu");
  await tf.ready();
});

const shippedExtra = {
  script: "flock /scratch/lock node build/scripts/train-char-gpt.js --preset base --steps 5000 --out /tmp/cg2/char-gpt.ckpt",
  backend: "kernel-lib backend: wasm+native [SIMD]; skipped tfjs-node (not installed)",
  valLoss: 1.3253714585946301,
  trainedSeconds: 734.05,
  secondsPerStep: 0.14564490031300087,
  history: { loss: [{ step: 1, value: 4.3 }, { step: 5000, value: 1.25 }], val: [{ step: 5000, value: 1.31 }] },
};

test("charGPTRecord reads a shipped record and names a missing or malformed field", () => {
  const r = charGPTRecord(shippedExtra);
  assert.equal(r.valLoss, 1.3253714585946301);
  assert.equal(r.history?.["loss"]?.length, 2);
  assert.throws(() => charGPTRecord({}), /valLoss must be a finite number, got undefined/);
  assert.throws(() => charGPTRecord({ valLoss: "1.3" }), /valLoss must be a finite number, got "1.3"/);
  assert.throws(() => charGPTRecord({ valLoss: 1, script: 3 }), /script must be a string, got 3/);
  assert.throws(() => charGPTRecord({ valLoss: 1, history: { loss: [{ step: 1 }] } }), /history.loss must be a list of \{ step, value \}/);
});

test("describeCharGPTRecord prints the command as a learner types it, the short backend and the training time", () => {
  const lines = describeCharGPTRecord(charGPTRecord(shippedExtra), 5000);
  assert.deepEqual(lines, [
    "shipped checkpoint: 5000 steps, made by `node build/scripts/train-char-gpt.js --preset base --steps 5000 --out char-gpt.ckpt` on wasm+native [SIMD]",
    "  training took 12.2 min (0.146 s/step on 2 cores)",
  ]);
  assert.ok(!lines.join("\n").includes("/tmp/") && !lines.join("\n").includes("flock"));
  assert.deepEqual(describeCharGPTRecord({ valLoss: 1 }, 10), [
    "shipped checkpoint: 10 steps, made by (not recorded) on (not recorded)",
    "  training took (not recorded) min ((not recorded) s/step on 2 cores)",
  ]);
});

test("trainingCurveChart draws one row per recorded point with its series label, and null without a history", () => {
  const spec = trainingCurveChart(charGPTRecord(shippedExtra)) as unknown as { data: { values: { metric: string; value: number }[] } };
  assert.deepEqual(spec.data.values.map((r) => `${r.metric} ${r.value}`), ["train (batch) 4.3", "train (batch) 1.25", "validation (8,192 chars) 1.31"]);
  assert.equal(trainingCurveChart({ valLoss: 1 }), null);
  assert.equal(trainingCurveChart({ valLoss: 1, history: {} }), null);
});

test("thinCurve keeps at most max evenly spaced points and always the last one", () => {
  const points = Array.from({ length: 10 }, (_, i) => ({ step: i + 1, value: i }));
  assert.deepEqual(thinCurve(points, 4).map((p) => p.step), [1, 4, 7, 10]);
  assert.deepEqual(thinCurve(points, 3).map((p) => p.step), [1, 5, 9, 10]);
  assert.equal(thinCurve(points, 20).length, 10);
  assert.deepEqual(thinCurve(undefined), []);
  assert.throws(() => thinCurve(points, 0), /max must be a positive integer, got 0/);
});

test("charGPTTrainingRecord stores how the model was made and its results, and leaves other options out", () => {
  const model = new CharGPT(charGPTConfig("tiny", 5), new Rng(0));
  const loss = Array.from({ length: 450 }, (_, i) => ({ step: i + 1, value: 4 - i / 450 }));
  const result: CharGPTTrainResult = {
    stepsDone: 450, interrupted: false, seconds: 12, history: { loss, val: [{ step: 450, value: 3.1 }] }, last: { loss: 3.0 },
    valLoss: 3.05, valChars: 100, secondsPerStep: 0.02,
  };
  const made = { script: "notebooks/02-transformer.ipynb (full mode)", preset: "tiny", batchSize: 32, learningRate: 3e-3,
    weightDecay: 0.01, seed: 202, backend: "wasm", title: "a progress title", evalEvery: 50 };
  const record = charGPTTrainingRecord(model, result, made);
  assert.equal(record["title"], undefined);
  assert.equal(record["evalEvery"], undefined);
  assert.equal(record["numParams"], model.numParams());
  const kept = (record["history"] as { loss: { step: number }[] }).loss;
  assert.ok(kept.length <= 200 && kept.length > 100, `${kept.length} points kept`);
  assert.equal(kept.at(-1)!.step, 450);
  // What it writes, charGPTRecord reads back.
  const back = charGPTRecord(record);
  assert.equal(back.valLoss, 3.05);
  assert.equal(back.script, made.script);
  assert.match(String(record["data"]), /Pride and Prejudice/);
  model.dispose();
});

test("offsetWeight averages the weight on the key `offset` back, over the queries that have one", () => {
  const map = [
    [1, 0, 0],
    [0.6, 0.4, 0],
    [0.1, 0.3, 0.6],
  ];
  assert.equal(offsetWeight(map, 0), (1 + 0.4 + 0.6) / 3);
  assert.equal(offsetWeight(map, 1), (0.6 + 0.3) / 2);
  assert.equal(offsetWeight(map, 2), 0.1);
  assert.throws(() => offsetWeight(map, 3), /offset must be an integer from 0 to 2, got 3/);
  assert.throws(() => offsetWeight([[1, 0], [1]], 0), /row 1 has 1 of 2 columns/);
});

test("checkCausalWeights passes on causal, normalised maps and fails on a future weight or a row that does not sum to 1", () => {
  const good = [[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]];
  checkCausalWeights([good, good]);
  const peeks = [[0.9, 0.1, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]];
  assert.throws(() => checkCausalWeights([good, peeks]), (e: unknown) => e instanceof CheckError && /map 1, row 0: weight 0.1 on the future key 1/.test(e.message));
  const unnormalised = [[1, 0, 0], [0.5, 0.4, 0], [0.2, 0.3, 0.5]];
  assert.throws(() => checkCausalWeights([unnormalised]), /map 0, row 1: the weights sum to 0.9/);
  assert.throws(() => checkCausalWeights([[[NaN]]]), /sum to NaN/);
});
