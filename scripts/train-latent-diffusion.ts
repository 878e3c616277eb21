/**
 * Trains the two stages of notebooks/07-latent-diffusion.ipynb and writes the checkpoints it ships: the autoencoder
 * (LatentAutoencoder, 28x28 -> 7x7x4) into latent-autoencoder.ckpt, then the class-conditioned latent U-Net
 * (LatentUNet, cross-attention on class tokens, the class dropped with p = 0.1 for classifier-free guidance) on the
 * autoencoder's scaled latents into latent-diffusion.ckpt. The same code as the notebook's training cells.
 *
 *   npx tsc -b
 *   flock /tmp/aigc-train.lock node build/scripts/train-latent-diffusion.js --source full
 *   node build/scripts/train-latent-diffusion.js --stage diffusion --steps 30 --source subset   # a timing run
 *
 * --stage diffusion reads the autoencoder from --ae-out. Both checkpoints carry their training history, the time,
 * the backend and the command (`madeBy`); the autoencoder's also the latent scale factor and the FID of its
 * reconstructions (2,000 test images against the 10,000, on the shipped classifier's features).
 */
import * as os from "node:os";
import * as path from "node:path";
import {
  classifierFeatures,
  DiffusionTrainer,
  encodeLatents,
  evaluateEpsilonLoss,
  decodeLatents,
  fid,
  LATENT_AE_DEFAULT_CONFIG,
  LatentAutoencoder,
  latentScale,
  LatentUNet,
  latentUNetConfig,
  loadClassifier,
  loadLatentAutoencoder,
  noiseSchedule,
  setSeed,
  tf,
  train,
  useBestBackend,
  VaeTrainer,
} from "kernel-lib";
import { commandLineOrExit, OptionError, Options } from "./options";
import { backendLabel, fashionSplits } from "./records";

/** The seed of every evaluation, so the notebook can reproduce the recorded numbers. */
const EVAL_SEED = 7;

export const USAGE = `usage: node build/scripts/train-latent-diffusion.js [options]

Trains the autoencoder and then the latent denoiser of notebooks/07-latent-diffusion.ipynb.

  --stage S         both | ae | diffusion (default both; diffusion reads --ae-out)
  --ae-steps N      autoencoder steps (default 2500)
  --ae-batch N      autoencoder batch size (default 128)
  --ae-lr X         autoencoder Adam learning rate (default 1e-3)
  --steps N         latent denoiser steps (default 7000)
  --batch N         latent denoiser batch size (default 128)
  --lr X            latent denoiser Adam learning rate, cosine decay to a tenth (default 1e-3)
  --T N             diffusion steps (default 200)
  --ema X           weight-average decay (default 0.999)
  --drop-class X    probability of training with the null condition (default 0.1)
  --channels A,B    latent U-Net channels at 7x7 and 4x4 (default 32,64)
  --eval-every N    steps between evaluations (default 1000)
  --seed N          random seed (default 0)
  --source S        subset | full | auto Fashion-MNIST (default auto)
  --ae-out FILE     autoencoder checkpoint (default notebooks/checkpoints/latent-autoencoder.ckpt)
  --out FILE        latent denoiser checkpoint (default notebooks/checkpoints/latent-diffusion.ckpt)
  -h, --help        print this and exit`;

interface Args {
  stage: "both" | "ae" | "diffusion";
  aeSteps: number;
  aeBatch: number;
  aeLr: number;
  steps: number;
  batch: number;
  lr: number;
  T: number;
  ema: number;
  dropClass: number;
  channels: [number, number];
  evalEvery: number;
  seed: number;
  source: "subset" | "full" | "auto";
  aeOut: string;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const names = ["stage", "ae-steps", "ae-batch", "ae-lr", "steps", "batch", "lr", "T", "ema", "drop-class", "channels", "eval-every", "seed", "source", "ae-out", "out"];
  const o = new Options(argv, names);
  const real = { integer: false, min: 0, minIncluded: false };
  const channels = o.list("channels", "32,64", (t) => {
    const v = Number(t);
    if (!Number.isInteger(v) || v < 8 || v % 8 !== 0) throw new Error("not a multiple of 8");
    return v;
  });
  if (channels.length !== 2) throw new OptionError(`--channels takes two numbers, got ${channels.length}`);
  return {
    stage: o.choice("stage", ["both", "ae", "diffusion"], "both"),
    aeSteps: o.number("ae-steps", 2500, { min: 1 }),
    aeBatch: o.number("ae-batch", 128, { min: 1 }),
    aeLr: o.number("ae-lr", 1e-3, real),
    steps: o.number("steps", 7000, { min: 1 }),
    batch: o.number("batch", 128, { min: 1 }),
    lr: o.number("lr", 1e-3, real),
    T: o.number("T", 200, { min: 1 }),
    ema: o.number("ema", 0.999, { integer: false }),
    dropClass: o.number("drop-class", 0.1, { integer: false }),
    channels: [channels[0]!, channels[1]!],
    evalEvery: o.number("eval-every", 1000, { min: 1 }),
    seed: o.number("seed", 0),
    source: o.choice("source", ["subset", "full", "auto"], "auto"),
    aeOut: path.resolve(o.string("ae-out") ?? path.join(CKPT, "latent-autoencoder.ckpt")),
    out: path.resolve(o.string("out") ?? path.join(CKPT, "latent-diffusion.ckpt")),
  };
}

/** The shipped checkpoints' folder (the classifier that scores the reconstructions is read from it). */
const CKPT = path.join(path.resolve(__dirname, "..", ".."), "notebooks", "checkpoints");

const madeBy = () => `scripts/train-latent-diffusion.ts ${process.argv.slice(2).join(" ")}`.trim();
const machine = () => ({ cpus: os.cpus().length, model: os.cpus()[0]?.model ?? "?" });

/** Stage 1: the autoencoder, then its scale factor and the FID of its reconstructions. */
async function trainAutoencoder(args: Args, images: tf.Tensor3D, test: tf.Tensor3D, source: string, rng: ReturnType<typeof setSeed>): Promise<LatentAutoencoder> {
  const ae = new LatentAutoencoder(LATENT_AE_DEFAULT_CONFIG, rng.fork());
  const trainer = new VaeTrainer(ae, images, { batchSize: args.aeBatch, learningRate: args.aeLr, rng: rng.fork() });
  console.log(`LatentAutoencoder ${JSON.stringify(ae.config)}: ${ae.parameterCount().toLocaleString("en-US")} parameters; ${args.aeSteps} steps of ${args.aeBatch}, Adam ${args.aeLr}`);
  const test500 = test.slice(0, 500);
  const history: Record<string, number>[] = [];
  let evalSeconds = 0;
  const result = await train({
    steps: args.aeSteps,
    title: "latent autoencoder",
    step: () => trainer.step(),
    evalEvery: args.evalEvery,
    evaluate: async (i) => {
      const e0 = Date.now();
      const l = await ae.evaluate(test500, { seed: EVAL_SEED });
      history.push({ step: i + 1, testReconstruction: Number(l.reconstruction.toFixed(3)), testKl: Number(l.kl.toFixed(3)) });
      evalSeconds += (Date.now() - e0) / 1000;
      return { "test reconstruction": l.reconstruction };
    },
  });
  const trainSeconds = result.seconds - evalSeconds;
  const scale = latentScale(ae, images);
  // Reconstruction FID: decoded means of 2,000 test images against the 10,000 (and the same 2,000 real images: the floor at this size).
  const { model: classifier } = loadClassifier(path.join(CKPT, "fashion-classifier.ckpt"));
  const realFeatures = classifierFeatures(classifier, test);
  const first = test.slice(0, Math.min(2000, test.shape[0]));
  const recon = tf.tidy(() => decodeLatents(ae, encodeLatents(ae, first, scale), scale));
  const reconFid = fid(realFeatures, classifierFeatures(classifier, recon));
  const floorFid = fid(realFeatures, classifierFeatures(classifier, first));
  const final = await ae.evaluate(test500, { seed: EVAL_SEED });
  const extra = {
    data: { source, train: images.shape[0], test: test.shape[0] },
    steps: result.stepsDone,
    batchSize: args.aeBatch,
    learningRate: args.aeLr,
    seed: args.seed,
    evalSeed: EVAL_SEED,
    latentScale: scale,
    reconstructionFid: { images: first.shape[0], fid: reconFid, realSameImages: floorFid },
    test500: final,
    trainSeconds: Math.round(trainSeconds),
    stepMs: Number(((1000 * trainSeconds) / result.stepsDone).toFixed(1)),
    backend: backendLabel(),
    machine: machine(),
    history,
    madeBy: madeBy(),
  };
  await ae.save(args.aeOut, result.stepsDone, extra);
  console.log(`autoencoder: ${result.stepsDone} steps in ${trainSeconds.toFixed(0)} s (${extra.stepMs} ms/step); latent scale ${scale.toFixed(4)}; reconstruction FID ${reconFid.toFixed(2)} (real images ${floorFid.toFixed(2)}); wrote ${path.relative(process.cwd(), args.aeOut)}`);
  tf.dispose([test500, first, recon]);
  classifier.dispose();
  trainer.dispose();
  return ae;
}

/** Stage 2: the latent denoiser on s · E(x), with the class dropped for classifier-free guidance. */
async function trainDenoiser(args: Args, ae: LatentAutoencoder, scale: number, images: tf.Tensor3D, labels: Int32Array, test: tf.Tensor3D, testLabels: Int32Array, rng: ReturnType<typeof setSeed>, source: string): Promise<void> {
  const e0 = Date.now();
  const latents = encodeLatents(ae, images, scale);
  const testLatents = encodeLatents(ae, test.slice(0, 500), scale);
  const encodeSeconds = (Date.now() - e0) / 1000;
  const schedule = noiseSchedule("linear", args.T);
  const config = { ...latentUNetConfig(args.T), channels: args.channels };
  const model = new LatentUNet(config, rng.fork());
  const trainer = new DiffusionTrainer(model, schedule, latents, { batchSize: args.batch, learningRate: args.lr, decaySteps: args.steps, labels, dropClass: args.dropClass, emaDecay: args.ema, rng: rng.fork() });
  const sampler = trainer.average ?? model;
  const test500Labels = testLabels.slice(0, 500);
  console.log(`LatentUNet ${JSON.stringify(config)}: ${model.parameterCount().toLocaleString("en-US")} parameters; ${args.steps} steps of ${args.batch}, Adam ${args.lr} with cosine decay, EMA ${args.ema}; encoding took ${encodeSeconds.toFixed(1)} s`);
  const history: Record<string, number>[] = [];
  let evalSeconds = 0;
  const t0 = Date.now();
  const extra = (done: number, trainSeconds: number) => ({
    data: { source, train: images.shape[0], test: 500, latentScale: scale, autoencoder: path.basename(args.aeOut) },
    steps: done,
    batchSize: args.batch,
    learningRate: args.lr,
    emaDecay: args.ema,
    dropClass: args.dropClass,
    seed: args.seed,
    evalSeed: EVAL_SEED,
    encodeSeconds: Number(encodeSeconds.toFixed(1)),
    trainSeconds: Math.round(trainSeconds),
    stepMs: Number(((1000 * trainSeconds) / Math.max(1, done)).toFixed(1)),
    backend: backendLabel(),
    machine: machine(),
    final: history[history.length - 1],
    history,
    madeBy: madeBy(),
  });
  const result = await train({
    steps: args.steps,
    title: "latent diffusion",
    step: () => trainer.step(),
    evalEvery: args.evalEvery,
    checkpoint: { path: args.out, every: args.evalEvery, make: (done) => sampler.toCheckpoint(schedule, done, extra(done, (Date.now() - t0) / 1000 - evalSeconds)) },
    evaluate: (i) => {
      const e1 = Date.now();
      const loss = evaluateEpsilonLoss(sampler, schedule, testLatents, EVAL_SEED, test500Labels);
      history.push({ step: i + 1, testLoss: Number(loss.toFixed(5)), trainSeconds: Number(((e1 - t0) / 1000 - evalSeconds).toFixed(1)) });
      evalSeconds += (Date.now() - e1) / 1000;
      return { "test loss": loss };
    },
  });
  const trainSeconds = result.seconds - evalSeconds;
  const record = extra(result.stepsDone, trainSeconds);
  await sampler.save(args.out, schedule, result.stepsDone, record);
  console.log(`latent denoiser: ${result.stepsDone} steps in ${trainSeconds.toFixed(0)} s (${record.stepMs} ms/step) + ${evalSeconds.toFixed(0)} s evaluating on ${record.backend}; test L_simple ${history[history.length - 1]?.testLoss}; wrote ${path.relative(process.cwd(), args.out)}`);
  tf.dispose([latents, testLatents]);
  trainer.dispose();
  model.dispose();
}

async function main(): Promise<void> {
  const args = commandLineOrExit("train-latent-diffusion", USAGE, parseArgs);
  await useBestBackend();
  const rng = setSeed(args.seed);
  const { trainSet, testSet } = fashionSplits(args.source);
  const t0 = Date.now();
  let ae: LatentAutoencoder;
  let scale: number;
  if (args.stage === "diffusion") {
    const loaded = loadLatentAutoencoder(args.aeOut);
    ae = loaded.model;
    scale = loaded.extra["latentScale"] as number;
    console.log(`autoencoder from ${path.relative(process.cwd(), args.aeOut)} (latent scale ${scale.toFixed(4)})`);
  } else {
    ae = await trainAutoencoder(args, trainSet.images, testSet.images, trainSet.source, rng);
    scale = latentScale(ae, trainSet.images);
  }
  if (args.stage !== "ae") await trainDenoiser(args, ae, scale, trainSet.images, trainSet.labels, testSet.images, testSet.labels, rng, trainSet.source);
  console.log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  ae.dispose();
  tf.dispose([trainSet.images, testSet.images]);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
