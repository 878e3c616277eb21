/**
 * Trains the VAE of notebooks/04-vae.ipynb on Fashion-MNIST and writes the checkpoint the notebook ships.
 * The same code as the notebook's training cell: kernel-lib's Vae, VaeTrainer and train().
 *
 *   npx tsc -b
 *   flock /tmp/aigc-train.lock node build/scripts/train-vae.js --latent 20 --epochs 20 --source auto
 *   flock /tmp/aigc-train.lock node build/scripts/train-vae.js --latent 2  --epochs 20 --source auto
 *
 * --model conv trains the convolutional VAE (kernel-lib's ConvVae, latent 16 by default) into
 * notebooks/checkpoints/conv-vae-latent<latent>.ckpt instead of the MLP one.
 *
 * Options (defaults): --model mlp, --latent 20 (16 for conv), --epochs 20, --source auto (full set if Debian's dataset-fashion-mnist
 * is installed, else the shipped subset), --hidden 512,256, --batch 128, --lr 1e-3, --seed 0,
 * --out notebooks/checkpoints/vae-latent<latent>.ckpt. After every epoch it prints the mean training
 * loss terms and the test negative ELBO (one seeded sample per image); the checkpoint's `extra` records
 * the data, the settings, the backend, the time, the per-epoch history and the final test numbers, on the
 * whole test split used and on the first 500 test images (the shipped test subset, which quick mode uses).
 */
import * as path from "node:path";
import { CONV_VAE_DEFAULT_CONFIG, ConvVae, ConvVaeConfig, setSeed, tf, train, useBestBackend, Vae, VaeConfig, VaeLoss, VaeModel, VaeTrainer } from "kernel-lib";
import { commandLineOrExit, integerItem, Options } from "./options";
import { backendLabel, fashionSplits } from "./records";

interface Args {
  model: "mlp" | "conv";
  latent: number;
  epochs: number;
  source: "subset" | "full" | "auto";
  hidden: number[];
  batch: number;
  lr: number;
  seed: number;
  out: string;
}

/** The seed of every test evaluation, so the notebook can reproduce the recorded numbers. */
const EVAL_SEED = 1;

export const USAGE = `usage: node build/scripts/train-vae.js [options]

Trains the VAE of notebooks/04-vae.ipynb on Fashion-MNIST and writes its checkpoint.

  --model M        mlp | conv: the MLP VAE or the convolutional one (default mlp)
  --latent N       latent dimensions (default 20; 16 for conv)
  --epochs N       passes over the training split (default 20)
  --source S       subset | full | auto: the shipped subset, Debian's full dataset-fashion-mnist, or full when
                   installed (default auto)
  --hidden LIST    hidden layer widths, comma-separated (default 512,256)
  --batch N        batch size (default 128)
  --lr X           Adam learning rate (default 1e-3)
  --seed N         random seed (default 0)
  --out FILE       checkpoint to write (default notebooks/checkpoints/vae-latent<latent>.ckpt, or
                   conv-vae-latent<latent>.ckpt)
  -h, --help       print this and exit`;

function parseArgs(argv: string[]): Args {
  const o = new Options(argv, ["model", "latent", "epochs", "source", "hidden", "batch", "lr", "seed", "out"]);
  const model = o.choice("model", ["mlp", "conv"], "mlp");
  const latent = o.number("latent", model === "conv" ? 16 : 20, { min: 1 });
  const repo = path.resolve(__dirname, "..", "..");
  return {
    model,
    latent,
    epochs: o.number("epochs", 20, { min: 1 }),
    source: o.choice("source", ["subset", "full", "auto"], "auto"),
    hidden: o.list("hidden", "512,256", integerItem(1)),
    batch: o.number("batch", 128, { min: 1 }),
    lr: o.number("lr", 1e-3, { integer: false, min: 0, minIncluded: false }),
    seed: o.number("seed", 0, { min: -Infinity }),
    out: path.resolve(o.string("out") ?? path.join(repo, "notebooks", "checkpoints", model === "conv" ? `conv-vae-latent${latent}.ckpt` : `vae-latent${latent}.ckpt`)),
  };
}

function fmt(l: VaeLoss<number>): string {
  return `${l.loss.toFixed(2)} (reconstruction ${l.reconstruction.toFixed(2)} + KL ${l.kl.toFixed(2)})`;
}

async function main(): Promise<void> {
  const args = commandLineOrExit("train-vae", USAGE, parseArgs);
  const backend = await useBestBackend();
  const rng = setSeed(args.seed);
  // 1) Data: the training split and the test split of the same source.
  const { trainSet, testSet } = fashionSplits(args.source);
  const test500 = testSet.images.slice(0, 500);
  // 2) Model and trainer.
  const config = args.model === "conv" ? { ...CONV_VAE_DEFAULT_CONFIG, latentDim: args.latent } : { inputDim: 784, hiddenDims: args.hidden, latentDim: args.latent };
  const model: VaeModel = args.model === "conv" ? new ConvVae(config as ConvVaeConfig, rng.fork()) : new Vae(config as VaeConfig, rng.fork());
  const trainer = new VaeTrainer(model, trainSet.images, { batchSize: args.batch, learningRate: args.lr, rng: rng.fork() });
  const steps = args.epochs * trainer.stepsPerEpoch;
  console.log(`${args.model === "conv" ? "ConvVae" : "VAE"} ${JSON.stringify(config)}: ${model.parameterCount().toLocaleString("en-US")} parameters; ${args.epochs} epochs x ${trainer.stepsPerEpoch} steps of ${args.batch}, Adam ${args.lr}`);
  // 3) Train, evaluating on the test split after every epoch.
  const history: { epoch: number; train: VaeLoss<number>; test: VaeLoss<number>; seconds: number }[] = [];
  let epochSums = { loss: 0, reconstruction: 0, kl: 0 };
  const t0 = Date.now();
  const result = await train({
    steps,
    title: `vae latent ${args.latent}`,
    step: () => trainer.step(),
    evalEvery: trainer.stepsPerEpoch,
    onStep: (_i, m) => {
      epochSums = { loss: epochSums.loss + m.loss!, reconstruction: epochSums.reconstruction + m.reconstruction!, kl: epochSums.kl + m.kl! };
    },
    evaluate: async (i) => {
      const testLoss = await model.evaluate(testSet.images, { seed: EVAL_SEED });
      const n = trainer.stepsPerEpoch;
      const epoch = Math.round((i + 1) / n);
      const trainLoss = { loss: epochSums.loss / n, reconstruction: epochSums.reconstruction / n, kl: epochSums.kl / n };
      epochSums = { loss: 0, reconstruction: 0, kl: 0 };
      const seconds = (Date.now() - t0) / 1000;
      history.push({ epoch, train: trainLoss, test: testLoss, seconds });
      console.log(`epoch ${epoch}/${args.epochs}: train ${fmt(trainLoss)} | test ${fmt(testLoss)} | ${seconds.toFixed(0)} s`);
      return { test: testLoss.loss };
    },
  });
  // 4) Final numbers and the checkpoint.
  const final = await model.evaluate(testSet.images, { seed: EVAL_SEED });
  const first500 = await model.evaluate(test500, { seed: EVAL_SEED });
  const stepMs = (1000 * result.seconds) / steps;
  const extra = {
    data: { source: trainSet.source, train: trainSet.count, test: testSet.count },
    epochs: args.epochs,
    batchSize: args.batch,
    learningRate: args.lr,
    seed: args.seed,
    evalSeed: EVAL_SEED,
    test: final,
    test500: first500,
    seconds: Math.round(result.seconds),
    stepMs: Number(stepMs.toFixed(1)),
    backend: backendLabel(backend.name),
    history,
    madeBy: `scripts/train-vae.ts ${process.argv.slice(2).join(" ")}`.trim(),
  };
  await model.save(args.out, result.stepsDone, extra);
  console.log(`test negative ELBO on ${testSet.count.toLocaleString("en-US")} ${trainSet.source} test images: ${fmt(final)} nats`);
  console.log(`on the first 500 test images: ${fmt(first500)}`);
  console.log(`${steps} steps in ${result.seconds.toFixed(0)} s (${stepMs.toFixed(1)} ms/step) on ${extra.backend}; wrote ${path.relative(process.cwd(), args.out)}`);
  tf.dispose([trainSet.images, testSet.images, test500]);
  trainer.dispose();
  model.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
