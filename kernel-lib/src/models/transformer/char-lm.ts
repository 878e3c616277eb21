/**
 * Training, evaluating, saving and loading the character language model ({@link CharGPT}) on a text:
 * the same code runs in notebooks/02-transformer.ipynb (quick and full mode) and in
 * scripts/train-char-gpt.ts, which makes the shipped checkpoint. Taught in notebooks/02-transformer.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { evaluateLoss, randomBatch, splitTrainVal } from "../../data/text";
import { CharGPT, CharGPTConfig } from "./char-gpt";
import { CharTokenizer, Tokenizer } from "./tokenizer";
import { Rng, rng as globalRng } from "../../runtime/random";
import { Checkpoint, CheckpointError, loadCheckpoint, saveCheckpoint } from "../../train/checkpoint";
import { TrainResult, train } from "../../train/train";
import { fusedAdam } from "../../train/fused-adam";

/** The checkpoint kind of a {@link CharGPT}. */
export const CHAR_GPT_KIND = "char-gpt";

export interface CharGPTTrainOptions {
  /** Optimisation steps. */
  steps: number;
  /** Windows per batch. Default 12. */
  batchSize?: number;
  /** Adam learning rate. Default 1e-3. */
  learningRate?: number;
  /**
   * Decoupled weight decay (AdamW, Loshchilov & Hutter 2019) on the matrices (not on biases, norms or
   * embeddings, as nanoGPT). Default 0.01 (PyTorch's AdamW default).
   */
  weightDecay?: number;
  /** Linear learning-rate warm-up over this many steps (Goyal et al. 2017). Default 0 (none). */
  warmupSteps?: number;
  /**
   * After the warm-up: "constant", or "cosine" decay to `minLearningRate` at the last step (Loshchilov and Hutter
   * 2017, SGDR, without restarts). Default "constant".
   */
  schedule?: "constant" | "cosine";
  /** Where the cosine decay ends. Default learningRate / 10 (as nanoGPT). */
  minLearningRate?: number;
  /** Clip the gradient to this global L2 norm over all parameters (Pascanu et al. 2013). Default: no clipping. */
  clipNorm?: number;
  /** Dropout rate on the embeddings and the residual branches while training (Vaswani et al. §5.4). Default 0. */
  dropout?: number;
  /** Steps between validation passes. Default: a tenth of the run. */
  evalEvery?: number;
  /**
   * Validation characters read at each periodic evaluation (from the start of the validation split).
   * The final evaluation always reads all of it. Default 8192.
   */
  evalChars?: number;
  /**
   * Validation characters read by the final evaluation. Default: all of the validation split (what the
   * lesson's numbers mean); a quick demonstration may read fewer.
   */
  finalEvalChars?: number;
  /** Draws the batch offsets. Default: the lesson-wide generator. */
  rng?: Rng;
  /** Title of the progress display. */
  title?: string;
  /** Show the progress display. Default true. */
  progress?: boolean;
  /** Periodic checkpoints to this file (atomic), every `checkpointEvery` steps and at the end. */
  checkpointPath?: string;
  checkpointEvery?: number;
  /** Extra JSON stored in the checkpoint (what data, which script). */
  checkpointExtra?: Record<string, unknown>;
  /** Steps already taken by the model (when resuming). Default 0. */
  startStep?: number;
  /** Training seconds already spent on the model (when resuming), added to `trainedSeconds` in checkpoints. */
  previousSeconds?: number;
}

export interface CharGPTTrainResult extends TrainResult {
  /** Mean cross-entropy over the validation split after training (nats per character): all of it unless `finalEvalChars`. */
  valLoss: number;
  /** Characters predicted by that final evaluation. */
  valChars: number;
  /** Seconds per optimisation step (training only, evaluation excluded). */
  secondsPerStep: number;
}

/** The matrices that get weight decay: 2-D weights except the embedding tables. */
function decayed(model: CharGPT): tf.Variable[] {
  return Object.entries(model.variables())
    .filter(([name, v]) => v.rank === 2 && name !== "tokEmb" && name !== "posEmb")
    .map(([, v]) => v);
}

/** The learning rate at step `step` (0-based) of `total`: linear warm-up, then constant or cosine decay. */
export function learningRateAt(step: number, total: number, o: { learningRate: number; warmupSteps?: number; schedule?: "constant" | "cosine"; minLearningRate?: number }): number {
  const warm = o.warmupSteps ?? 0;
  if (step < warm) return (o.learningRate * (step + 1)) / warm;
  if ((o.schedule ?? "constant") === "constant") return o.learningRate;
  const min = o.minLearningRate ?? o.learningRate / 10;
  const progress = total - 1 > warm ? Math.min(1, (step - warm) / (total - 1 - warm)) : 1;
  return min + 0.5 * (o.learningRate - min) * (1 + Math.cos(Math.PI * progress));
}

/** Scales gradients so their global L2 norm is at most `maxNorm`; returns the norm before clipping. */
export function clipByGlobalNorm(grads: tf.NamedTensorMap, maxNorm: number): { grads: tf.NamedTensorMap; norm: number } {
  const norm = Math.sqrt(tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))).dataSync()[0]!));
  if (!(norm > maxNorm)) return { grads, norm };
  const scale = maxNorm / norm;
  return { grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)])), norm };
}

/**
 * One AdamW step on a batch: Adam on the loss's gradient (clipped to `clipNorm` when given; `dropout` while
 * computing it), then w <- w - lr * weightDecay * w on the matrices. Returns the batch loss (the caller disposes
 * it); everything else is disposed here.
 */
export function charGPTStep(
  model: CharGPT,
  optimizer: tf.Optimizer,
  x: tf.Tensor,
  y: tf.Tensor,
  learningRate: number,
  weightDecay: number,
  extras: { clipNorm?: number; dropout?: { rate: number; seed: number } } = {},
): tf.Scalar {
  // Adam reads its learning rate on every update, so a schedule can set it step by step.
  (optimizer as unknown as { learningRate: number }).learningRate = learningRate;
  let loss: tf.Scalar;
  if (extras.clipNorm === undefined) {
    loss = optimizer.minimize(() => model.loss(x, y, extras.dropout), true, Object.values(model.variables())) as tf.Scalar;
  } else {
    const { value, grads } = tf.variableGrads(() => model.loss(x, y, extras.dropout), Object.values(model.variables()));
    const clipped = clipByGlobalNorm(grads, extras.clipNorm);
    optimizer.applyGradients(clipped.grads);
    tf.dispose([...Object.values(grads), ...(clipped.grads === grads ? [] : Object.values(clipped.grads))]);
    loss = value;
  }
  if (weightDecay > 0) {
    tf.tidy(() => {
      for (const v of decayed(model)) v.assign(tf.mul(v, 1 - learningRate * weightDecay));
    });
  }
  return loss;
}

/** Mean cross-entropy of the model over all of `ids` (see {@link evaluateLoss}). */
export function charGPTLoss(model: CharGPT, ids: Int32Array, batchSize = 64): Promise<number> {
  return evaluateLoss(ids, model.config.contextLength, (x, y) => model.loss(x, y), batchSize);
}

/** Builds the checkpoint of a model and its tokenizer (weights are read, not copied or disposed). */
export function charGPTCheckpoint(model: CharGPT, tokenizer: Tokenizer, step: number, extra: Record<string, unknown> = {}): Checkpoint {
  return { kind: CHAR_GPT_KIND, config: model.config, step, weights: model.variables(), extra: { ...extra, tokenizer: tokenizer.toJSON() } };
}

/** Saves model + tokenizer + step + extra atomically (see checkpoint.ts). */
export async function saveCharGPT(file: string, model: CharGPT, tokenizer: CharTokenizer, step: number, extra: Record<string, unknown> = {}): Promise<void> {
  await saveCheckpoint(file, charGPTCheckpoint(model, tokenizer, step, extra));
}

export interface LoadedCharGPT {
  model: CharGPT;
  tokenizer: CharTokenizer;
  step: number;
  extra: Record<string, unknown>;
}

/**
 * Loads a {@link CharGPT} checkpoint: checks its kind, its SHA-256 and (when given) that its config
 * equals `config`, then builds the model and copies the weights in. Throws CheckpointError otherwise.
 */
export function loadCharGPT(file: string, config?: CharGPTConfig): LoadedCharGPT {
  const ckpt = loadCheckpoint(file, { kind: CHAR_GPT_KIND, ...(config ? { config: { dFF: 4 * config.dModel, positional: "learned", ...config } } : {}) });
  // Each step names the checkpoint field it reads when that field cannot be used.
  let field = "extra.tokenizer";
  try {
    const tokenizer = CharTokenizer.fromJSON(ckpt.extra?.["tokenizer"]);
    field = "config";
    // The seed only fills the variables before the checkpoint's weights overwrite them.
    const model = new CharGPT(ckpt.config as CharGPTConfig, new Rng(0));
    try {
      field = "tensors";
      model.setWeights(ckpt.weights);
    } catch (e) {
      model.dispose();
      throw e;
    }
    const { tokenizer: _t, ...extra } = ckpt.extra ?? {};
    return { model, tokenizer, step: ckpt.step, extra };
  } catch (e) {
    throw e instanceof CheckpointError ? e : new CheckpointError(file, `${field} does not fit a CharGPT (${(e as Error).message})`);
  } finally {
    tf.dispose(Object.values(ckpt.weights));
  }
}

/**
 * Trains `model` on the first 90% of `text` and evaluates on the last 10%, with the shared training loop
 * (progress display, live chart, stop on interrupt, tensor count checked flat, atomic checkpoints).
 * The final validation loss covers the whole validation split unless `finalEvalChars` says otherwise.
 */
export async function trainCharGPT(model: CharGPT, tokenizer: Tokenizer, text: string, options: CharGPTTrainOptions): Promise<CharGPTTrainResult> {
  const { batchSize = 12, learningRate = 1e-3, weightDecay = 0.01, evalChars = 8192 } = options;
  const r = options.rng ?? globalRng();
  const { train: trainIds, val: valIds } = splitTrainVal(tokenizer.encode(text), 0.9);
  const T = model.config.contextLength;
  const optimizer = fusedAdam(learningRate);
  const valProbe = valIds.subarray(0, Math.min(valIds.length, evalChars + 1));
  let stepSeconds = 0;
  let stepsTimed = 0;
  const startStep = options.startStep ?? 0;
  const started = performance.now();
  try {
    const result = await train({
      steps: startStep + options.steps,
      startStep,
      title: options.title ?? "char-gpt",
      progress: options.progress,
      evalEvery: options.evalEvery,
      step: (stepIndex: number) => {
        const t0 = performance.now();
        const { x, y } = randomBatch(trainIds, batchSize, T, r);
        const lr = learningRateAt(stepIndex - startStep, options.steps, { learningRate, ...options });
        const dropout = options.dropout ? { rate: options.dropout, seed: r.seed() } : undefined;
        const loss = charGPTStep(model, optimizer, x, y, lr, weightDecay, { ...(options.clipNorm !== undefined ? { clipNorm: options.clipNorm } : {}), ...(dropout ? { dropout } : {}) });
        tf.dispose([x, y]);
        // Reading the loss waits for the step to finish, so the timing covers the whole step.
        loss.dataSync();
        stepSeconds += (performance.now() - t0) / 1000;
        stepsTimed += 1;
        return loss;
      },
      evaluate: async () => ({ val: await charGPTLoss(model, valProbe) }),
      chart: ["loss", "val"],
      ...(options.checkpointPath
        ? {
            checkpoint: {
              path: options.checkpointPath,
              every: options.checkpointEvery,
              make: (stepsDone: number) =>
                charGPTCheckpoint(model, tokenizer, stepsDone, {
                  ...options.checkpointExtra,
                  partial: true,
                  trainedSeconds: (options.previousSeconds ?? 0) + (performance.now() - started) / 1000,
                }),
            },
          }
        : {}),
    });
    const finalIds = options.finalEvalChars ? valIds.subarray(0, Math.min(valIds.length, options.finalEvalChars + 1)) : valIds;
    const valLoss = await charGPTLoss(model, finalIds);
    return { ...result, valLoss, valChars: finalIds.length - 1, secondsPerStep: stepsTimed ? stepSeconds / stepsTimed : NaN };
  } finally {
    optimizer.dispose();
  }
}
