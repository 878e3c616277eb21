/**
 * kernel-lib helpers that notebooks/00-tour and 01-attention print or draw with: setting variables without a
 * live tensor left behind (nn/assign.ts), matrices as text (notebook/format.ts), and lesson 01's saturation
 * table, charts and mask panels (notebook/lesson-checks/01-attention.ts). Runs on the cpu backend.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { assignValues, formatRows, maskPanels, redrawNormal, Rng, saturationCharts, saturationTable, tf } from "kernel-lib";
import type { SaturationResults } from "kernel-lib";

before(async () => {
  await tf.setBackend("cpu");
  await tf.ready();
});

test("assignValues sets a variable to the given numbers and leaves no tensor behind; a plain assign of a new tensor does", () => {
  const v = tf.variable(tf.zeros([2, 2]));
  const before = tf.memory().numTensors;
  assignValues(v, [1, 2, 3, 4]);
  assert.deepEqual(v.arraySync(), [[1, 2], [3, 4]]);
  assert.equal(tf.memory().numTensors, before);
  // What the helper avoids: the tensor handed to assign stays a live tensor of its own.
  const t = tf.tensor2d([[5, 6], [7, 8]]);
  v.assign(t);
  assert.equal(tf.memory().numTensors, before + 1);
  t.dispose();
  assert.throws(() => assignValues(v, [1, 2, 3]), /4 entries \[2, 2\], got 3 values/);
  v.dispose();
});

test("redrawNormal draws what tf.randomNormal draws with the same seeds in the same order, and leaks nothing", () => {
  const a = tf.variable(tf.zeros([3, 4]));
  const b = tf.variable(tf.zeros([5]));
  const before = tf.memory().numTensors;
  redrawNormal([a, b], 0.4, new Rng(7));
  assert.equal(tf.memory().numTensors, before);
  const r = new Rng(7);
  const [ea, eb] = [tf.randomNormal([3, 4], 0, 0.4, "float32", r.seed()), tf.randomNormal([5], 0, 0.4, "float32", r.seed())];
  assert.deepEqual(a.arraySync(), ea.arraySync());
  assert.deepEqual(b.arraySync(), eb.arraySync());
  // A different generator gives different weights (the check above can fail).
  redrawNormal([a], 0.4, new Rng(8));
  assert.notDeepEqual(a.arraySync(), ea.arraySync());
  assert.throws(() => redrawNormal([a], -1, new Rng(1)), /std must be a finite number >= 0, got -1/);
  assert.throws(() => redrawNormal([a], NaN, new Rng(1)), /got NaN/);
  tf.dispose([a, b, ea, eb]);
});

test("formatRows prints each row in brackets to the given decimals, NaN as NaN", () => {
  assert.equal(formatRows([[0.57611, 0.2], [NaN, 1]]), "[0.5761, 0.2000] [NaN, 1.0000]");
  assert.equal(formatRows([Float32Array.from([1.5, -2])], 1), "[1.5, -2.0]");
  assert.notEqual(formatRows([[0.57611]], 2), "[0.5761]");
  assert.throws(() => formatRows([[1]], 1.5), /digits must be an integer from 0 to 20, got 1.5/);
});

const results: SaturationResults = {
  scaled: [{ maxWeight: 0.25, gradScores: 0.7, gradQuery: 0.6 }, { maxWeight: 0.245, gradScores: 0.675, gradQuery: 0.674 }],
  unscaled: [{ maxWeight: 0.414, gradScores: 0.713, gradQuery: 1.17 }, { maxWeight: 0.941, gradScores: 3.51e-5, gradQuery: 1.14e-3 }],
};

test("saturationTable: a header and one line per width, scaled beside unscaled; a missing row is an error", () => {
  const lines = saturationTable([4, 1024], results);
  assert.equal(lines.length, 3);
  assert.equal(lines[1], "    4 |            0.250    0.414 |        7.00e-1   7.13e-1 |        6.00e-1   1.17e+0");
  assert.equal(lines[2], " 1024 |            0.245    0.941 |        6.75e-1   3.51e-5 |        6.74e-1   1.14e-3");
  assert.throws(() => saturationTable([4, 16, 1024], results), /3 widths but 2 scaled rows/);
});

test("saturationCharts: three charts side by side, each with the scaled and unscaled series at the widths", () => {
  const spec = saturationCharts([4, 1024], results) as unknown as { hconcat: { data: { values: Record<string, unknown>[] } }[] };
  assert.equal(spec.hconcat.length, 3);
  const rows = spec.hconcat[1]!.data.values;
  assert.equal(rows.length, 4);
  assert.ok(rows.some((r) => Object.values(r).includes(1024) && Object.values(r).includes(3.51e-5)), JSON.stringify(rows));
  assert.throws(() => saturationCharts([4], results), /1 widths but 2 scaled rows/);
});

test("maskPanels: three heatmaps with independent colour scales and the lengths in the padding title; ragged input is an error", () => {
  const causal = [[1, 0], [1, 1]];
  const spec = maskPanels({ causal, padding: [[1, 1], [1, 0]], weights: [[1, 0], [0.5, 0.5]] }, [2, 1]) as unknown as {
    hconcat: { title: string }[];
    resolve: unknown;
  };
  assert.deepEqual(spec.hconcat.map((s) => s.title), ["causal mask", "padding mask (lengths 2, 1)", "weights under the causal mask"]);
  assert.deepEqual(spec.resolve, { scale: { color: "independent" } });
  assert.throws(() => maskPanels({ causal, padding: [[1]], weights: causal }, [1]), /every row of padding must have 2 keys/);
  assert.throws(() => maskPanels({ causal, padding: causal, weights: causal }, [2]), /1 lengths for 2 rows/);
});
