/**
 * The six shipped Fashion-MNIST image models behind one interface, so that every one is sampled and scored the
 * same way: the MLP and convolutional VAEs (notebooks/04-vae.ipynb), the MLP GAN and the DCGAN
 * (notebooks/05-gan.ipynb), the MLP and U-Net denoisers (notebooks/06-diffusion.ipynb). VAEs give their decoders'
 * pixel means, GANs their weight-averaged generators, the MLP denoiser DDPM ancestral samples (all T = 200 steps) and
 * the U-Net DDIM samples on 50 of the 200 steps (η = 0: in the shipped table a U-Net pass on 500 images took about 1.2 s against the MLP's 0.13 s, and
 * 10,000 ancestral samples would take over an hour on 2 cores), both with x̂₀ clipped to [-1, 1]. Every model draws
 * images (n, 28, 28) in [0, 1].
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { Denoiser } from "../diffusion/denoiser";
import { loadDiffusion } from "../diffusion/denoiser-mlp";
import { ddimSample, ddpmSample } from "../diffusion/samplers";
import { NoiseSchedule } from "../diffusion/schedules";
import { loadUNet } from "../diffusion/unet";
import { loadFashionGan } from "../gan/shipped";
import { loadConvVae } from "../vae/conv-vae";
import { loadVae } from "../vae/vae";

/** The shipped image models, in the order of the lessons. */
export const IMAGE_MODEL_NAMES = ["vae-latent20", "conv-vae-latent16", "gan-fashion", "gan-dcgan", "diffusion-fashion", "diffusion-fashion-unet"] as const;
export type ImageModelName = (typeof IMAGE_MODEL_NAMES)[number];

/** What each model is called in tables. */
export const IMAGE_MODEL_LABELS: Record<ImageModelName, string> = {
  "vae-latent20": "MLP VAE (latent 20)",
  "conv-vae-latent16": "conv VAE (latent 16)",
  "gan-fashion": "MLP GAN",
  "gan-dcgan": "DCGAN",
  "diffusion-fashion": "MLP diffusion",
  "diffusion-fashion-unet": "U-Net diffusion (DDIM, 50 steps)",
};

/** A loaded image model: `draw(n, seed)` gives n images (n, 28, 28) in [0, 1]; `dispose` frees its weights. */
export interface ImageModel {
  readonly name: ImageModelName;
  readonly label: string;
  draw(n: number, seed: number): tf.Tensor3D;
  dispose(): void;
}

const toImages = (x: tf.Tensor, signed: boolean): tf.Tensor3D =>
  tf.tidy(() => tf.clipByValue(signed ? tf.div(tf.add(x, 1), 2) : x, 0, 1).reshape([-1, 28, 28]) as tf.Tensor3D);

function diffusionDraw(model: Denoiser, schedule: NoiseSchedule, ddimSteps?: number): (n: number, seed: number) => tf.Tensor3D {
  return (n, seed) => {
    const options = { n, seed, clip: [-1, 1] as [number, number] };
    const { samples, trajectory } = ddimSteps ? ddimSample(model, schedule, { ...options, steps: ddimSteps, eta: 0 }) : ddpmSample(model, schedule, options);
    tf.dispose(trajectory.map((s) => s.x));
    const out = toImages(samples, true);
    samples.dispose();
    return out;
  };
}

function loadGan(file: string): { draw: (n: number, seed: number) => tf.Tensor3D; dispose: () => void } {
  const { gan } = loadFashionGan(file);
  return { draw: (n, seed) => tf.tidy(() => toImages(gan.sample(n, seed), true)), dispose: () => gan.dispose() };
}

/** Loads the shipped model `name` from `dir/<name>.ckpt`; a clear error if the name or the file is wrong. */
export function loadImageModel(name: string, dir: string): ImageModel {
  if (!(IMAGE_MODEL_NAMES as readonly string[]).includes(name)) throw new RangeError(`loadImageModel: no image model "${name}"; the models are ${IMAGE_MODEL_NAMES.join(", ")}`);
  const key = name as ImageModelName;
  const file = path.join(dir, `${key}.ckpt`);
  if (!fs.existsSync(file)) throw new Error(`loadImageModel: ${file} does not exist (train it with the script its lesson names)`);
  let inner: { draw: (n: number, seed: number) => tf.Tensor3D; dispose: () => void };
  if (key === "vae-latent20" || key === "conv-vae-latent16") {
    const m = key === "vae-latent20" ? loadVae(file).model : loadConvVae(file).model;
    inner = { draw: (n, seed) => tf.tidy(() => toImages(m.sample(n, seed), false)), dispose: () => m.dispose() };
  } else if (key === "gan-fashion" || key === "gan-dcgan") {
    inner = loadGan(file);
  } else {
    const d = key === "diffusion-fashion" ? loadDiffusion(file) : loadUNet(file);
    inner = { draw: diffusionDraw(d.model, d.schedule, key === "diffusion-fashion" ? undefined : 50), dispose: () => d.model.dispose() };
  }
  return { name: key, label: IMAGE_MODEL_LABELS[key], draw: inner.draw, dispose: inner.dispose };
}

/**
 * n images of `model` (n, 28, 28), drawn `batch` at a time; batch k uses seed `seed + k`, so the same n, batch
 * and seed give the same images. `onBatch(done, n)` is called after each batch (for a progress bar).
 */
export function drawImages(model: ImageModel, n: number, options: { batch?: number; seed?: number; onBatch?: (done: number, total: number) => void } = {}): tf.Tensor3D {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`drawImages: n must be a positive integer, got ${n}`);
  const batch = options.batch ?? 500;
  const seed = options.seed ?? 1;
  const parts: tf.Tensor3D[] = [];
  try {
    for (let i = 0, k = 0; i < n; i += batch, k++) {
      parts.push(model.draw(Math.min(batch, n - i), seed + k));
      options.onBatch?.(Math.min(n, i + batch), n);
    }
    return parts.length === 1 ? parts.pop()! : (tf.concat(parts) as tf.Tensor3D);
  } finally {
    tf.dispose(parts);
  }
}
