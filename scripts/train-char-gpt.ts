/**
 * Trains the character Transformer (kernel-lib's CharGPT) on Pride and Prejudice and writes the checkpoint
 * that notebooks/02-transformer.ipynb ships: the first 90% of the characters train, the last 10% validate.
 * The notebook's full mode runs the same trainCharGPT with the same defaults.
 *
 *   npx tsc -b && flock /tmp/aigc-train.lock node build/scripts/train-char-gpt.js \
 *     --preset base --steps 5000 --out notebooks/checkpoints/char-gpt.ckpt
 *
 * Options: --preset tiny|small|base (default base), --steps N (default 5000), --batch N (12), --lr X (1e-3),
 * --weight-decay X (0.01), --eval-every N, --seed N (2024), --out FILE, --resume (continue from --out; Adam's
 * moment estimates are not stored, so they restart),
 * --time-only N (time N steps, print the projection for --steps, write nothing).
 */
import * as path from "node:path";
import {
  CHAR_GPT_PRESETS,
  CharGPT,
  CharGPTPreset,
  CharTokenizer,
  charGPTConfig,
  charGPTStep,
  loadCharGPT,
  loadPrideAndPrejudice,
  randomBatch,
  saveCharGPT,
  setSeed,
  splitTrainVal,
  tf,
  trainCharGPT,
  useBestBackend,
  thinCurve,
} from "kernel-lib";
import { commandLineOrExit, Options } from "./options";

interface Args {
  preset: CharGPTPreset;
  steps: number;
  batch: number;
  lr: number;
  weightDecay: number;
  evalEvery?: number;
  seed: number;
  out: string;
  resume: boolean;
  timeOnly: number;
}

export const USAGE = `usage: node build/scripts/train-char-gpt.js [options]

Trains the character Transformer of notebooks/02-transformer.ipynb on Pride and Prejudice and writes its checkpoint.

  --preset P        tiny | small | base (default base)
  --steps N         training steps (default 5000)
  --batch N         sequences per step (default 12)
  --lr X            AdamW learning rate (default 1e-3)
  --weight-decay X  AdamW weight decay (default 0.01)
  --eval-every N    steps between validation losses (default: a tenth of --steps)
  --seed N          random seed (default 2024)
  --out FILE        checkpoint to write (default notebooks/checkpoints/char-gpt.ckpt)
  --resume          continue from --out (Adam's moments restart)
  --time-only N     time N steps, print the projection for --steps, write nothing
  -h, --help        print this and exit`;

function parseArgs(argv: string[]): Args {
  const o = new Options(argv, ["preset", "steps", "batch", "lr", "weight-decay", "eval-every", "seed", "out", "time-only"], ["resume"]);
  const real = { integer: false };
  return {
    preset: o.choice("preset", Object.keys(CHAR_GPT_PRESETS) as CharGPTPreset[], "base"),
    steps: o.number("steps", 5000, { min: 1 }),
    batch: o.number("batch", 12, { min: 1 }),
    lr: o.number("lr", 1e-3, real),
    weightDecay: o.number("weight-decay", 0.01, real),
    evalEvery: o.number("eval-every", undefined, { min: 1 }),
    seed: o.number("seed", 2024, { min: -Infinity }),
    out: o.string("out") ?? "notebooks/checkpoints/char-gpt.ckpt",
    resume: o.flag("resume"),
    timeOnly: o.number("time-only", 0),
  };
}

async function main(): Promise<void> {
  const args = commandLineOrExit("train-char-gpt", USAGE, parseArgs);
  setSeed(args.seed);
  const backend = await useBestBackend();
  const text = loadPrideAndPrejudice();
  const tokenizer = CharTokenizer.fromText(text);
  const config = charGPTConfig(args.preset, tokenizer.vocabSize);
  let model: CharGPT;
  let startStep = 0;
  let previousSeconds = 0;
  if (args.resume) {
    const loaded = loadCharGPT(args.out, config);
    model = loaded.model;
    startStep = loaded.step;
    previousSeconds = Number(loaded.extra["trainedSeconds"] ?? 0);
    console.log(`resuming ${args.out} at step ${startStep}`);
  } else {
    model = new CharGPT(config);
  }
  console.log(`char-gpt ${args.preset}: ${JSON.stringify(model.config)}, ${model.numParams().toLocaleString("en")} parameters, ${text.length.toLocaleString("en")} characters, vocabulary ${tokenizer.vocabSize}`);

  if (args.timeOnly > 0) {
    // Time steps alone (the first one separately: it creates the optimizer's slots and warms the kernels).
    const { train: ids } = splitTrainVal(tokenizer.encode(text));
    const optimizer = tf.train.adam(args.lr);
    const times: number[] = [];
    for (let i = 0; i <= args.timeOnly; i++) {
      const t0 = performance.now();
      const { x, y } = randomBatch(ids, args.batch, model.config.contextLength);
      const loss = charGPTStep(model, optimizer, x, y, args.lr, args.weightDecay);
      loss.dataSync();
      tf.dispose([x, y, loss]);
      times.push((performance.now() - t0) / 1000);
    }
    const steady = times.slice(1);
    const mean = steady.reduce((a, b) => a + b, 0) / steady.length;
    console.log(`backend ${backend.name}: first step ${times[0]!.toFixed(2)} s, then ${mean.toFixed(3)} s/step over ${steady.length} steps (batch ${args.batch}); ${args.steps} steps would take about ${((mean * args.steps) / 60).toFixed(1)} min plus evaluation`);
    optimizer.dispose();
    model.dispose();
    return;
  }

  const extra = {
    data: "Pride and Prejudice (datasets/austen/prideprejudice.txt.gz), first 90% train, last 10% validation",
    script: `node build/scripts/train-char-gpt.js ${process.argv.slice(2).join(" ")}`,
    preset: args.preset,
    batchSize: args.batch,
    learningRate: args.lr,
    weightDecay: args.weightDecay,
    seed: args.seed,
    backend: backend.name,
  };
  const result = await trainCharGPT(model, tokenizer, text, {
    steps: args.steps,
    startStep,
    batchSize: args.batch,
    learningRate: args.lr,
    weightDecay: args.weightDecay,
    evalEvery: args.evalEvery,
    title: `char-gpt ${args.preset}`,
    checkpointPath: args.out,
    checkpointEvery: 250,
    checkpointExtra: extra,
    previousSeconds,
  });
  await saveCharGPT(args.out, model, tokenizer, result.stepsDone, {
    ...extra,
    partial: result.interrupted,
    valLoss: result.valLoss,
    trainLoss: result.last["loss"],
    trainedSeconds: previousSeconds + result.seconds,
    secondsPerStep: result.secondsPerStep,
    // The curves, thinned to at most 200 points each, so the notebook can draw how the shipped model trained.
    history: { loss: thinCurve(result.history["loss"]), val: thinCurve(result.history["val"]) },
    numParams: model.numParams(),
  });
  console.log(
    `done: ${result.stepsDone} steps in ${(result.seconds / 60).toFixed(1)} min (${result.secondsPerStep.toFixed(3)} s/step) | last batch loss ${result.last["loss"]?.toFixed(4)} | validation loss (all ${Math.round(text.length * 0.1).toLocaleString("en")} held-out characters) ${result.valLoss.toFixed(4)} nats/char | saved ${path.resolve(args.out)}`,
  );
  model.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
