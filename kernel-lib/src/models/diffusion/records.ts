/**
 * The training records scripts/train-diffusion.ts writes into its checkpoints (the `extra` of the ring, image
 * and U-Net models of notebooks/06-diffusion.ipynb), and the one line a lesson prints for each: the command as a
 * learner would type it (learnerCommand), steps, time and the backend in short (the lesson's setup cell prints
 * the full backend banner once).
 */
import { learnerCommand, shortBackend } from "../../notebook/records";

/** What every diffusion checkpoint of scripts/train-diffusion.ts records about its training. */
export interface DiffusionTrainingRecord {
  steps: number;
  /** Training time without evaluations, in seconds, and per step in milliseconds. */
  trainSeconds: number;
  stepMs: number;
  /** Examples per step (absent in older records). */
  batchSize?: number;
  backend: string;
  /** Seed of the samples (ring) or of the timesteps and noise (images) the record was measured with. */
  evalSeed: number;
  /** The command that made the checkpoint. */
  madeBy: string;
  machine?: { cpus: number; model?: string };
  data?: { source?: string; train?: number; scale?: number };
}

/** Modes covered and high-quality share of one sampler's 2,500 samples. */
export interface RingCoverageRecord {
  modes: number;
  quality: number;
}

/** The ring model's record: coverage by sampler at the end, and when the target was first reached. */
export interface RingDiffusionRecord extends DiffusionTrainingRecord {
  data: { scale: number };
  final: { coverage: Record<string, RingCoverageRecord> };
  /** Per sampler: the first evaluation with 8/8 modes and >= 90% within 3 std (null when none reached it). */
  reachedTarget: Record<string, { step: number; trainSeconds: number }> | null;
}

/** An image model's record: the test loss L_simple at the end (and at each evaluation). */
export interface FashionDiffusionRecord extends DiffusionTrainingRecord {
  data: { source: string; train: number };
  final: { testLoss: number };
  history?: { step: number; testLoss: number }[];
}

/**
 * One line on how a checkpoint was made: "scripts/train-diffusion.ts --data ring ...: 3000 steps of 512 on
 * 60,000 full images in 63 s of training (21.1 ms/step, wasm+native [...], 2 CPUs)".
 */
export function describeTraining(record: DiffusionTrainingRecord): string {
  for (const k of ["steps", "trainSeconds", "stepMs"] as const) {
    if (typeof record?.[k] !== "number") throw new TypeError(`describeTraining: the record has no number "${k}"`);
  }
  if (typeof record.madeBy !== "string") throw new TypeError('describeTraining: the record has no command "madeBy"');
  const batch = record.batchSize ? ` of ${record.batchSize}` : "";
  const images = record.data?.train ? ` on ${record.data.train.toLocaleString("en-US")} ${record.data.source ?? ""} images`.replace("  ", " ") : "";
  const where = [`${record.stepMs} ms/step`, shortBackend(record.backend ?? "unknown"), ...(record.machine ? [`${record.machine.cpus} CPUs`] : [])];
  return `${learnerCommand(record.madeBy)}: ${record.steps} steps${batch}${images} in ${record.trainSeconds} s of training (${where.join(", ")})`;
}

/** When the ring model first reached the lesson's target (8/8 modes, >= 90% within 3 std) with `sampler`. */
export function describeRingTarget(record: RingDiffusionRecord, sampler = "ddpm-posterior"): string {
  const at = record.reachedTarget?.[sampler];
  if (!at) return `the training run did not reach the target (8/8 modes, >= 90% within 3 std) with ${sampler}`;
  return `target (8/8 modes, >= 90% within 3 std) first reached at step ${at.step}, after ${at.trainSeconds} s of training`;
}
