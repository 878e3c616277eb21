/**
 * Trains the diffusion models of notebooks/06-diffusion.ipynb and writes the checkpoints the notebook ships.
 * The same code as the notebook's training cells: kernel-lib's DiffusionMlp, DiffusionTrainer and train().
 *
 *   npx tsc -b
 *   flock /tmp/aigc-train.lock node build/scripts/train-diffusion.js --data ring
 *   flock /tmp/aigc-train.lock node build/scripts/train-diffusion.js --data ring --classes --steps 2000 --eval-every 2000
 *   flock /tmp/aigc-train.lock node build/scripts/train-diffusion.js --data gaussians --classes --eval-every 1500
 *   flock /tmp/aigc-train.lock node build/scripts/train-diffusion.js --data fashion --source auto
 *
 * The shipped Fashion-MNIST checkpoint is the default run (15,000 steps, 598 s on 2 cores; its `madeBy` names the
 * command), as is full mode of the notebook.
 *
 * Ring (the 8-Gaussian ring of notebooks/05-gan.ipynb; 20,000 training points, multiplied by --scale for
 * training and divided by it again before measuring; see notebooks/06-diffusion.ipynb): every --eval-every steps it
 * draws 2,500 samples with seed 7 by DDPM ancestral sampling (beta and posterior variances) and DDIM
 * (50 steps) and measures mode coverage and quality with kernel-lib's ringCoverage; it records, for each
 * sampler, the training time (evaluations excluded) at which it first reached 8/8 modes and >= 90% of samples
 * within 3 standard deviations of a mode. The lesson's headline sampler is ancestral sampling with the
 * posterior variance: Ho et al. 2020 (section 3.2) show sigma_t^2 = betaTilde_t is the optimal choice when
 * x_0 is concentrated at a point, which each ring mode (std 0.02) nearly is. --classes trains a class-conditioned model (label = the mode)
 * for classifier-free guidance.
 *
 * Gaussians --classes (two overlapping classes, kernel-lib's data/gaussian-classes.ts, 20,000 points, scale 1): every
 * --eval-every steps 1,000 samples per class at guidance w = 0 and 3 (seed 7), with the share the Bayes classifier
 * gives the requested class and the within-class variance (the data's: Phi(1) = 84.1% and 1).
 *
 * Fashion: images scaled to [-1, 1]; every --eval-every steps the test loss L_simple on the first 500 test
 * images (seeded timesteps and noise, so the notebook can reproduce it).
 *
 * --model unet (fashion only) trains the U-Net denoiser (kernel-lib's UNet) instead of the MLP, into
 * diffusion-fashion-unet.ckpt, with Adam 2e-4 by default.
 *
 * Options (defaults: ring | fashion): --model mlp, --steps 3000 | 15000, --batch 512 | 128, --lr 2e-3, --T 100 | 200,
 * --schedule linear (or cosine), --ema 0.99 | 0.999, --scale 8 (ring), --eval-every 1000 | 2500, --seed 0, --source auto (fashion),
 * --separation 2 (gaussians), --out notebooks/checkpoints/diffusion-<ring|ring-classes|gaussians-classes|fashion>.ckpt.
 */
import * as os from "node:os";
import * as path from "node:path";
import {
  ddimSample,
  ddpmSample,
  DIFFUSION_IMAGE_CONFIG,
  DIFFUSION_POINTS_CONFIG,
  Denoiser,
  DiffusionMlp,
  DiffusionMlpConfig,
  DiffusionTrainer,
  evaluateEpsilonLoss,
  loadFashionMnist,
  NoiseSchedule,
  noiseSchedule,
  ringCentres,
  ringCoverage,
  sampleRing,
  sampleGaussianClasses,
  classSpread,
  guidanceSampler,
  ScheduleKind,
  setSeed,
  tf,
  train,
  UNet,
  unetConfig,
  useBestBackend,
} from "kernel-lib";
import { commandLineOrExit, Options, OptionError } from "./options";
import { backendLabel } from "./records";

/** The seed of every evaluation, so the notebook can reproduce the recorded numbers. */
const EVAL_SEED = 7;

interface Args {
  data: "ring" | "gaussians" | "fashion";
  model: "mlp" | "unet";
  classes: boolean;
  steps: number;
  batch: number;
  lr: number;
  T: number;
  schedule: ScheduleKind;
  ema: number;
  scale: number;
  /** Distance between the two Gaussian classes' means (--data gaussians). */
  separation: number;
  evalEvery: number;
  seed: number;
  source: "subset" | "full" | "auto";
  out: string;
}

export const USAGE = `usage: node build/scripts/train-diffusion.js [options]

Trains the diffusion models of notebooks/06-diffusion.ipynb and writes their checkpoints.
Defaults are given as ring | fashion (gaussians: as ring, but --scale 1).

  --data D          ring | gaussians | fashion (default ring); gaussians: two overlapping classes (data/gaussian-classes.ts)
  --model M         mlp | unet: the MLP denoiser or the U-Net (fashion only; default mlp)
  --classes         class-conditioned model, for classifier-free guidance (ring or gaussians)
  --steps N         training steps (default 3000 | 15000)
  --batch N         batch size (default 512 | 128)
  --lr X            Adam learning rate (default 2e-3; 2e-4 for unet)
  --T N             diffusion steps (default 100 | 200)
  --schedule S      linear | cosine noise schedule (default linear)
  --ema X           weight-average decay (default 0.99 | 0.999)
  --scale X         2-D data scale during training (default 8; 1 for gaussians)
  --separation X    distance between the two Gaussian classes' means (gaussians; default 2, std 1)
  --eval-every N    steps between evaluations (default 1000 | 2500)
  --seed N          random seed (default 0)
  --source S        subset | full | auto Fashion-MNIST (default auto)
  --out FILE        checkpoint to write (default notebooks/checkpoints/diffusion-<ring|ring-classes|gaussians-classes|fashion|fashion-unet>.ckpt)
  -h, --help        print this and exit`;

function parseArgs(argv: string[]): Args {
  const o = new Options(argv, ["data", "model", "scale", "separation", "steps", "batch", "lr", "T", "schedule", "ema", "eval-every", "seed", "source", "out"], ["classes"]);
  const data = o.choice("data", ["ring", "gaussians", "fashion"], "ring");
  const points = data !== "fashion"; // the 2-D data sets share every default but the scale
  const ring = points;
  const model = o.choice("model", ["mlp", "unet"], "mlp");
  const classes = o.flag("classes");
  if (classes && !points) throw new OptionError("--classes is for the 2-D data (--data ring or gaussians)");
  if (model === "unet" && points) throw new OptionError("--model unet is for --data fashion (28x28 images)");
  const repo = path.resolve(__dirname, "..", "..");
  const name = points ? `diffusion-${data}${classes ? "-classes" : ""}` : model === "unet" ? "diffusion-fashion-unet" : "diffusion-fashion";
  const real = { integer: false };
  return {
    data,
    model,
    classes,
    steps: o.number("steps", ring ? 3000 : 15000, { min: 1 }),
    batch: o.number("batch", ring ? 512 : 128, { min: 1 }),
    lr: o.number("lr", model === "unet" ? 2e-4 : 2e-3, real),
    T: o.number("T", ring ? 100 : 200, { min: 1 }),
    schedule: o.choice<ScheduleKind>("schedule", ["linear", "cosine"], "linear"),
    ema: o.number("ema", ring ? 0.99 : 0.999, real),
    scale: o.number("scale", data === "gaussians" ? 1 : 8, { integer: false, min: 0, minIncluded: false }),
    separation: o.number("separation", 2, { integer: false, min: 0, minIncluded: false }),
    evalEvery: o.number("eval-every", ring ? 1000 : 2500, { min: 1 }),
    seed: o.number("seed", 0),
    source: o.choice("source", ["subset", "full", "auto"], "auto"),
    out: path.resolve(o.string("out") ?? path.join(repo, "notebooks", "checkpoints", `${name}.ckpt`)),
  };
}

/** The mode each ring point belongs to: its nearest centre. */
function nearestMode(points: tf.Tensor2D): Int32Array {
  const centres = ringCentres();
  const xy = points.dataSync();
  return Int32Array.from({ length: points.shape[0] }, (_, i) => {
    let best = 0;
    let bestD = Infinity;
    centres.forEach(([cx, cy], k) => {
      const d = (xy[2 * i]! - cx) ** 2 + (xy[2 * i + 1]! - cy) ** 2;
      if (d < bestD) [best, bestD] = [k, d];
    });
    return best;
  });
}

/** Coverage of 2,500 seeded samples by each sampler (what the notebook re-measures). */
function ringEvaluation(model: Denoiser, schedule: NoiseSchedule, labels: number[] | null, scale: number): Record<string, { modes: number; quality: number }> {
  const out: Record<string, { modes: number; quality: number }> = {};
  const runs = {
    ddpm: () => ddpmSample(model, schedule, { n: 2500, seed: EVAL_SEED, labels }),
    "ddpm-posterior": () => ddpmSample(model, schedule, { n: 2500, seed: EVAL_SEED, labels, variance: "posterior" }),
    "ddim-50": () => ddimSample(model, schedule, { n: 2500, seed: EVAL_SEED, labels, steps: 50 }),
  };
  for (const [name, run] of Object.entries(runs)) {
    const { samples } = run();
    const points = tf.div(samples, scale);
    const c = ringCoverage(points);
    tf.dispose([samples, points]);
    out[name] = { modes: c.modesCovered, quality: Number(c.quality.toFixed(4)) };
  }
  return out;
}

async function main(): Promise<void> {
  const args = commandLineOrExit("train-diffusion", USAGE, parseArgs);
  await useBestBackend();
  const rng = setSeed(args.seed);
  const ring = args.data === "ring";
  const gaussians = args.data === "gaussians";
  const schedule = noiseSchedule(args.schedule, args.T);
  // 1) Data: ring points (and their modes), or Fashion-MNIST scaled to [-1, 1] (Ho et al. 2020, section 4).
  let data: tf.Tensor2D;
  let labels: Int32Array | null = null;
  let test: tf.Tensor2D | null = null;
  let dataInfo: Record<string, unknown>;
  if (ring) {
    const points = sampleRing(20000, { rng: rng.fork() });
    if (args.classes) labels = nearestMode(points);
    data = tf.mul(points, args.scale);
    points.dispose();
    dataInfo = { name: "ring", points: 20000, modes: 8, radius: 2, std: 0.02, scale: args.scale };
  } else if (gaussians) {
    const drawn = sampleGaussianClasses(20000, { separation: args.separation, rng: rng.fork() });
    if (args.classes) labels = drawn.labels;
    data = tf.mul(drawn.points, args.scale);
    drawn.points.dispose();
    dataInfo = { name: "gaussian-classes", points: 20000, classes: 2, separation: args.separation, std: 1, scale: args.scale };
  } else {
    const trainSet = loadFashionMnist({ split: "train", source: args.source });
    const testSet = loadFashionMnist({ split: "test", source: trainSet.source });
    console.log(trainSet.description);
    data = tf.tidy(() => trainSet.images.reshape([trainSet.count, 784]).mul(2).sub(1) as tf.Tensor2D);
    test = tf.tidy(() => testSet.images.slice(0, 500).reshape([500, 784]).mul(2).sub(1) as tf.Tensor2D);
    tf.dispose([trainSet.images, testSet.images]);
    dataInfo = { name: "fashion-mnist", source: trainSet.source, train: trainSet.count, test: 500, scale: "[-1, 1]" };
  }
  // 2) Model and trainer.
  const config = args.model === "unet" ? unetConfig(args.T) : ring || gaussians ? { ...DIFFUSION_POINTS_CONFIG, numClasses: args.classes ? (ring ? 8 : 2) : 0 } : DIFFUSION_IMAGE_CONFIG;
  const model: Denoiser = args.model === "unet" ? new UNet(unetConfig(args.T), rng.fork()) : new DiffusionMlp(config as DiffusionMlpConfig, rng.fork());
  const trainer = new DiffusionTrainer(model, schedule, data, {
    batchSize: args.batch,
    learningRate: args.lr,
    decaySteps: args.steps,
    labels,
    emaDecay: args.ema,
    rng: rng.fork(),
  });
  const sampler = trainer.average ?? model;
  console.log(`${args.model === "unet" ? "UNet" : "DiffusionMlp"} ${JSON.stringify(config)}: ${model.parameterCount().toLocaleString("en-US")} parameters; ${args.schedule} schedule, T = ${args.T}; ${args.steps} steps of ${args.batch}, Adam ${args.lr} with cosine decay, EMA ${args.ema}`);
  // 3) Train; evaluation time is measured apart, so the recorded training time is the training alone.
  const history: Record<string, unknown>[] = [];
  let evalSeconds = 0;
  const reached: Record<string, { step: number; trainSeconds: number }> = {};
  const t0 = Date.now();
  const makeExtra = (stepsDone: number, trainSeconds: number): Record<string, unknown> => ({
    data: dataInfo,
    steps: stepsDone,
    batchSize: args.batch,
    learningRate: args.lr,
    emaDecay: args.ema,
    seed: args.seed,
    evalSeed: EVAL_SEED,
    trainSeconds: Math.round(trainSeconds),
    stepMs: Number(((1000 * trainSeconds) / Math.max(1, stepsDone)).toFixed(1)),
    backend: backendLabel(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? "?", threadsEnv: process.env.AIGC_THREADS ?? null },
    final: history[history.length - 1],
    history,
    ...(ring ? { reachedTarget: reached } : {}),
    madeBy: `scripts/train-diffusion.ts ${process.argv.slice(2).join(" ")}`.trim(),
  });
  const evalLabels = args.classes ? Array.from({ length: 2500 }, (_, i) => i % 8) : null;
  const result = await train({
    steps: args.steps,
    title: `diffusion ${args.data}${args.classes ? " (classes)" : ""}`,
    step: () => trainer.step(),
    evalEvery: args.evalEvery,
    // A checkpoint after every evaluation, so a run stopped early still leaves its latest weights.
    checkpoint: { path: args.out, every: args.evalEvery, make: (done) => sampler.toCheckpoint(schedule, done, makeExtra(done, (Date.now() - t0) / 1000 - evalSeconds)) },
    evaluate: (i) => {
      const e0 = Date.now();
      const trainSeconds = (e0 - t0) / 1000 - evalSeconds;
      const row: Record<string, unknown> = { step: i + 1, trainSeconds: Number(trainSeconds.toFixed(1)) };
      let metrics: Record<string, number>;
      if (ring) {
        const cov = ringEvaluation(sampler, schedule, evalLabels, args.scale);
        row.coverage = cov;
        for (const [name, c] of Object.entries(cov)) {
          if (!reached[name] && c.modes === 8 && c.quality >= 0.9) reached[name] = { step: i + 1, trainSeconds: Number(trainSeconds.toFixed(1)) };
        }
        const d = cov["ddpm-posterior"]!;
        metrics = { modes: d.modes, quality: d.quality };
        console.log(`step ${i + 1}: ${Object.entries(cov).map(([k, v]) => `${k} ${v.modes}/8 ${(100 * v.quality).toFixed(1)}%`).join(" | ")} | ${trainSeconds.toFixed(0)} s training`);
      } else if (gaussians && args.classes) {
        const at = guidanceSampler(sampler, schedule, { perClass: 1000, seed: EVAL_SEED, scale: args.scale });
        const spread = Object.fromEntries([0, 3].map((w) => {
          const g = at(w);
          const c = classSpread(g.points, g.labels);
          return [`w${w}`, { bayesShare: Number(c.bayesShare.toFixed(4)), withinVariance: Number(c.withinVariance.toFixed(4)) }];
        }));
        row.guidance = spread;
        metrics = { "Bayes share w=0": spread.w0!.bayesShare, "Bayes share w=3": spread.w3!.bayesShare };
        console.log(`step ${i + 1}: ${Object.entries(spread).map(([k, v]) => `${k}: Bayes share ${(100 * v.bayesShare).toFixed(1)}%, within-class variance ${v.withinVariance.toFixed(3)}`).join(" | ")} | ${trainSeconds.toFixed(0)} s training`);
      } else if (gaussians) {
        metrics = {};
      } else {
        const loss = evaluateEpsilonLoss(sampler, schedule, test!, EVAL_SEED);
        row.testLoss = Number(loss.toFixed(5));
        metrics = { "test loss": loss };
        console.log(`step ${i + 1}: test L_simple ${loss.toFixed(4)} | ${trainSeconds.toFixed(0)} s training`);
      }
      history.push(row);
      evalSeconds += (Date.now() - e0) / 1000;
      return metrics;
    },
  });
  // 4) The checkpoint of the weight average, with what the notebook needs to check it.
  const trainSeconds = result.seconds - evalSeconds;
  const extra = makeExtra(result.stepsDone, trainSeconds);
  await sampler.save(args.out, schedule, result.stepsDone, extra);
  console.log(`${result.stepsDone} steps: ${trainSeconds.toFixed(0)} s training (${extra.stepMs} ms/step) + ${evalSeconds.toFixed(0)} s evaluating on ${extra.backend}`);
  if (ring) {
    for (const name of ["ddpm-posterior", "ddpm", "ddim-50"]) {
      const r = reached[name];
      console.log(r ? `${name}: target (8/8 modes, >= 90% within 3 std) first reached at step ${r.step}, after ${r.trainSeconds} s of training` : `${name}: target not reached`);
    }
  }
  console.log(`wrote ${path.relative(process.cwd(), args.out)}`);
  tf.dispose([data, ...(test ? [test] : [])]);
  trainer.dispose();
  model.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
