/**
 * The autoencoder of latent diffusion (Rombach et al. 2022, "High-Resolution Image Synthesis with Latent
 * Diffusion Models", section 3.1), in miniature: a convolutional VAE from 28x28x1 images to 7x7xC latents
 * (196 numbers for C = 4, a quarter of the pixels), trained with a tiny KL weight β. With β = 1 the KL term
 * pulls every code towards N(0, I) hard enough to blur reconstructions; Rombach et al. keep it at about 1e-6 so
 * the latents stay nearly deterministic and detailed, and the KL only stops their scale from drifting
 * (appendix G). The diffusion model then works on latents divided by their standard deviation
 * ({@link latentScale}: Stable Diffusion's 0.18215 is this number for its autoencoder). For the latent
 * diffusion lesson, notebooks/07-latent-diffusion.ipynb.
 *
 * Encoder: 3x3 conv to C₁, SiLU -> 3x3 stride-2 conv to C₂ (14x14), SiLU -> 3x3 stride-2 conv to C₂ (7x7), SiLU ->
 * 1x1 conv to 2C (mean and log-variance). Decoder: 1x1 conv C -> C₂, SiLU -> 4x4 stride-2 transposed conv to C₁
 * (14x14), SiLU -> 4x4 stride-2 transposed conv to C₁ (28x28), SiLU -> 3x3 conv to 1 Bernoulli logit per pixel.
 */
import * as tf from "@tensorflow/tfjs";
import { uniformInit } from "../../nn/init";
import { Rng } from "../../runtime/random";
import { Checkpoint, CheckpointError, disposeCheckpoint, loadCheckpoint } from "../../train/checkpoint";
import { VaeModel } from "../vae/vae-base";

export interface LatentAutoencoderConfig {
  /** Latent channels C at 7x7. */
  latentChannels: number;
  /** Channels C₁ (28x28) and C₂ (14x14 and 7x7). */
  channels: [number, number];
  /** The KL weight β of the training objective. */
  klWeight: number;
}

/** 4 latent channels (7x7x4 = 196 numbers), channels 32 and 64, β = 1e-4. */
export const LATENT_AE_DEFAULT_CONFIG: LatentAutoencoderConfig = { latentChannels: 4, channels: [32, 64], klWeight: 1e-4 };

export const LATENT_AE_CHECKPOINT_KIND = "latent-autoencoder";

const PAD1: [[0, 0], [1, 1], [1, 1], [0, 0]] = [[0, 0], [1, 1], [1, 1], [0, 0]];
const silu = (x: tf.Tensor): tf.Tensor => tf.mul(x, tf.sigmoid(x));

export class LatentAutoencoder extends VaeModel {
  protected readonly label = "LatentAutoencoder";
  readonly config: LatentAutoencoderConfig;
  private readonly v = new Map<string, tf.Variable>();
  private static instances = 0;

  constructor(config: LatentAutoencoderConfig = LATENT_AE_DEFAULT_CONFIG, rng: Rng = new Rng(0)) {
    super();
    const ok = (n: number) => Number.isInteger(n) && n > 0;
    if (!ok(config.latentChannels) || config.channels.length !== 2 || !config.channels.every(ok) || !(config.klWeight >= 0)) {
      throw new RangeError(`LatentAutoencoder: bad config ${JSON.stringify(config)}`);
    }
    this.config = { ...config, channels: [config.channels[0], config.channels[1]] };
    this.klWeight = config.klWeight;
    const [c1, c2] = this.config.channels;
    const c = this.config.latentChannels;
    const id = `latentae${LatentAutoencoder.instances++}`;
    const conv = (name: string, shape: number[], fanIn: number) => {
      // A transposed conv's kernel is (k, k, out, in): its bias has shape[2] entries; a conv's (k, k, in, out): shape[3].
      const outChannels = name.startsWith("dec.up") ? shape[2]! : shape[3]!;
      for (const [suffix, s] of [["kernel", shape], ["bias", [outChannels]]] as [string, number[]][]) {
        const init = uniformInit(s, fanIn, rng);
        this.v.set(`${name}.${suffix}`, tf.variable(init, true, `${id}/${name}.${suffix}`));
        init.dispose();
      }
    };
    conv("enc.in", [3, 3, 1, c1], 9);
    conv("enc.down1", [3, 3, c1, c2], 9 * c1);
    conv("enc.down2", [3, 3, c2, c2], 9 * c2);
    conv("enc.out", [1, 1, c2, 2 * c], c2);
    conv("dec.in", [1, 1, c, c2], c);
    conv("dec.up1", [4, 4, c1, c2], 16 * c1); // conv2dTranspose kernels are (k, k, out, in)
    conv("dec.up2", [4, 4, c1, c1], 16 * c1);
    conv("dec.out", [3, 3, c1, 1], 9 * c1);
  }

  /** Numbers per latent: 7 · 7 · C. */
  get latentDim(): number {
    return 49 * this.config.latentChannels;
  }

  weights(): Record<string, tf.Variable> {
    this.assertAlive();
    return Object.fromEntries(this.v);
  }

  protected flat(x: tf.Tensor): tf.Tensor2D {
    if (x.size % 784 !== 0 || x.rank < 2) throw new RangeError(`LatentAutoencoder: expected a batch of 784-pixel images, got shape [${x.shape.join(", ")}]`);
    return x.reshape([-1, 784]) as tf.Tensor2D;
  }

  private conv(x: tf.Tensor4D, name: string, stride: number, pad: "same" | typeof PAD1 = "same"): tf.Tensor4D {
    return tf.add(tf.conv2d(x, this.v.get(`${name}.kernel`) as tf.Tensor4D, stride, pad), this.v.get(`${name}.bias`)!) as tf.Tensor4D;
  }

  private up(x: tf.Tensor4D, name: string, size: number, channels: number): tf.Tensor4D {
    const B = x.shape[0];
    return tf.add(tf.conv2dTranspose(x, this.v.get(`${name}.kernel`) as tf.Tensor4D, [B, size, size, channels], 2, "same"), this.v.get(`${name}.bias`)!) as tf.Tensor4D;
  }

  /** Means and log-variances of q(z|x), flattened from (B, 7, 7, C) to (B, 49C). */
  encode(x: tf.Tensor): { mean: tf.Tensor2D; logVar: tf.Tensor2D } {
    this.assertAlive();
    const c = this.config.latentChannels;
    const h = tf.tidy(() => {
      const img = this.flat(x).reshape([-1, 28, 28, 1]) as tf.Tensor4D;
      const h1 = silu(this.conv(img, "enc.in", 1)) as tf.Tensor4D; //           (B, 28, 28, C1)
      const h2 = silu(this.conv(h1, "enc.down1", 2, PAD1)) as tf.Tensor4D; //  (B, 14, 14, C2)
      const h3 = silu(this.conv(h2, "enc.down2", 2, PAD1)) as tf.Tensor4D; //  (B, 7, 7, C2)
      return this.conv(h3, "enc.out", 1); //                                    (B, 7, 7, 2C)
    });
    const [mean, logVar] = tf.split(h, [c, c], 3).map((t) => t.reshape([-1, 49 * c])) as [tf.Tensor2D, tf.Tensor2D];
    tf.dispose(h);
    return { mean, logVar };
  }

  /** Bernoulli logits (B, 784) from latents (B, 49C). */
  decodeLogits(z: tf.Tensor): tf.Tensor2D {
    this.assertAlive();
    const [c1] = this.config.channels;
    return tf.tidy(() => {
      const B = z.shape[0]!;
      const h0 = silu(this.conv(tf.reshape(z, [B, 7, 7, this.config.latentChannels]) as tf.Tensor4D, "dec.in", 1)) as tf.Tensor4D;
      const h1 = silu(this.up(h0, "dec.up1", 14, c1)) as tf.Tensor4D;
      const h2 = silu(this.up(h1, "dec.up2", 28, c1)) as tf.Tensor4D;
      return this.conv(h2, "dec.out", 1).reshape([B, 784]) as tf.Tensor2D;
    });
  }

  toCheckpoint(step: number, extra: Record<string, unknown> = {}): Checkpoint {
    return { kind: LATENT_AE_CHECKPOINT_KIND, config: this.config, step, weights: this.weights(), extra };
  }
}

/**
 * The latent scale factor: 1 / (standard deviation of the encoder's means over `images`), so that scaled latents
 * have unit variance, as the diffusion model's prior N(0, I) expects.
 */
export function latentScale(model: LatentAutoencoder, images: tf.Tensor, batchSize = 500): number {
  let sum = 0;
  let sumSq = 0;
  let count = 0;
  const n = images.shape[0]!;
  for (let start = 0; start < n; start += batchSize) {
    const [s, q, c] = tf.tidy(() => {
      const { mean, logVar } = model.encode(images.slice(start, Math.min(batchSize, n - start)));
      logVar.dispose();
      return [tf.sum(mean).dataSync()[0]!, tf.sum(tf.square(mean)).dataSync()[0]!, mean.size];
    });
    sum += s;
    sumSq += q;
    count += c;
  }
  const variance = sumSq / count - (sum / count) ** 2;
  if (!(variance > 0)) throw new RangeError(`latentScale: the latents have variance ${variance}`);
  return 1 / Math.sqrt(variance);
}

/** Loads a checkpoint written by {@link LatentAutoencoder.save}. The caller disposes the model. */
export function loadLatentAutoencoder(file: string): { model: LatentAutoencoder; step: number; extra: Record<string, unknown> } {
  const ckpt = loadCheckpoint(file, { kind: LATENT_AE_CHECKPOINT_KIND });
  let model: LatentAutoencoder | null = null;
  try {
    model = new LatentAutoencoder(ckpt.config as LatentAutoencoderConfig, new Rng(0));
    for (const [name, v] of Object.entries(model.weights())) {
      const w = ckpt.weights[name];
      if (!w || w.shape.join(",") !== v.shape.join(",") || w.dtype !== "float32") throw new Error(`weight ${name} is missing, of another shape or not float32`);
      v.assign(w);
    }
    return { model, step: ckpt.step, extra: ckpt.extra ?? {} };
  } catch (e) {
    model?.dispose();
    throw new CheckpointError(file, `does not hold a usable latent autoencoder (${(e as Error).message})`);
  } finally {
    disposeCheckpoint(ckpt);
  }
}
