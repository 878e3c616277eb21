/**
 * Checks of lesson 07 that a wrong implementation fails: the scaled latents' unit variance, cross-attention with
 * identical condition tokens (every query must get the same value vector), the sampler's guided noise against
 * the formula on two model calls, and what separates decoding a noised latent from noising a decoded image.
 * Taught in notebooks/07-latent-diffusion.ipynb; checks/latent-diffusion.test.ts shows each failing.
 */
import * as tf from "@tensorflow/tfjs";
import { SpatialCrossAttention } from "./condition";
import { LatentAutoencoder } from "./autoencoder";
import { decodeLatents } from "./pipeline";
import { Denoiser } from "../diffusion/denoiser";
import { qSample } from "../diffusion/forward";
import { ddimSample } from "../diffusion/samplers";
import { NoiseSchedule } from "../diffusion/schedules";
import { checkClose, checkThat } from "../../notebook/check";

/** The variance of all entries of `latents`, checked to be within `tolerance` of 1. Returns it. */
export function checkUnitVariance(latents: tf.Tensor, tolerance: number, name = "scaled latents"): number {
  const v = tf.tidy(() => tf.moments(latents.reshape([-1])).variance.dataSync()[0]!);
  checkThat(Math.abs(v - 1) <= tolerance, `${name}: variance ${v.toFixed(4)}, expected 1 ± ${tolerance}`);
  return v;
}

/**
 * With every condition token equal (one token t repeated), softmax weights sum to 1 over identical values, so
 * the attention output at every position must be v = t W_V + b_V, projected: x + (v W_O + b_O). Checks the
 * block's output against that, by hand from the weights. Returns the largest difference.
 */
export function checkIdenticalTokens(block: SpatialCrossAttention, x: tf.Tensor4D, token: tf.Tensor1D, repeats = 4): number {
  return tf.tidy(() => {
    const [B] = x.shape;
    const tokens = tf.tile(token.reshape([1, 1, -1]), [B, repeats, 1]) as tf.Tensor3D;
    const W = block.attention.weights;
    const v = tf.add(tf.matMul(token.reshape([1, -1]), W.wv), W.bv); // (1, c)
    const out = tf.add(tf.matMul(v, W.wo), W.bo).reshape([1, 1, 1, -1]); // the same at every position
    return checkClose(block.apply(x, tokens), tf.add(x, out), { rtol: 1e-4, atol: 1e-5, name: "cross-attention with identical tokens vs x + (t W_V + b_V) W_O + b_O" });
  });
}

/**
 * One DDIM step from x_T straight to 0 gives x0 = (x_T - sqrt(1 - abar_T) eps) / sqrt(abar_T), so the noise the
 * sampler used is recoverable; with guidance w it must be (1 + w) eps(x_T, y) - w eps(x_T, none), computed here
 * from two separate model calls. Returns the largest difference.
 */
export function checkGuidedNoise(model: Denoiser, schedule: NoiseSchedule, labels: number[], w: number, seed: number): number {
  return tf.tidy(() => {
    const n = labels.length;
    const xT = tf.randomNormal([n, model.config.dataDim], 0, 1, "float32", seed) as tf.Tensor2D;
    const { samples } = ddimSample(model, schedule, { n, seed, labels, guidance: w, steps: 1, xT });
    const ab = schedule.alphaBars[schedule.T]!;
    const used = tf.div(tf.sub(xT, tf.mul(Math.sqrt(ab), samples)), Math.sqrt(1 - ab));
    const cond = model.predictNoise(xT, schedule.T, labels);
    const uncond = model.predictNoise(xT, schedule.T, new Array<number>(n).fill(model.config.numClasses));
    const formula = tf.sub(tf.mul(1 + w, cond), tf.mul(w, uncond));
    return checkClose(used, formula, { rtol: 1e-3, atol: 1e-3 * (1 + w), name: `guided noise at w = ${w} vs (1 + w) eps(z, y) - w eps(z, none)` });
  });
}

/** The correlation of horizontally adjacent pixels of images (N, 28, 28). */
export function adjacentCorrelation(images: tf.Tensor): number {
  return tf.tidy(() => {
    const x = images.reshape([-1, 28, 28]);
    const a = x.slice([0, 0, 0], [-1, 28, 27]).reshape([-1]);
    const b = x.slice([0, 0, 1], [-1, 28, 27]).reshape([-1]);
    const ma = tf.sub(a, tf.mean(a));
    const mb = tf.sub(b, tf.mean(b));
    return tf.div(tf.sum(tf.mul(ma, mb)), tf.sqrt(tf.mul(tf.sum(tf.square(ma)), tf.sum(tf.square(mb))))).dataSync()[0]!;
  });
}

/** What noising does in each space at one timestep t. */
export interface NoiseSpaceRow {
  t: number;
  /** Smallest and largest pixel of the decoded noised latents D(z_t): always an image. */
  decodedRange: [number, number];
  /** Smallest and largest pixel of the noised decoded images. */
  noisedRange: [number, number];
  /** Adjacent-pixel correlation of D(z_t) - D(z_0): smooth, structured changes. */
  decodedChangeCorrelation: number;
  /** Adjacent-pixel correlation of the pixel noise added to D(z_0): independent pixels. */
  pixelNoiseCorrelation: number;
}

/**
 * Decoding a noised latent, D(sqrt(abar) z + sqrt(1 - abar) eps), against noising a decoded image,
 * sqrt(abar) D(z) + sqrt(1 - abar) eps' (in the [-1, 1] scale pixel diffusion uses), at each t. Checks what the
 * lesson derives: the decoded images stay in [0, 1] while the noised ones leave it (t > 0), and the change the
 * decoder makes is spatially correlated (adjacent pixels > 0.3) while pixel noise is not (|r| < 0.05).
 * Returns the rows and the two image sets (the caller disposes `images`).
 */
export function compareNoiseSpaces(ae: LatentAutoencoder, scale: number, z: tf.Tensor2D, schedule: NoiseSchedule, ts: number[], seed: number): { rows: NoiseSpaceRow[]; images: { decoded: tf.Tensor3D; noised: tf.Tensor3D }[] } {
  const rows: NoiseSpaceRow[] = [];
  const images: { decoded: tf.Tensor3D; noised: tf.Tensor3D }[] = [];
  const clean = decodeLatents(ae, z, scale);
  ts.forEach((t, i) => {
    const pair = tf.tidy(() => {
      const zt = t === 0 ? z : qSample(schedule, z, t, tf.randomNormal(z.shape, 0, 1, "float32", seed + i));
      const decoded = decodeLatents(ae, zt, scale);
      const signed = tf.sub(tf.mul(clean, 2), 1);
      const pixelNoise = tf.randomNormal(signed.shape, 0, 1, "float32", seed + 100 + i);
      const noisedSigned = t === 0 ? signed : qSample(schedule, signed.reshape([-1, 784]), t, pixelNoise.reshape([-1, 784])).reshape(signed.shape);
      return { decoded, noised: tf.div(tf.add(noisedSigned, 1), 2) as tf.Tensor3D, change: tf.sub(decoded, clean), pixelNoise };
    });
    const range = (x: tf.Tensor): [number, number] => tf.tidy(() => [tf.min(x).dataSync()[0]!, tf.max(x).dataSync()[0]!]);
    rows.push({ t, decodedRange: range(pair.decoded), noisedRange: range(pair.noised), decodedChangeCorrelation: t === 0 ? NaN : adjacentCorrelation(pair.change), pixelNoiseCorrelation: adjacentCorrelation(pair.pixelNoise) });
    tf.dispose([pair.change, pair.pixelNoise]);
    images.push({ decoded: pair.decoded, noised: pair.noised });
  });
  clean.dispose();
  for (const r of rows.filter((r) => r.t > 0)) {
    checkThat(r.decodedRange[0] >= 0 && r.decodedRange[1] <= 1, `t = ${r.t}: decoded noised latents left [0, 1]: ${r.decodedRange}`);
    checkThat(r.noisedRange[0] < 0 || r.noisedRange[1] > 1, `t = ${r.t}: the noised images stayed inside [0, 1]`);
    checkThat(r.decodedChangeCorrelation > 0.3, `t = ${r.t}: adjacent-pixel correlation of the decoded change ${r.decodedChangeCorrelation.toFixed(3)}, expected > 0.3`);
    checkThat(Math.abs(r.pixelNoiseCorrelation) < 0.05, `t = ${r.t}: adjacent-pixel correlation of pixel noise ${r.pixelNoiseCorrelation.toFixed(3)}, expected about 0`);
  }
  return { rows, images };
}
