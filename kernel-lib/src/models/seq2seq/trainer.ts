/**
 * Training the encoder-decoder on (source, target) text pairs: batches in a reshuffled-every-epoch order, padded
 * to the batch's longest row, teacher forcing (decoder input BOS + target, decoder output target + EOS), a
 * label-smoothed loss and Adam, one step per call of the shared training loop; and its checkpoints. Taught in
 * notebooks/03-encoder-decoder.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { EpochOrder } from "../../data/epoch-order";
import { Rng } from "../../runtime/random";
import { CheckpointError, disposeCheckpoint, loadCheckpoint, saveCheckpoint } from "../../train/checkpoint";
import { EncoderDecoder, Seq2SeqConfig } from "./encoder-decoder";
import { padBatch, Seq2SeqVocab } from "./vocab";
import { fusedAdam } from "../../train/fused-adam";

export interface Seq2SeqTrainerOptions {
  /** Pairs per step. Default 64. */
  batchSize?: number;
  /** Adam's learning rate. Default 1e-3. */
  learningRate?: number;
  /** Label smoothing ε. Default 0.1 (Vaswani et al. 2017, §5.4). */
  labelSmoothing?: number;
  /** Shuffles the batches. */
  rng: Rng;
}

export class Seq2SeqTrainer {
  readonly optimizer: tf.Optimizer;
  readonly stepsPerEpoch: number;
  private readonly src: number[][];
  private readonly tgt: number[][];
  private readonly batches: EpochOrder;
  private readonly batchSize: number;
  private readonly labelSmoothing: number;

  constructor(
    readonly model: EncoderDecoder,
    pairs: { source: string; target: string }[],
    vocabs: { source: Seq2SeqVocab; target: Seq2SeqVocab },
    options: Seq2SeqTrainerOptions,
  ) {
    this.batchSize = options.batchSize ?? 64;
    this.src = pairs.map((p) => vocabs.source.encode(p.source));
    this.tgt = pairs.map((p) => vocabs.target.encode(p.target));
    const longest = (rows: number[][]) => Math.max(...rows.map((r) => r.length));
    if (longest(this.src) > model.config.maxSrcLen || longest(this.tgt) + 1 > model.config.maxTgtLen) {
      throw new RangeError(`Seq2SeqTrainer: sources up to ${longest(this.src)} and targets up to ${longest(this.tgt) + 1} tokens do not fit maxSrcLen ${model.config.maxSrcLen} / maxTgtLen ${model.config.maxTgtLen}`);
    }
    this.stepsPerEpoch = Math.floor(pairs.length / this.batchSize);
    this.labelSmoothing = options.labelSmoothing ?? 0.1;
    this.optimizer = fusedAdam(options.learningRate ?? 1e-3);
    this.batches = new EpochOrder(pairs.length, this.batchSize, options.rng);
  }

  /** One step: returns { loss } (the batch's smoothed loss before the update). */
  step(): { loss: tf.Scalar } {
    const idx = this.batches.next();
    const src = padBatch(idx.map((i) => this.src[i]!));
    const tin = padBatch(idx.map((i) => [1, ...this.tgt[i]!]));
    const tout = padBatch(idx.map((i) => [...this.tgt[i]!, 2]));
    const tensors = [tf.tensor2d(src.ids, src.shape, "int32"), tf.tensor2d(tin.ids, tin.shape, "int32"), tf.tensor2d(tout.ids, tout.shape, "int32")] as const;
    try {
      const loss = this.optimizer.minimize(() => this.model.loss(tensors[0], tensors[1], tensors[2], this.labelSmoothing), true, Object.values(this.model.variables())) as tf.Scalar;
      return { loss };
    } finally {
      tf.dispose([...tensors]);
    }
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/** The checkpoint kind of an {@link EncoderDecoder}. */
export const SEQ2SEQ_KIND = "seq2seq";

/** Saves the model, its vocabularies and `extra` atomically. */
export async function saveSeq2Seq(file: string, model: EncoderDecoder, vocabs: { source: Seq2SeqVocab; target: Seq2SeqVocab }, step: number, extra: Record<string, unknown> = {}): Promise<void> {
  await saveCheckpoint(file, { kind: SEQ2SEQ_KIND, config: model.config, step, weights: model.variables(), extra: { ...extra, vocabs: { source: vocabs.source.chars, target: vocabs.target.chars } } });
}

/** Loads a checkpoint written by {@link saveSeq2Seq}. The caller disposes the model. */
export function loadSeq2Seq(file: string): { model: EncoderDecoder; vocabs: { source: Seq2SeqVocab; target: Seq2SeqVocab }; step: number; extra: Record<string, unknown> } {
  const ckpt = loadCheckpoint(file, { kind: SEQ2SEQ_KIND });
  let model: EncoderDecoder | null = null;
  try {
    const v = ckpt.extra?.["vocabs"] as { source?: unknown; target?: unknown } | undefined;
    if (typeof v?.source !== "string" || typeof v?.target !== "string") throw new Error("its extra lacks the vocabularies");
    model = new EncoderDecoder(ckpt.config as Seq2SeqConfig, new Rng(0));
    const vars = model.variables();
    for (const [k, w] of Object.entries(vars)) {
      const saved = ckpt.weights[k];
      if (!saved || saved.shape.join(",") !== w.shape.join(",")) throw new Error(`weight ${k} is missing or has another shape`);
      w.assign(saved);
    }
    return { model, vocabs: { source: new Seq2SeqVocab(v.source), target: new Seq2SeqVocab(v.target) }, step: ckpt.step, extra: ckpt.extra ?? {} };
  } catch (e) {
    model?.dispose();
    throw new CheckpointError(file, `does not hold a usable encoder-decoder (${(e as Error).message})`);
  } finally {
    disposeCheckpoint(ckpt);
  }
}
