/**
 * Trains the encoder-decoder on the date-translation task (datasets/dates/: dates in words -> ISO 8601) and writes
 * notebooks/checkpoints/seq2seq-dates.ckpt with its training record: the same code a lesson runs, kernel-lib's
 * EncoderDecoder, Seq2SeqTrainer and train(). After every epoch it reports the greedy exact-match accuracy on the
 * 1,000 validation pairs; at the end, greedy on all 2,000 test pairs and beam search (width 4) on the first 200.
 *
 *   npx tsc -b && flock /tmp/aigc-train.lock node build/scripts/train-seq2seq.js
 *
 * Options (defaults): --epochs 6, --batch 64, --lr 1e-3, --smoothing 0.1, --d 128, --layers 2, --heads 4, --seed 0,
 * --out notebooks/checkpoints/seq2seq-dates.ckpt.
 */
import * as path from "node:path";
import { beamDecode, EncoderDecoder, exactMatch, greedyDecode, loadDates, saveSeq2Seq, Seq2SeqTrainer, Seq2SeqVocab, setSeed, train, useBestBackend } from "kernel-lib";
import { commandLineOrExit, Options } from "./options";
import { backendLabel } from "./records";

/** The task's vocabularies: lower-case words with spaces, commas and hyphens in; digits and hyphens out. */
export const DATE_VOCABS = { source: new Seq2SeqVocab("abcdefghijklmnopqrstuvwxyz ,-"), target: new Seq2SeqVocab("0123456789-") };

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
  const [trainPairs, valPairs, testPairs] = (["train", "val", "test"] as const).map((s) => loadDates(s).map((p) => ({ source: p.words, target: p.iso })));
  const config = { srcVocab: DATE_VOCABS.source.size, tgtVocab: DATE_VOCABS.target.size, maxSrcLen: 64, maxTgtLen: 12, dModel: args.d, numHeads: args.heads, encoderLayers: args.layers, decoderLayers: args.layers };
  const model = new EncoderDecoder(config, rng.fork());
  const trainer = new Seq2SeqTrainer(model, trainPairs!, DATE_VOCABS, { batchSize: args.batch, learningRate: args.lr, labelSmoothing: args.smoothing, rng: rng.fork() });
  const greedy = (pairs: { source: string; target: string }[]) => {
    const out: string[] = [];
    for (let i = 0; i < pairs.length; i += 500) {
      out.push(...greedyDecode(model, pairs.slice(i, i + 500).map((p) => DATE_VOCABS.source.encode(p.source))).map((ids) => DATE_VOCABS.target.decode(ids)));
    }
    return exactMatch(out, pairs.map((p) => p.target));
  };
  console.log(`encoder-decoder ${JSON.stringify(config)}: ${model.numParams().toLocaleString("en-US")} parameters; ${args.epochs} epochs x ${trainer.stepsPerEpoch} steps of ${args.batch}`);
  const history: { epoch: number; valExactMatch: number; seconds: number }[] = [];
  const t0 = Date.now();
  const result = await train({
    steps: args.epochs * trainer.stepsPerEpoch,
    title: "seq2seq dates",
    step: () => trainer.step(),
    evalEvery: trainer.stepsPerEpoch,
    evaluate: async (i) => {
      const valExactMatch = greedy(valPairs!);
      history.push({ epoch: Math.round((i + 1) / trainer.stepsPerEpoch), valExactMatch, seconds: (Date.now() - t0) / 1000 });
      console.log(`epoch ${history.length}: validation exact match ${valExactMatch.toFixed(4)} | ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      return { "val exact match": valExactMatch };
    },
  });
  const testGreedy = greedy(testPairs!);
  const beamSet = testPairs!.slice(0, 200);
  const testBeam200 = exactMatch(beamSet.map((p) => DATE_VOCABS.target.decode(beamDecode(model, DATE_VOCABS.source.encode(p.source), 4).ids)), beamSet.map((p) => p.target));
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
  trainer.dispose();
  model.dispose();
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack ?? e.message : e);
    process.exit(1);
  });
}
