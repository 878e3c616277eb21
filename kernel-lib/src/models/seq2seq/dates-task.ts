/**
 * The date task as one piece: its vocabularies, the model's size, the shipped splits as (source, target) text
 * pairs, teacher-forced batches, decoding to text and exact match (greedy or beam), and the training run that
 * both the lesson's full mode and scripts/train-seq2seq.ts use (Seq2SeqTrainer steps in the shared loop, the greedy
 * exact match on validation pairs every epoch). Taught in notebooks/03-encoder-decoder.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { DATE_SPLITS, loadDates } from "../../data/dates";
import { Rng } from "../../runtime/random";
import { train, TrainResult } from "../../train/train";
import { beamDecode, exactMatch, greedyDecode } from "./decode";
import { EncoderDecoder, Seq2SeqConfig } from "./encoder-decoder";
import { Seq2SeqTrainer } from "./trainer";
import { BOS, EOS, padBatch, Seq2SeqVocab } from "./vocab";

/** A (source, target) pair of texts. */
export interface TextPair {
  source: string;
  target: string;
}

/** The source and target vocabularies of a pair of texts. */
export interface Seq2SeqVocabs {
  source: Seq2SeqVocab;
  target: Seq2SeqVocab;
}

/** The task's vocabularies: lower-case words with spaces, commas and hyphens in; digits and hyphens out. */
export const DATE_VOCABS: Seq2SeqVocabs = { source: new Seq2SeqVocab("abcdefghijklmnopqrstuvwxyz ,-"), target: new Seq2SeqVocab("0123456789-") };

/** The date model's config: the shipped checkpoint's defaults (d 128, 4 heads, 2 + 2 layers). */
export function dateSeq2SeqConfig(options: { dModel?: number; numHeads?: number; layers?: number } = {}): Seq2SeqConfig {
  const layers = options.layers ?? 2;
  return {
    srcVocab: DATE_VOCABS.source.size,
    tgtVocab: DATE_VOCABS.target.size,
    maxSrcLen: 64, // the longest phrasing is under 60 characters
    maxTgtLen: 12, // BOS + YYYY-MM-DD + EOS
    dModel: options.dModel ?? 128,
    numHeads: options.numHeads ?? 4,
    encoderLayers: layers,
    decoderLayers: layers,
  };
}

/** A shipped split (datasets/dates/) as text pairs: the words in, the ISO date out. */
export function dateTextPairs(split: keyof typeof DATE_SPLITS): TextPair[] {
  return loadDates(split).map((p) => ({ source: p.words, target: p.iso }));
}

/**
 * Teacher forcing: the padded source ids, the decoder's input BOS + target and its output target + EOS, each
 * (B, T) int32 (PAD = 0). The caller disposes them.
 */
export function teacherForcedBatch(vocabs: Seq2SeqVocabs, pairs: TextPair[]): { src: tf.Tensor2D; tgtIn: tf.Tensor2D; tgtOut: tf.Tensor2D } {
  const tgt = pairs.map((p) => vocabs.target.encode(p.target));
  const t = (rows: number[][]) => {
    const { ids, shape } = padBatch(rows);
    return tf.tensor2d(ids, shape, "int32");
  };
  return { src: t(pairs.map((p) => vocabs.source.encode(p.source))), tgtIn: t(tgt.map((r) => [BOS, ...r])), tgtOut: t(tgt.map((r) => [...r, EOS])) };
}

/**
 * The teacher-forced logits of `pairs` as plain numbers, (B, T, V), with the decoder's output ids (B, T) they are
 * scored against, and, with `withCross`, the last decoder block's cross-attention weights (B, h, T, S).
 */
export function teacherForcedLogits(
  model: EncoderDecoder,
  vocabs: Seq2SeqVocabs,
  pairs: TextPair[],
  options: { withCross?: boolean; causal?: boolean } = {},
): { logits: number[][][]; targets: number[][]; cross?: number[][][][] } {
  const b = teacherForcedBatch(vocabs, pairs);
  try {
    return tf.tidy(() => {
      const mask = model.sourceMask(b.src);
      const { logits, cross } = model.decode(model.encode(b.src, mask), mask, b.tgtIn, options);
      const last = cross[cross.length - 1];
      const out = { logits: logits.arraySync() as number[][][], targets: b.tgtOut.arraySync() };
      return last ? { ...out, cross: last.arraySync() as number[][][][] } : out;
    });
  } finally {
    tf.dispose([b.src, b.tgtIn, b.tgtOut]);
  }
}

/** Decodes sources to text: greedy in batches of `batch` (default 500), or beam search of width `beam` one by one. */
export function decodeTexts(model: EncoderDecoder, vocabs: Seq2SeqVocabs, sources: string[], options: { beam?: number; batch?: number } = {}): string[] {
  const ids = sources.map((s) => vocabs.source.encode(s));
  if (options.beam !== undefined) return ids.map((s) => vocabs.target.decode(beamDecode(model, s, options.beam).ids));
  const batch = options.batch ?? 500;
  const out: string[] = [];
  for (let i = 0; i < ids.length; i += batch) out.push(...greedyDecode(model, ids.slice(i, i + batch)).map((r) => vocabs.target.decode(r)));
  return out;
}

/** The exact-match accuracy of greedy decoding (or beam search of width `beam`) on `pairs`. */
export function exactMatchOf(model: EncoderDecoder, vocabs: Seq2SeqVocabs, pairs: TextPair[], options: { beam?: number } = {}): number {
  return exactMatch(decodeTexts(model, vocabs, pairs.map((p) => p.source), options), pairs.map((p) => p.target));
}

export interface TrainSeq2SeqOptions {
  /** Steps to run; default `epochs` passes over the pairs. */
  steps?: number;
  /** Passes over the training pairs when `steps` is not given. Default 6. */
  epochs?: number;
  /** Pairs per step (64), Adam's learning rate (1e-3), label smoothing ε (0.1): Seq2SeqTrainer's defaults. */
  batchSize?: number;
  learningRate?: number;
  labelSmoothing?: number;
  /** Pairs scored by greedy exact match at each evaluation. */
  evalPairs: TextPair[];
  /** Steps between evaluations. Default one epoch (or the whole run, if shorter). */
  evalEvery?: number;
  /** Shuffles the batches. */
  rng: Rng;
  /** Progress display title; `progress: false` hides it (scripts). */
  title?: string;
  progress?: boolean;
  /** Called after each evaluation (scripts print it). */
  onEval?: (e: { step: number; valExactMatch: number; seconds: number }) => void;
}

/** Trains `model` in place (see the file comment); returns the loop's result and the evaluations. */
export async function trainSeq2Seq(
  model: EncoderDecoder,
  pairs: TextPair[],
  vocabs: Seq2SeqVocabs,
  options: TrainSeq2SeqOptions,
): Promise<TrainResult & { evaluations: { step: number; valExactMatch: number; seconds: number }[] }> {
  const { batchSize, learningRate, labelSmoothing, rng } = options;
  const trainer = new Seq2SeqTrainer(model, pairs, vocabs, { batchSize, learningRate, labelSmoothing, rng });
  const steps = options.steps ?? (options.epochs ?? 6) * trainer.stepsPerEpoch;
  const evaluations: { step: number; valExactMatch: number; seconds: number }[] = [];
  const t0 = Date.now();
  try {
    const result = await train({
      steps,
      title: options.title ?? "encoder-decoder",
      progress: options.progress,
      step: () => trainer.step(),
      evalEvery: options.evalEvery ?? Math.min(steps, trainer.stepsPerEpoch),
      chart: ["loss"],
      evaluate: (i) => {
        const e = { step: i + 1, valExactMatch: exactMatchOf(model, vocabs, options.evalPairs), seconds: (Date.now() - t0) / 1000 };
        evaluations.push(e);
        options.onEval?.(e);
        return { "val exact match": e.valExactMatch };
      },
    });
    return { ...result, evaluations };
  } finally {
    trainer.dispose();
  }
}
