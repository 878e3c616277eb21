/**
 * What notebooks/05-gan.ipynb reads and draws through kernel-lib (models/gan/ring-shipped.ts, ring-plots.ts,
 * presets.ts' quick setting, notebook/plot.ts' log x axis): the runs table as Markdown with its per-variant
 * counts worked out by hand, clear errors on a missing or malformed table, the shipped generators re-measuring
 * what they recorded (and a wrong record failing that comparison), and no tensors left behind.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, test } from "node:test";
import {
  createRingGan,
  lineChart,
  loadRingGenerator,
  readRingRuns,
  RING_GAN_DEFAULTS,
  RING_GAN_QUICK,
  ringCoverage,
  ringRows,
  ringRunsMarkdown,
  ringScatter,
  Rng,
  RingRun,
  sampleLatent,
  sampleRing,
  tf,
} from "kernel-lib";
import { repoRoot } from "../kernel/kernelspec";

const checkpoints = path.join(repoRoot(), "notebooks", "checkpoints");

before(async () => {
  await tf.setBackend("cpu");
  await tf.ready();
});

const run = (variant: string, seed: number, modes: number): RingRun => ({
  variant, seed, steps: 10000, modes, quality: 0.9, rawModes: modes, rawQuality: 0.85, seconds: 100, msPerStep: 10,
});

test("ringRunsMarkdown: one row per run, sorted by variant then seed, and per variant the seeds with all modes", () => {
  const banner = "kernel-lib backend: wasm+native [SIMD]; skipped tfjs-node (not installed)";
  const md = ringRunsMarkdown({ backend: banner, runs: [run("remedy", 1, 8), run("plain", 1, 8), run("plain", 0, 5), run("remedy", 0, 7)] });
  const rows = md.split("\n").filter((l) => /^\| (plain|remedy) \|/.test(l));
  assert.deepEqual(rows.map((r) => r.split("|")[1]!.trim() + r.split("|")[2]!.trim()), ["plain0", "plain1", "remedy0", "remedy1"]);
  assert.match(rows[0]!, /\| 5\/8 \| 90\.0% \| 5\/8, 85\.0% \| 100 s \(10\.0 ms\/step\) \|$/);
  // By hand: plain covered 8 on seed 1 only, the remedy on seed 1 only (7 on seed 0).
  assert.match(md, /- plain: all 8 modes on 1 of 2 seeds \(modes by seed 0: 5, 1: 8\)/);
  assert.match(md, /- remedy: all 8 modes on 1 of 2 seeds \(modes by seed 0: 7, 1: 8\)/);
  // The backend in short, not the whole banner.
  assert.match(md, /backend of the runs: wasm\+native \[SIMD\]$/);
  assert.doesNotMatch(md, /skipped/);
});

test("readRingRuns reads the shipped table and names what is wrong with a bad one", () => {
  const shipped = readRingRuns(path.join(checkpoints, "gan-ring-runs.json"));
  assert.ok(shipped.runs.length >= 2 && shipped.runs.every((r) => r.steps > 0));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ring-runs-"));
  try {
    assert.throws(() => readRingRuns(path.join(dir, "none.json")), /does not exist/);
    fs.writeFileSync(path.join(dir, "bad.json"), "{ runs: ");
    assert.throws(() => readRingRuns(path.join(dir, "bad.json")), /is not JSON/);
    fs.writeFileSync(path.join(dir, "empty.json"), JSON.stringify({ backend: "x" }));
    assert.throws(() => readRingRuns(path.join(dir, "empty.json")), /has no list of runs/);
    const { quality, ...noQuality } = run("plain", 0, 5);
    void quality;
    fs.writeFileSync(path.join(dir, "field.json"), JSON.stringify({ backend: "x", runs: [run("plain", 1, 8), noQuality] }));
    assert.throws(() => readRingRuns(path.join(dir, "field.json")), /run 1 of .* lacks quality/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("loadRingGenerator: the shipped generators re-measure what they recorded (not each other's), and free their weights", () => {
  const before = tf.memory().numTensors;
  const measured: Record<string, { modes: number; quality: number; recorded: RingRun }> = {};
  for (const file of ["gan-ring.ckpt", "gan-ring-plain.ckpt"]) {
    const g = loadRingGenerator(path.join(checkpoints, file));
    const points = tf.tidy(() => g.generator.apply(sampleLatent(2500, g.latentDim, g.evalSeed)).dataSync());
    g.generator.dispose();
    const cov = ringCoverage(points);
    assert.ok(g.run, `${file} carries the record of its run`);
    measured[file] = { modes: cov.modesCovered, quality: cov.quality, recorded: g.run };
    assert.equal(cov.modesCovered, g.run.modes, file);
    assert.ok(Math.abs(cov.quality - g.run.quality) <= 0.004, `${file}: ${cov.quality} vs ${g.run.quality}`);
    assert.doesNotMatch(g.backend, /skipped|kernel-lib backend/);
  }
  // A wrong record fails the lesson's comparison: the plain generator against the remedy's record.
  const plain = measured["gan-ring-plain.ckpt"]!;
  const remedy = measured["gan-ring.ckpt"]!;
  assert.ok(plain.modes !== remedy.recorded.modes || Math.abs(plain.quality - remedy.recorded.quality) > 0.004);
  assert.throws(() => loadRingGenerator(path.join(checkpoints, "gan-fashion.ckpt")), /gan-ring/);
  assert.equal(tf.memory().numTensors, before);
});

test("ringRows: at most `max` points, then the ring's centres (scaled); ringScatter spans [-extent, extent]", () => {
  const flat = Float32Array.from({ length: 10 }, (_, i) => i); // 5 points
  const rows = ringRows(flat, { label: "G", max: 3, scale: 8 });
  assert.deepEqual(rows.slice(0, 3), [{ x: 0, y: 1, what: "G" }, { x: 2, y: 3, what: "G" }, { x: 4, y: 5, what: "G" }]);
  assert.equal(rows.length, 3 + 8);
  assert.deepEqual(rows[3], { x: 16, y: 0, what: "centre" }); // centre 0 at (2, 0), times 8
  assert.equal(ringRows(flat, { centres: false }).length, 5);
  const t = sampleRing(4, { rng: new Rng(3) });
  assert.equal(ringRows(t).length, 4 + 8);
  t.dispose();
  assert.throws(() => ringRows([1, 2, 3]), /3 numbers do not make 2-D points/);
  const spec = ringScatter(flat, { extent: 19 }) as unknown as { encoding: { x: { scale: { domain: number[] } } } };
  assert.deepEqual(spec.encoding.x.scale.domain, [-19, 19]);
});

test("lineChart's logX sets a log scale on x only", () => {
  const spec = lineChart([{ x: 1, y: 2 }], { logX: true }) as unknown as { encoding: Record<string, { scale?: { type?: string } }> };
  assert.equal(spec.encoding.x!.scale?.type, "log");
  assert.notEqual(spec.encoding.y!.scale?.type, "log");
  const plain = lineChart([{ x: 1, y: 2 }]) as unknown as { encoding: Record<string, { scale?: unknown }> };
  assert.equal(plain.encoding.x!.scale, undefined);
});

test("RING_GAN_QUICK is the reference GAN made cheaper (same latent size), and a step of it leaks nothing", () => {
  assert.equal(RING_GAN_QUICK.latentDim, RING_GAN_DEFAULTS.latentDim);
  assert.equal(RING_GAN_QUICK.minibatchStd, false);
  assert.ok(RING_GAN_QUICK.batch < RING_GAN_DEFAULTS.batch && RING_GAN_QUICK.hidden.every((h) => h < 128));
  const r = new Rng(4);
  const gan = createRingGan({ ...RING_GAN_QUICK, minibatchStd: true }, r);
  const data = r.fork();
  const step = () => tf.dispose(Object.values(tf.tidy(() => gan.step(sampleRing(RING_GAN_QUICK.batch, { rng: data })))));
  step();
  const n = tf.memory().numTensors;
  step();
  step();
  assert.equal(tf.memory().numTensors, n);
  gan.dispose();
});
