/**
 * Trains the GANs of notebooks/05-gan.ipynb and writes what the notebook ships: the ring generator
 * (notebooks/checkpoints/gan-ring.ckpt; the collapsed plain one, gan-ring-plain.ckpt), the Fashion-MNIST
 * generator with a timeline of sample grids (gan-fashion.ckpt) and the table of
 * ring runs, plain GAN against the minibatch-std remedy on the same seeds (gan-ring-runs.json). The same
 * code as the notebook: kernel-lib's createRingGan / createFashionGan, Gan.step and train().
 *
 *   npx tsc -b
 *   flock /tmp/aigc-train.lock node build/scripts/train-gan.js
 *
 * Options (defaults): --tasks ring,fashion; --variants remedy,plain; --seeds 0-9; --steps 10000 (ring
 * steps of batch 512); --fashion-steps 3000 (batch 64); --dcgan-steps 6000 (task dcgan: the DCGAN pair on Fashion-MNIST,
 * kernel-lib's createFashionGan with architecture "dcgan", into gan-dcgan.ckpt; not in the default tasks);
 * --out-dir notebooks/checkpoints; --max-seconds none; --resume (keep the ring runs already in the out-dir's
 * table, made with the same --steps, and run only the missing ones)
 * (stop every run between steps after this long, keeping what it reached, for a machine lent for a fixed
 * time). Checkpoints are also rewritten every 1,000 steps. Runs go in the
 * order remedy seed 0 and plain seed 0 (their weight-averaged generators are shipped), Fashion-MNIST, then
 * the other seeds; after every ring run the table is rewritten, so an interrupted session keeps what
 * finished. Each ring run reports modes covered and high-quality share of 2,500 samples (kernel-lib
 * ringCoverage) for the weight-averaged G and for G as trained, and its wall time.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  createFashionGan,
  createRingGan,
  currentBackend,
  FASHION_GAN_DEFAULTS,
  imageBatch,
  KERNEL_HOOKS,
  loadFashionMnist,
  readRingRuns,
  RING_GAN_DEFAULTS,
  ringCoverage,
  Rng,
  RingRun as KernelRingRun,
  sampleRing,
  saveCheckpoint,
  tf,
  train,
  useBestBackend,
} from "kernel-lib";
import { choiceItem, commandLineOrExit, integerItem, Options } from "./options";

/**
 * Stops train() between steps once `seconds` have passed since the script started, through the same flag
 * a kernel interrupt sets (kernel-lib display.ts), so the run ends as an interrupted one: its checkpoint
 * and numbers are written and say how many steps were done.
 */
function stopAfter(seconds: number): void {
  const t0 = Date.now();
  const hooks = {
    display: (content: { data: Record<string, unknown> }) => {
      const text = content.data["text/plain"];
      if (typeof text === "string" && Date.now() - lastPrint > 10000) {
        lastPrint = Date.now();
        console.error(text);
      }
    },
    get interruptRequested() {
      return Date.now() - t0 > seconds * 1000;
    },
  };
  let lastPrint = 0;
  (globalThis as Record<symbol, unknown>)[KERNEL_HOOKS] = hooks;
}

/** The seed of the 2,500 evaluation codes, shared with the notebook so it reproduces the recorded numbers. */
export const RING_EVAL_SEED = 2500;

interface Args {
  tasks: string[];
  variants: ("remedy" | "plain")[];
  seeds: number[];
  steps: number;
  fashionSteps: number;
  dcganSteps: number;
  outDir: string;
  maxSeconds: number;
  resume: boolean;
}

export const USAGE = `usage: node build/scripts/train-gan.js [options]

Trains the GANs of notebooks/05-gan.ipynb and writes the checkpoints and the table of ring runs it ships.

  --tasks LIST         ring, fashion, dcgan (the DCGAN pair on Fashion-MNIST), comma-separated (default ring,fashion)
  --variants LIST      remedy, plain or both (default remedy,plain)
  --seeds LIST         ring seeds, comma-separated (default 0,1,2,3,4,5,6,7,8,9)
  --steps N            ring steps of batch 512 (default 10000)
  --fashion-steps N    Fashion-MNIST steps of batch 64 (default 3000)
  --dcgan-steps N      DCGAN steps of batch 64 (default 6000)
  --out-dir DIR        where to write (default notebooks/checkpoints)
  --max-seconds N      stop every run between steps after N seconds, keeping what it reached (default none)
  --resume             keep the ring runs already in the table (same --steps) and run only the missing ones
  -h, --help           print this and exit`;

function parseArgs(argv: string[]): Args {
  const o = new Options(argv, ["tasks", "variants", "seeds", "steps", "fashion-steps", "dcgan-steps", "out-dir", "max-seconds"], ["resume"]);
  const repo = path.resolve(__dirname, "..", "..");
  return {
    tasks: o.list("tasks", "ring,fashion", choiceItem(["ring", "fashion", "dcgan"])),
    variants: o.list("variants", "remedy,plain", choiceItem(["remedy", "plain"])),
    seeds: o.list("seeds", "0,1,2,3,4,5,6,7,8,9", integerItem()),
    steps: o.number("steps", 10000, { min: 1 }),
    fashionSteps: o.number("fashion-steps", 3000, { min: 1 }),
    dcganSteps: o.number("dcgan-steps", 6000, { min: 1 }),
    maxSeconds: o.number("max-seconds", 1e9, { min: 1 }),
    outDir: path.resolve(o.string("out-dir") ?? path.join(repo, "notebooks", "checkpoints")),
    resume: o.flag("resume"),
  };
}

/** One ring run's outcome, as the table records it (kernel-lib's RingRun, whose history this script always fills). */
type RingRun = KernelRingRun & { variant: "remedy" | "plain"; history: NonNullable<KernelRingRun["history"]> };

async function ringRun(variant: "remedy" | "plain", seed: number, steps: number, ckptPath: string | null): Promise<RingRun> {
  const config = { ...RING_GAN_DEFAULTS, minibatchStd: variant === "remedy" };
  // 1) The notebook's seeding: one Rng per run, forks for the networks and codes, then one for the data.
  const rng = new Rng(seed);
  const gan = createRingGan(config, rng);
  const data = rng.fork();
  const history: RingRun["history"] = [];
  const measure = async (averaged: boolean) => {
    const s = gan.sample(2500, RING_EVAL_SEED, averaged);
    // data(), not dataSync(): tfjs-webgpu in Node cannot read synchronously.
    const points = (await s.data()) as Float32Array;
    s.dispose();
    return ringCoverage(points);
  };
  const save = async (step: number) => {
    if (!ckptPath) return;
    await saveCheckpoint(ckptPath, {
      kind: "gan-ring",
      config: { ...config, seed },
      step,
      weights: gan.averageGenerator!.namedWeights(),
      extra: { run: partial ?? null, backend: currentBackend()?.summary, evalSeed: RING_EVAL_SEED, made: new Date().toISOString() },
    });
  };
  let partial: RingRun | undefined;
  // 2) Train with the lesson's loop (progress lines on stderr, tensor count checked flat).
  const result = await train({
    checkpoint: ckptPath ? { path: ckptPath, every: 1000, make: (stepsDone) => ({ kind: "gan-ring", config: { ...config, seed }, step: stepsDone, weights: gan.averageGenerator!.namedWeights(), extra: { run: null, history, backend: currentBackend()?.summary, evalSeed: RING_EVAL_SEED } }) } : undefined,
    steps,
    title: `ring ${variant} seed ${seed}`,
    evalEvery: 1000,
    step: () => {
      const real = sampleRing(config.batch, { rng: data });
      try {
        return gan.step(real);
      } finally {
        real.dispose();
      }
    },
    evaluate: async (i) => {
      const cov = await measure(true);
      history.push({ step: i + 1, modes: cov.modesCovered, quality: cov.quality });
      return { modes: cov.modesCovered, quality: cov.quality };
    },
  });
  const avg = await measure(true);
  const raw = await measure(false);
  const run: RingRun = {
    variant,
    seed,
    steps: result.stepsDone,
    modes: avg.modesCovered,
    quality: avg.quality,
    rawModes: raw.modesCovered,
    rawQuality: raw.quality,
    seconds: result.seconds,
    msPerStep: (1000 * result.seconds) / Math.max(1, result.stepsDone),
    history,
  };
  // 3) The shipped ring generator: the weight average, which is what `gan.sample` draws from.
  partial = run;
  await save(result.stepsDone);
  if (ckptPath) console.log(`wrote ${ckptPath}`);
  gan.dispose();
  return run;
}

/** Steps at which the Fashion-MNIST run keeps a grid of samples, for the notebook's training timeline. */
export function snapshotSteps(steps: number): number[] {
  return [...new Set([0, 100, 250, 500, 1000, 2000, steps].filter((s) => s <= steps))];
}

/** The codes of the timeline's 16 images. */
export const FASHION_SNAPSHOT_SEED = 16;

/** 16 images of G as trained, from fixed codes, as base64 bytes (0..255, 16 x 28 x 28). */
function snapshot(gan: ReturnType<typeof createFashionGan>): string {
  const bytes = tf.tidy(() => tf.cast(tf.round(tf.mul(tf.clipByValue(tf.div(tf.add(gan.sample(16, FASHION_SNAPSHOT_SEED, false), 1), 2), 0, 1), 255)), "int32"));
  const out = Buffer.from(Uint8Array.from(bytes.dataSync())).toString("base64");
  bytes.dispose();
  return out;
}

async function fashionRun(steps: number, ckptPath: string, architecture: "mlp" | "dcgan" = "mlp"): Promise<void> {
  const seed = 0;
  const config = { ...FASHION_GAN_DEFAULTS, architecture, ...(architecture === "dcgan" ? { channels: 64 } : {}) };
  const rng = new Rng(seed);
  const gan = createFashionGan(config, rng);
  const dataRng = rng.fork();
  const set = loadFashionMnist({ split: "train", source: "auto" });
  console.log(set.description);
  const at = new Set(snapshotSteps(steps));
  const snapshots: { step: number; images: string }[] = [{ step: 0, images: snapshot(gan) }];
  const result = await train({
    steps,
    title: "fashion-mnist GAN",
    checkpoint: { path: ckptPath, every: 500, make: (stepsDone) => ({ kind: "gan-fashion", config: { ...config, seed }, step: stepsDone, weights: gan.averageGenerator!.namedWeights(), extra: { snapshots, snapshotSeed: FASHION_SNAPSHOT_SEED, data: set.description, source: set.source, backend: currentBackend()?.summary } }) },
    onStep: (i) => {
      if (at.has(i + 1)) snapshots.push({ step: i + 1, images: snapshot(gan) });
    },
    step: () => {
      const real = imageBatch(set.images, config.batch, dataRng);
      try {
        return gan.step(real);
      } finally {
        real.dispose();
      }
    },
  });
  await saveCheckpoint(ckptPath, {
    kind: "gan-fashion",
    config: { ...config, seed },
    step: result.stepsDone,
    weights: gan.averageGenerator!.namedWeights(),
    extra: { snapshots, snapshotSeed: FASHION_SNAPSHOT_SEED, data: set.description, source: set.source, seconds: result.seconds, last: result.last, backend: currentBackend()?.summary, made: new Date().toISOString() },
  });
  console.log(`wrote ${ckptPath} after ${result.stepsDone} steps in ${result.seconds.toFixed(0)} s (D ${result.last.d?.toFixed(3)}, G ${result.last.g?.toFixed(3)})`);
  set.images.dispose();
  gan.dispose();
}

/** With --resume: the runs of an existing table made with the same number of steps (a clear error otherwise). */
function keptRuns(file: string, steps: number): KernelRingRun[] {
  if (!fs.existsSync(file)) return [];
  const { runs } = readRingRuns(file);
  const other = runs.filter((r) => r.steps !== steps);
  if (other.length > 0) throw new Error(`--resume: ${file} holds runs of ${other[0]!.steps} steps, not --steps ${steps}; resume with the same --steps`);
  console.log(`--resume: keeping ${runs.length} runs from ${file}: ${runs.map((r) => `${r.variant} ${r.seed}`).join(", ")}`);
  return runs;
}

function writeTable(file: string, runs: KernelRingRun[]): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify({ backend: currentBackend()?.summary, evalSeed: RING_EVAL_SEED, runs }, null, 1) + "\n");
  fs.renameSync(tmp, file);
}

async function main(): Promise<void> {
  const args = commandLineOrExit("train-gan", USAGE, parseArgs);
  await useBestBackend();
  if (args.maxSeconds < 1e9) stopAfter(args.maxSeconds);
  fs.mkdirSync(args.outDir, { recursive: true });
  const tablePath = path.join(args.outDir, "gan-ring-runs.json");
  const runs: KernelRingRun[] = args.resume ? keptRuns(tablePath, args.steps) : [];
  const done = (v: string, s: number) => runs.some((r) => r.variant === v && r.seed === s);
  // The shipped seed-0 runs first (remedy, then plain), then Fashion-MNIST, then the rest of the table.
  const doRing = args.tasks.includes("ring");
  const first: ["remedy" | "plain", number][] = doRing ? args.variants.map((v) => [v, args.seeds[0]!]) : [];
  const rest: ["remedy" | "plain", number][] = [];
  if (doRing) for (const v of args.variants) for (const s of args.seeds.slice(1)) rest.push([v, s]);
  const oneRing = async (v: "remedy" | "plain", s: number) => {
    // Seed 0 of each variant is shipped: the remedy's generator and the plain one's collapsed generator.
    const ckpt = s === args.seeds[0] ? path.join(args.outDir, v === "remedy" ? "gan-ring.ckpt" : "gan-ring-plain.ckpt") : null;
    const run = await ringRun(v, s, args.steps, ckpt);
    runs.push(run);
    writeTable(tablePath, runs);
    console.log(
      `RESULT ring ${v} seed ${s}: ${run.modes}/8 modes, ${(100 * run.quality).toFixed(1)}% high quality (G as trained: ${run.rawModes}/8, ${(100 * run.rawQuality).toFixed(1)}%), ${run.steps} steps in ${run.seconds.toFixed(0)} s (${run.msPerStep.toFixed(1)} ms/step)`,
    );
  };
  for (const [v, s] of first) if (!done(v, s)) await oneRing(v, s);
  if (args.tasks.includes("fashion")) await fashionRun(args.fashionSteps, path.join(args.outDir, "gan-fashion.ckpt"));
  if (args.tasks.includes("dcgan")) await fashionRun(args.dcganSteps, path.join(args.outDir, "gan-dcgan.ckpt"), "dcgan");
  for (const [v, s] of rest) if (!done(v, s)) await oneRing(v, s);
  console.log(`numTensors at the end: ${tf.memory().numTensors}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
