/**
 * What the diffusion trainer, the loss and the samplers need of a denoiser eps_theta(x_t, t[, y]): the MLP of
 * notebooks/06-diffusion.ipynb (denoiser-mlp.ts) and the U-Net (unet.ts) both provide it.
 */
import * as tf from "@tensorflow/tfjs";
import { NoiseSchedule } from "./schedules";
import { Checkpoint } from "../../train/checkpoint";

export interface Denoiser {
  /** Numbers per example (784 for a 28x28 image) and classes (0: unconditional; class `numClasses` is "none"). */
  readonly config: { readonly dataDim: number; readonly numClasses: number };
  /** Trainable variables, for an optimizer's var list. */
  readonly variables: tf.Variable[];
  /** The weights by checkpoint name. Not copies: do not dispose them. */
  weights(): Record<string, tf.Variable>;
  /** The predicted noise for x_t (B, dataDim) at timesteps t (one, or one per row), (B, dataDim). */
  predictNoise(x: tf.Tensor, t: number | ArrayLike<number>, labels?: ArrayLike<number> | null): tf.Tensor2D;
  /** A new denoiser of the same architecture (its weights are to be overwritten, e.g. by copyFrom). */
  fresh(): Denoiser;
  /** Copies another denoiser's weights (same architecture) into this one. */
  copyFrom(other: Denoiser): void;
  parameterCount(): number;
  /** A checkpoint of the denoiser with the name and length of its schedule. */
  toCheckpoint(schedule: NoiseSchedule, step: number, extra?: Record<string, unknown>): Checkpoint;
  /** Writes that checkpoint atomically. */
  save(file: string, schedule: NoiseSchedule, step: number, extra?: Record<string, unknown>): Promise<void>;
  dispose(): void;
}
