/**
 * Trains the Fashion-MNIST classifier whose features the image metrics (FID, KID) use and whose predictions give
 * the class shares of generated images, and writes notebooks/checkpoints/fashion-classifier.ckpt with its
 * training record. The same code a lesson would run: kernel-lib's FashionClassifier, ClassifierTrainer, train().
 *
 *   npx tsc -b
 *   flock /tmp/aigc-train.lock node build/scripts/train-classifier.js
 *
 * Options (defaults): --epochs 8, --source auto (the full set when Debian's dataset-fashion-mnist is installed,
 * else the shipped subset), --batch 128, --lr 1e-3, --seed 0, --out notebooks/checkpoints/fashion-classifier.ckpt.
 * After every epoch it prints the mean training loss and the test accuracy; the checkpoint's `extra` records the
 * data, the settings, the backend, the time, the per-epoch history and the final test accuracy.
 */
import * as path from "node:path";
import { accuracy, ClassifierTrainer, CLASSIFIER_DEFAULT_CONFIG, FashionClassifier, setSeed, tf, train, useBestBackend } from "kernel-lib";
import { commandLineOrExit, Options } from "./options";
import { backendLabel, fashionSplits } from "./records";

interface Args {
  epochs: number;
  source: "subset" | "full" | "auto";
  batch: number;
  lr: number;
  seed: number;
  out: string;
}

export const USAGE = `usage: node build/scripts/train-classifier.js [options]

Trains the Fashion-MNIST classifier whose features the image metrics use and writes its checkpoint.

  --epochs N       passes over the training split (default 8)
  --source S       subset | full | auto: the shipped subset, Debian's full dataset-fashion-mnist, or full when
                   installed (default auto)
  --batch N        batch size (default 128)
  --lr X           Adam learning rate (default 1e-3)
  --seed N         random seed (default 0)
  --out FILE       checkpoint to write (default notebooks/checkpoints/fashion-classifier.ckpt)
  -h, --help       print this and exit`;

function parseArgs(argv: string[]): Args {
  const o = new Options(argv, ["epochs", "source", "batch", "lr", "seed", "out"]);
  const repo = path.resolve(__dirname, "..", "..");
  return {
    epochs: o.number("epochs", 8, { min: 1 }),
    source: o.choice("source", ["subset", "full", "auto"], "auto"),
    batch: o.number("batch", 128, { min: 1 }),
    lr: o.number("lr", 1e-3, { integer: false, min: 0, minIncluded: false }),
    seed: o.number("seed", 0, { min: -Infinity }),
    out: path.resolve(o.string("out") ?? path.join(repo, "notebooks", "checkpoints", "fashion-classifier.ckpt")),
  };
}

async function main(): Promise<void> {
  const args = commandLineOrExit("train-classifier", USAGE, parseArgs);
  const backend = await useBestBackend();
  const rng = setSeed(args.seed);
  // 1) Data: the training split and the test split of the same source.
  const { trainSet, testSet } = fashionSplits(args.source);
  // 2) Model and trainer.
  const model = new FashionClassifier(CLASSIFIER_DEFAULT_CONFIG, rng.fork());
  const trainer = new ClassifierTrainer(model, trainSet.images, trainSet.labels, { batchSize: args.batch, learningRate: args.lr, rng: rng.fork() });
  const steps = args.epochs * trainer.stepsPerEpoch;
  console.log(`classifier ${JSON.stringify(CLASSIFIER_DEFAULT_CONFIG)}: ${model.parameterCount().toLocaleString("en-US")} parameters; ${args.epochs} epochs x ${trainer.stepsPerEpoch} steps of ${args.batch}, Adam ${args.lr}`);
  // 3) Train, measuring test accuracy after every epoch.
  const history: { epoch: number; trainLoss: number; testAccuracy: number; seconds: number }[] = [];
  let lossSum = 0;
  const t0 = Date.now();
  const result = await train({
    steps,
    title: "fashion classifier",
    step: () => trainer.step(),
    evalEvery: trainer.stepsPerEpoch,
    onStep: (_i, m) => {
      lossSum += m.loss!;
    },
    evaluate: async (i) => {
      const epoch = Math.round((i + 1) / trainer.stepsPerEpoch);
      const testAccuracy = accuracy(model, testSet.images, testSet.labels);
      const trainLoss = lossSum / trainer.stepsPerEpoch;
      lossSum = 0;
      const seconds = (Date.now() - t0) / 1000;
      history.push({ epoch, trainLoss, testAccuracy, seconds });
      console.log(`epoch ${epoch}/${args.epochs}: train loss ${trainLoss.toFixed(4)} | test accuracy ${testAccuracy.toFixed(4)} | ${seconds.toFixed(0)} s`);
      return { "test accuracy": testAccuracy };
    },
  });
  // 4) Final number and the checkpoint.
  const testAccuracy = accuracy(model, testSet.images, testSet.labels);
  const stepMs = (1000 * result.seconds) / steps;
  const extra = {
    data: { source: trainSet.source, train: trainSet.count, test: testSet.count },
    epochs: args.epochs,
    batchSize: args.batch,
    learningRate: args.lr,
    seed: args.seed,
    testAccuracy,
    seconds: Math.round(result.seconds),
    stepMs: Number(stepMs.toFixed(1)),
    backend: backendLabel(backend.name),
    history,
    madeBy: `scripts/train-classifier.ts ${process.argv.slice(2).join(" ")}`.trim(),
  };
  await model.save(args.out, result.stepsDone, extra);
  console.log(`test accuracy on ${testSet.count.toLocaleString("en-US")} ${trainSet.source} test images: ${testAccuracy.toFixed(4)}`);
  console.log(`${steps} steps in ${result.seconds.toFixed(0)} s (${stepMs.toFixed(1)} ms/step) on ${extra.backend}; wrote ${path.relative(process.cwd(), args.out)}`);
  tf.dispose([trainSet.images, testSet.images]);
  trainer.dispose();
  model.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
