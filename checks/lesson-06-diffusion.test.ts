/**
 * What notebooks/06-diffusion.ipynb prints and draws through kernel-lib (models/diffusion/records.ts,
 * ring-recipes.ts, guidance.ts' shippedGuidanceSampler and guidanceScatter): a record's line written out by
 * hand, with the lock file, scratch folder and backend banner gone; clear errors on a broken record; the two ring
 * recipes; and a sampler that loads the model per call giving the same samples as one on a loaded model, with
 * no tensor left between calls.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  classSpread,
  describeRingTarget,
  describeTraining,
  DIFFUSION_POINTS_CONFIG,
  guidanceSampler,
  guidanceScatter,
  loadDiffusion,
  RING_DIFFUSION_QUICK,
  RING_DIFFUSION_RECIPE,
  RingDiffusionRecord,
  shippedGuidanceSampler,
  tf,
} from "kernel-lib";
import { repoRoot } from "../kernel/kernelspec";

const checkpoints = path.join(repoRoot(), "notebooks", "checkpoints");

before(async () => {
  await tf.setBackend("cpu");
  await tf.ready();
});

const banner = "kernel-lib backend: wasm+native [SIMD, 1 thread]; skipped tfjs-node (not installed)";

test("describeTraining: the command as a learner types it, steps, batch, images, time and the short backend", () => {
  const line = describeTraining({
    steps: 15000, trainSeconds: 598, stepMs: 39.9, batchSize: 128, backend: banner, evalSeed: 0,
    madeBy: "flock /tmp/aigc-train.lock scripts/train-diffusion.ts --data fashion --out /tmp/diffusion-fashion-15000.ckpt",
    machine: { cpus: 2 }, data: { source: "full", train: 60000 },
  });
  assert.equal(line, "scripts/train-diffusion.ts --data fashion --out diffusion-fashion-15000.ckpt: 15000 steps of 128 on"
    + " 60,000 full images in 598 s of training (39.9 ms/step, wasm+native [SIMD, 1 thread], 2 CPUs)");
  // The ring record: no batch, no image count, no machine.
  const ring = describeTraining({ steps: 3000, trainSeconds: 63, stepMs: 21.1, backend: "cpu", evalSeed: 7, madeBy: "scripts/x.ts" });
  assert.equal(ring, "scripts/x.ts: 3000 steps in 63 s of training (21.1 ms/step, cpu)");
  assert.throws(() => describeTraining({ steps: 1, stepMs: 1, backend: "", evalSeed: 0, madeBy: "x" } as never), /no number "trainSeconds"/);
  assert.throws(() => describeTraining({ steps: 1, trainSeconds: 1, stepMs: 1, backend: "", evalSeed: 0 } as never), /no command "madeBy"/);
});

test("describeTraining and describeRingTarget on the shipped records print no lock file, scratch folder or banner", () => {
  for (const [file, config] of [["diffusion-ring.ckpt", undefined], ["diffusion-fashion.ckpt", undefined]] as const) {
    const d = loadDiffusion(path.join(checkpoints, file), config);
    const line = describeTraining(d.extra as never);
    d.model.dispose();
    assert.doesNotMatch(line, /flock|\/tmp\/|\/work\/|skipped/, line);
  }
  const ring = loadDiffusion(path.join(checkpoints, "diffusion-ring.ckpt"));
  const record = ring.extra as unknown as RingDiffusionRecord;
  ring.model.dispose();
  assert.match(describeRingTarget(record), /first reached at step \d+, after [\d.]+ s of training/);
  assert.match(describeRingTarget({ ...record, reachedTarget: null }), /did not reach the target/);
});

test("the ring recipes: the shipped one is the script's defaults; quick mode's is the same network, narrower, trained shorter", () => {
  assert.deepEqual(RING_DIFFUSION_RECIPE.config, DIFFUSION_POINTS_CONFIG);
  assert.deepEqual(RING_DIFFUSION_RECIPE.trainer, { batchSize: 512, learningRate: 2e-3, decaySteps: 3000, emaDecay: 0.99 });
  assert.equal(RING_DIFFUSION_RECIPE.steps, 3000);
  assert.deepEqual({ ...RING_DIFFUSION_QUICK.config, hidden: 128 }, DIFFUSION_POINTS_CONFIG);
  assert.equal(RING_DIFFUSION_QUICK.config.hidden, 64);
  // The learning rate decays over exactly the steps trained, in both.
  for (const r of [RING_DIFFUSION_QUICK, RING_DIFFUSION_RECIPE]) assert.equal(r.trainer.decaySteps, r.steps);
});

test("shippedGuidanceSampler gives the samples of guidanceSampler on the loaded model and holds no tensors", () => {
  const file = path.join(checkpoints, "diffusion-gaussians-classes.ckpt");
  const options = { perClass: 40, seed: 13 };
  const d = loadDiffusion(file);
  const direct = guidanceSampler(d.model, d.schedule, options)(3);
  d.model.dispose();
  const n = tf.memory().numTensors;
  const sampleAt = shippedGuidanceSampler(file, options);
  assert.equal(tf.memory().numTensors, n, "making the sampler loads nothing");
  const viaFile = sampleAt(3);
  assert.equal(tf.memory().numTensors, n, "a call frees the model it loaded");
  assert.deepEqual(viaFile.labels, direct.labels);
  for (let i = 0; i < direct.points.length; i++) {
    assert.ok(Math.abs(viaFile.points[i]![0] - direct.points[i]![0]) < 1e-5 && Math.abs(viaFile.points[i]![1] - direct.points[i]![1]) < 1e-5);
  }
  // Guidance changes the samples: w = 0 is not w = 3 (the sampler is not ignoring w).
  assert.notDeepEqual(sampleAt(0).points, viaFile.points);
  assert.ok(classSpread(viaFile.points, viaFile.labels).bayesShare > 0.5);
  // An unconditional model is refused with the reason.
  assert.throws(() => shippedGuidanceSampler(path.join(checkpoints, "diffusion-ring.ckpt"))(1), /not class-conditioned/);
  assert.equal(tf.memory().numTensors, n, "the refused call frees its model too");
});

test("guidanceScatter: one row per sample, coloured by the class asked for, on fixed axes", () => {
  const spec = guidanceScatter({ w: 2, points: [[0, 1], [2, 3]], labels: [0, 1] }) as unknown as {
    title: string; data: { values: { x: number; y: number; class: string }[] }; encoding: { x: { scale: { domain: number[] } } };
  };
  assert.equal(spec.title, "w = 2");
  assert.deepEqual(spec.data.values, [{ x: 0, y: 1, class: "0" }, { x: 2, y: 3, class: "1" }]);
  assert.deepEqual(spec.encoding.x.scale.domain, [-5, 5]);
});
