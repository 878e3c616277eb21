/**
 * The record of a shipped VAE checkpoint (kernel-lib/src/models/vae/records.ts), as notebooks/04-vae.ipynb prints
 * it: a learner's command and a short backend, the loss as "total = reconstruction + KL", and a record with a
 * missing or mistyped field refused with the field named. The shipped checkpoints' records pass.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { formatVaeLoss, loadConvVae, loadVae, vaeRecordLines, vaeRecordOf } from "kernel-lib";
import { checkpointsDir } from "./lib/exercise-verdicts";

const loss = (loss: number, reconstruction: number, kl: number) => ({ loss, reconstruction, kl });
const made = () => ({
  data: { source: "full", train: 60000, test: 10000 },
  epochs: 20,
  seconds: 450,
  stepMs: 48.1,
  backend: "kernel-lib backend: wasm+native [SIMD, 1 thread]; skipped tfjs-node (not installed)",
  evalSeed: 1,
  test: loss(239.716, 225.674, 14.042),
  test500: loss(239.25, 225.16, 14.09),
  madeBy: "flock /tmp/aigc-train.lock scripts/train-vae.ts --latent 20 --out /tmp/vaerun/full-vae-latent20.ckpt",
  history: [{ epoch: 1, train: loss(260, 248, 12), test: loss(250, 238, 12) }],
});

test("a record prints as three lines: the learner's command, the short backend, the recorded loss", () => {
  const lines = vaeRecordLines("latent 20", { parameterCount: () => 1082680 }, vaeRecordOf(made()));
  assert.deepEqual(lines, [
    "latent 20: 1,082,680 parameters; made by scripts/train-vae.ts --latent 20 --out full-vae-latent20.ckpt",
    "  trained 20 epochs on 60,000 full images in 450 s (48.1 ms/step, wasm+native [SIMD, 1 thread])",
    "  RECORDED when trained, all 10,000 test images: 239.72 = 225.67 reconstruction + 14.04 KL",
  ]);
  assert.equal(formatVaeLoss(loss(1, 0.5, 0.5)), "1.00 = 0.50 reconstruction + 0.50 KL");
});

test("a record with a missing or mistyped field is refused, naming the field and the file", () => {
  const without = (k: string) => { const r: Record<string, unknown> = made(); delete r[k]; return r; };
  assert.throws(() => vaeRecordOf(without("evalSeed"), "x.ckpt"), /x\.ckpt: its record's "evalSeed" should be a number, got undefined/);
  assert.throws(() => vaeRecordOf({ ...made(), test500: { loss: 1, kl: 0 } }), /"test500" should be \{ loss, reconstruction, kl \}/);
  assert.throws(() => vaeRecordOf({ ...made(), data: { source: "full", train: 10 } }), /"data" should be \{ source, train, test \}/);
  assert.throws(() => vaeRecordOf({ ...made(), history: [{ epoch: 1, train: loss(1, 1, 0) }] }), /"history" should be a list/);
  assert.throws(() => vaeRecordOf(without("madeBy")), /"madeBy" should be a string/);
});

test("the shipped VAE checkpoints carry complete records, with no scratch path left once printed", () => {
  for (const file of ["vae-latent20.ckpt", "vae-latent2.ckpt", "conv-vae-latent16.ckpt"]) {
    const p = path.join(checkpointsDir, file);
    const loaded = file.startsWith("conv") ? loadConvVae(p) : loadVae(p);
    try {
      const lines = vaeRecordLines(file, loaded.model, vaeRecordOf(loaded.extra, file));
      assert.equal(lines.length, 3);
      assert.doesNotMatch(lines.join("\n"), /\/tmp\/|\/work\/|flock/, file);
    } finally {
      loaded.model.dispose();
    }
  }
});
