/**
 * The training loop every lesson uses: steps, periodic evaluation, the in-place progress display with a
 * live loss chart, stop on interrupt between steps, the tensor count checked flat, periodic atomic
 * checkpoints. The model-specific work is the `step` callback. Taught in notebooks/02-transformer.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { interruptRequested } from "../notebook/display";
import { Progress } from "../notebook/progress";
import { eventLoopTurns } from "../runtime/event-loop";
import { Checkpoint, saveCheckpoint } from "./checkpoint";

export type Losses = tf.Scalar | Record<string, tf.Scalar>;

export interface TrainOptions {
  /** Index of the last step + 1: the loop runs steps startStep..steps-1. */
  steps: number;
  /**
   * One optimisation step (0-based index). Returns the loss, or named losses, as scalars: the loop reads
   * and disposes them. Everything else the step makes must be disposed (use tf.tidy / optimizer.minimize).
   */
  step: (i: number) => Losses | Promise<Losses>;
  /** Evaluation, returning named numbers (e.g. { val: 1.62 }); run every `evalEvery` steps and after the last. */
  evaluate?: (i: number) => Record<string, number> | Promise<Record<string, number>>;
  /** Steps between evaluations. Default: a tenth of the run (at least 1). */
  evalEvery?: number;
  /** First step to run (to resume from a checkpoint). Default 0. */
  startStep?: number;
  /** Title of the progress display. Default "training". */
  title?: string;
  /** Show the progress display. Default true. */
  progress?: boolean;
  /** Metrics to draw on the live chart. Default: all. */
  chart?: string[];
  /** Logarithmic y axis on the live chart (for terms of different sizes, like a VAE's). Default false. */
  logY?: boolean;
  /** Throw if the tensor count grows from one step to the next. Default true. */
  checkLeaks?: boolean;
  /** Periodic checkpoints (also written when the run is interrupted and at the end). */
  checkpoint?: { path: string; every?: number; make: (stepsDone: number) => Checkpoint | Promise<Checkpoint> };
  /** Called after every step with the step's numbers. */
  onStep?: (i: number, metrics: Record<string, number>) => void;
}

export interface TrainResult {
  /** Steps completed (the next step index to run). */
  stepsDone: number;
  /** True when the user interrupted the kernel and the loop stopped between steps. */
  interrupted: boolean;
  seconds: number;
  /** Every recorded number by name, as (step, value) pairs; `step` is the 1-based count of steps done. */
  history: Record<string, { step: number; value: number }[]>;
  /** The last value of each number. */
  last: Record<string, number>;
}

/** Raised when a step leaks tensors. */
export class LeakError extends Error {
  constructor(step: number, before: number, after: number) {
    super(`training step ${step} leaked tensors: tf.memory().numTensors went from ${before} to ${after}; dispose what the step creates (tf.tidy)`);
    this.name = "LeakError";
  }
}

async function readLosses(losses: Losses): Promise<Record<string, number>> {
  const named: Record<string, tf.Scalar> = losses instanceof tf.Tensor ? { loss: losses } : losses;
  const out: Record<string, number> = {};
  try {
    for (const [k, t] of Object.entries(named)) {
      if (t.size !== 1) throw new RangeError(`training step returned "${k}" with shape [${t.shape.join(", ")}]; a loss must be a scalar`);
      out[k] = (await t.data())[0]!;
    }
  } finally {
    tf.dispose(Object.values(named));
  }
  return out;
}

/** Runs the loop described by {@link TrainOptions}. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const start = options.startStep ?? 0;
  const total = options.steps;
  if (!Number.isInteger(total) || total < start) throw new RangeError(`train: steps (${total}) must be an integer >= startStep (${start})`);
  const evalEvery = Math.max(1, options.evalEvery ?? Math.ceil((total - start) / 10));
  const checkLeaks = options.checkLeaks ?? true;
  const progress = options.progress === false ? null : new Progress({ total, title: options.title ?? "training", chart: options.chart, logY: options.logY });
  const history: TrainResult["history"] = {};
  const last: Record<string, number> = {};
  const record = (step: number, metrics: Record<string, number>) => {
    for (const [k, v] of Object.entries(metrics)) {
      (history[k] ??= []).push({ step, value: v });
      last[k] = v;
    }
  };
  const t0 = Date.now();
  let baseline: number | null = null;
  let done = start;
  let interrupted = false;
  const ckpt = options.checkpoint;
  const writeCheckpoint = async () => {
    if (ckpt) await saveCheckpoint(ckpt.path, await ckpt.make(done));
  };
  // Signals, interrupts and display updates need the event loop (see event-loop.ts).
  const turn = eventLoopTurns();
  for (let i = start; i < total; i++) {
    await turn();
    if (interruptRequested()) {
      interrupted = true;
      break;
    }
    const metrics = await readLosses(await options.step(i));
    for (const [k, v] of Object.entries(metrics)) {
      if (!Number.isFinite(v)) throw new Error(`training diverged: ${k} is ${v} at step ${i + 1}; try a smaller learning rate`);
    }
    done = i + 1;
    if (done % evalEvery === 0 || done === total) {
      if (options.evaluate) Object.assign(metrics, await options.evaluate(i));
    }
    record(done, metrics);
    progress?.update(done, metrics);
    options.onStep?.(i, metrics);
    if (checkLeaks) {
      // The first step creates optimizer slots; from then on the count must stay flat.
      const n = tf.memory().numTensors;
      if (baseline === null) baseline = n;
      else if (n !== baseline) throw new LeakError(done, baseline, n);
    }
    if (ckpt?.every && done % ckpt.every === 0 && done !== total) await writeCheckpoint();
  }
  if (ckpt && done > start) await writeCheckpoint();
  await progress?.finish();
  if (interrupted) console.log(`${options.title ?? "training"}: interrupted after step ${done}; the model keeps its weights, run the cell again to continue`);
  return { stepsDone: done, interrupted, seconds: (Date.now() - t0) / 1000, history, last };
}
