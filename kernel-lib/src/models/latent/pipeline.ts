/**
 * Latent diffusion end to end (Rombach et al. 2022, section 3): images -> scaled latents z = s · E(x) for
 * training, and sampling in latent space followed by the decoder, x = D(z / s). Taught in
 * notebooks/07-latent-diffusion.ipynb; scripts/train-latent-diffusion.ts runs the same code.
 */
import * as tf from "@tensorflow/tfjs";
import { LatentAutoencoder } from "./autoencoder";
import { LATENT_UNET_CHECKPOINT_KIND, LatentUNet, LatentUNetConfig } from "./latent-unet";
import { Denoiser } from "../diffusion/denoiser";
import { ddimSample, ddpmSample } from "../diffusion/samplers";
import { NoiseSchedule, noiseSchedule, ScheduleKind } from "../diffusion/schedules";
import { CheckpointError, disposeCheckpoint, loadCheckpoint } from "../../train/checkpoint";
import { Rng } from "../../runtime/random";

/** The encoder's means times the scale factor, (N, 49C), in batches: the data the latent denoiser trains on. */
export function encodeLatents(ae: LatentAutoencoder, images: tf.Tensor, scale: number, batchSize = 500): tf.Tensor2D {
  const n = images.shape[0]!;
  const parts: tf.Tensor[] = [];
  for (let start = 0; start < n; start += batchSize) {
    parts.push(tf.tidy(() => {
      const { mean, logVar } = ae.encode(images.slice(start, Math.min(batchSize, n - start)));
      logVar.dispose();
      return tf.mul(mean, scale);
    }));
  }
  const out = tf.concat(parts) as tf.Tensor2D;
  tf.dispose(parts);
  return out;
}

/** Images (N, 28, 28) in [0, 1] from scaled latents: the decoder's pixel means sigmoid(D(z / s)). */
export function decodeLatents(ae: LatentAutoencoder, z: tf.Tensor, scale: number): tf.Tensor3D {
  return tf.tidy(() => tf.sigmoid(ae.decodeLogits(tf.div(z, scale))).reshape([-1, 28, 28]) as tf.Tensor3D);
}

/** How {@link sampleLatentImages} samples. */
export interface LatentSampleOptions {
  /** One class per image (numClasses for "no class"). */
  labels: ArrayLike<number>;
  /** Classifier-free guidance weight w: eps = (1 + w) eps(z, y) - w eps(z, none). Default 0. */
  guidance?: number;
  /** "ddim" (deterministic, `steps` steps; the default) or "ddpm" (ancestral, all T steps). */
  sampler?: "ddim" | "ddpm";
  /** DDIM steps. Default 50. */
  steps?: number;
  /** Seeds every batch (batch k uses seed + k). */
  seed: number;
  /** Images per batch. Default 500. */
  batchSize?: number;
}

/** Samples latents with a latent denoiser and decodes them: images (N, 28, 28) in [0, 1]. */
export function sampleLatentImages(ae: LatentAutoencoder, scale: number, model: Denoiser, schedule: NoiseSchedule, o: LatentSampleOptions): tf.Tensor3D {
  const labels = Array.from(o.labels);
  const batch = o.batchSize ?? 500;
  const parts: tf.Tensor[] = [];
  for (let start = 0, k = 0; start < labels.length; start += batch, k++) {
    const y = labels.slice(start, start + batch);
    const common = { n: y.length, seed: o.seed + k, labels: y, guidance: o.guidance ?? 0 };
    const { samples, trajectory } = o.sampler === "ddpm" ? ddpmSample(model, schedule, common) : ddimSample(model, schedule, { ...common, steps: o.steps ?? 50 });
    tf.dispose(trajectory.map((p) => p.x));
    parts.push(decodeLatents(ae, samples, scale));
    samples.dispose();
  }
  const out = tf.concat(parts) as tf.Tensor3D;
  tf.dispose(parts);
  return out;
}

/** `perClass` labels of each of `numClasses` classes: 0, 0, ..., 1, 1, ... */
export function classLabels(numClasses: number, perClass: number): number[] {
  return Array.from({ length: numClasses * perClass }, (_, i) => Math.floor(i / perClass));
}

/** Loads a latent U-Net written by {@link LatentUNet.save}, with its schedule. The caller disposes the model. */
export function loadLatentUNet(file: string): { model: LatentUNet; schedule: NoiseSchedule; step: number; extra: Record<string, unknown> } {
  const ckpt = loadCheckpoint(file, { kind: LATENT_UNET_CHECKPOINT_KIND });
  let model: LatentUNet | null = null;
  try {
    const saved = ckpt.config as { model: LatentUNetConfig; schedule: { kind: ScheduleKind; T: number } };
    if (saved.schedule.T !== saved.model.T) throw new Error(`the schedule has T = ${saved.schedule.T}, the U-Net ${saved.model.T}`);
    model = new LatentUNet(saved.model, new Rng(0));
    model.copyFrom({ weights: () => ckpt.weights as Record<string, tf.Variable> } as Denoiser);
    return { model, schedule: noiseSchedule(saved.schedule.kind, saved.schedule.T), step: ckpt.step, extra: ckpt.extra ?? {} };
  } catch (e) {
    model?.dispose();
    throw new CheckpointError(file, `does not hold a usable latent U-Net (${(e as Error).message})`);
  } finally {
    disposeCheckpoint(ckpt);
  }
}
