/**
 * Trains the encoder-decoder on the date-translation task (datasets/dates/: dates in words -> ISO 8601) and writes
 * notebooks/checkpoints/seq2seq-dates.ckpt with its training record: the same code as the full mode of
 * notebooks/03-encoder-decoder.ipynb, kernel-lib's trainSeq2Seq (Seq2SeqTrainer steps in train()). After every epoch it reports the greedy exact-match accuracy on the
 * 1,000 validation pairs; at the end, greedy on all 2,000 test pairs and beam search (width 4) on the first 200.
 *
 *   npx tsc -b && flock /tmp/aigc-train.lock node build/scripts/train-seq2seq.js
 *
 * Options (defaults): --epochs 6, --batch 64, --lr 1e-3, --smoothing 0.1, --d 128, --layers 2, --heads 4, --seed 0,
 * --out notebooks/checkpoints/seq2seq-dates.ckpt.
 */
import * as path from "node:path";
import { DATE_VOCABS, dateSeq2SeqConfig, dateTextPairs, EncoderDecoder, exactMatchOf, saveSeq2Seq, setSeed, trainSeq2Seq, useBestBackend } from "kernel-lib";
import { commandLineOrExit, Options } from "./options";
import { backendLabel } from "./records";

export const USAGE = `usage: node build/scripts/train-seq2seq.js [options]

Trains the encoder-decoder on the date-translation task and writes its checkpoint.

  --epochs N       passes over the 20,000 training pairs (default 6)
  --batch N        batch size (default 64)
  --lr X           Adam learning rate (default 1e-3)
  --smoothing X    label smoothing (default 0.1)
  --d N            model width (default 128)
  --layers N       encoder and decoder layers each (default 2)
  --heads N        attention heads (default 4)
  --seed N         random seed (default 0)
  --out FILE       checkpoint to write (default notebooks/checkpoints/seq2seq-dates.ckpt)
  -h, --help       print this and exit`;

function parseArgs(argv: string[]) {
  const o = new Options(argv, ["epochs", "batch", "lr", "smoothing", "d", "layers", "heads", "seed", "out"]);
  const repo = path.resolve(__dirname, "..", "..");
  return {
    epochs: o.number("epochs", 6, { min: 1 }),
    batch: o.number("batch", 64, { min: 1 }),
    lr: o.number("lr", 1e-3, { integer: false, min: 0, minIncluded: false }),
    smoothing: o.number("smoothing", 0.1, { integer: false, min: 0 }),
    d: o.number("d", 128, { min: 1 }),
    layers: o.number("layers", 2, { min: 1 }),
    heads: o.number("heads", 4, { min: 1 }),
    seed: o.number("seed", 0, { min: -Infinity }),
    out: path.resolve(o.string("out") ?? path.join(repo, "notebooks", "checkpoints", "seq2seq-dates.ckpt")),
  };
}

async function main(): Promise<void> {
  const args = commandLineOrExit("train-seq2seq", USAGE, parseArgs);
  const backend = await useBestBackend();
  const rng = setSeed(args.seed);
  const [trainPairs, valPairs, testPairs] = (["train", "val", "test"] as const).map((split) => dateTextPairs(split));
  const config = dateSeq2SeqConfig({ dModel: args.d, numHeads: args.heads, layers: args.layers });
  const model = new EncoderDecoder(config, rng.fork());
  const stepsPerEpoch = Math.floor(trainPairs!.length / args.batch);
  console.log(`encoder-decoder ${JSON.stringify(config)}: ${model.numParams().toLocaleString("en-US")} parameters; ${args.epochs} epochs x ${stepsPerEpoch} steps of ${args.batch}`);
  // The lesson's full mode (notebooks/03-encoder-decoder.ipynb) runs this same call with the defaults.
  const result = await trainSeq2Seq(model, trainPairs!, DATE_VOCABS, {
    epochs: args.epochs,
    batchSize: args.batch,
    learningRate: args.lr,
    labelSmoothing: args.smoothing,
    evalPairs: valPairs!,
    rng: rng.fork(),
    title: "seq2seq dates",
    progress: false,
    onEval: (e) => console.log(`epoch ${Math.round(e.step / stepsPerEpoch)}: validation exact match ${e.valExactMatch.toFixed(4)} | ${e.seconds.toFixed(0)} s`),
  });
  const history = result.evaluations.map((e) => ({ epoch: Math.round(e.step / stepsPerEpoch), valExactMatch: e.valExactMatch, seconds: e.seconds }));
  const testGreedy = exactMatchOf(model, DATE_VOCABS, testPairs!);
  const testBeam200 = exactMatchOf(model, DATE_VOCABS, testPairs!.slice(0, 200), { beam: 4 });
  const extra = {
    data: { train: trainPairs!.length, val: valPairs!.length, test: testPairs!.length },
    ...args,
    out: undefined,
    testExactMatchGreedy: testGreedy,
    testExactMatchBeam4First200: testBeam200,
    seconds: Math.round(result.seconds),
    backend: backendLabel(backend.name),
    history,
    madeBy: `scripts/train-seq2seq.ts ${process.argv.slice(2).join(" ")}`.trim(),
  };
  await saveSeq2Seq(args.out, model, DATE_VOCABS, result.stepsDone, extra);
  console.log(`test exact match: greedy ${testGreedy.toFixed(4)} on ${testPairs!.length}, beam 4 ${testBeam200.toFixed(4)} on the first 200; ${result.seconds.toFixed(0)} s; wrote ${path.relative(process.cwd(), args.out)}`);
  model.dispose();
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack ?? e.message : e);
    process.exit(1);
  });
}
