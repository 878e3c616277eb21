/**
 * A convolutional VAE for 28x28 images, beside the MLP one of notebooks/04-vae.ipynb, at the sizes the benchmark
 * of the convolution work uses (scripts/bench-workloads.ts, "conv-vae"):
 *
 * - encoder: 3x3 stride-2 conv to 14x14xC₁, ReLU -> 3x3 stride-2 conv to 7x7xC₂, ReLU -> dense to the mean and
 *   the log-variance of q(z|x);
 * - decoder: dense to 7x7xC₂, ReLU -> 4x4 stride-2 transposed conv to 14x14xC₁, ReLU -> 4x4 stride-2 transposed
 *   conv to 28x28x1 Bernoulli logits.
 *
 * The loss, sampling and evaluation are the MLP VAE's (vae-base.ts). Weights start from PyTorch's default
 * U(-1/√fanIn, 1/√fanIn), so runs compare with the PyTorch reference.
 */
import * as tf from "@tensorflow/tfjs";
import { uniformInit } from "../../nn/init";
import { Rng } from "../../runtime/random";
import { Checkpoint, CheckpointError, disposeCheckpoint, loadCheckpoint } from "../../train/checkpoint";
import { VaeModel } from "./vae-base";

/** The architecture. Saved in checkpoints; loading checks it. */
export interface ConvVaeConfig {
  /** Size of the code z. */
  latentDim: number;
  /** Channels C₁ (14x14) and C₂ (7x7). */
  channels: [number, number];
}

/** The benchmark's (and the lesson's) sizes: latent 16, channels 32 and 64. */
export const CONV_VAE_DEFAULT_CONFIG: ConvVaeConfig = { latentDim: 16, channels: [32, 64] };

/** The kind name of a convolutional VAE checkpoint. */
export const CONV_VAE_CHECKPOINT_KIND = "conv-vae";

/** PyTorch's padding=1 on both sides (tf's "same" pads a 3x3 stride-2 conv of 28 rows only at the bottom). */
const PAD1: [[0, 0], [1, 1], [1, 1], [0, 0]] = [[0, 0], [1, 1], [1, 1], [0, 0]];

export class ConvVae extends VaeModel {
  protected readonly label = "ConvVae";
  readonly config: ConvVaeConfig;
  private readonly v = new Map<string, tf.Variable>();
  private static instances = 0;

  /** @param weights optional named weights (from a checkpoint) used instead of an initialisation */
  constructor(config: ConvVaeConfig = CONV_VAE_DEFAULT_CONFIG, rng: Rng = new Rng(0), weights?: Record<string, tf.Tensor>) {
    super();
    const ok = (n: number) => Number.isInteger(n) && n > 0;
    if (!ok(config.latentDim) || !Array.isArray(config.channels) || config.channels.length !== 2 || !config.channels.every(ok)) {
      throw new RangeError(`ConvVae: config needs a positive integer latentDim and two channel counts, got ${JSON.stringify(config)}`);
    }
    this.config = { latentDim: config.latentDim, channels: [config.channels[0], config.channels[1]] };
    const [c1, c2] = this.config.channels;
    const d = this.config.latentDim;
    const id = `convvae${ConvVae.instances++}`;
    const add = (name: string, shape: number[], fanIn: number) => {
      const w = weights?.[name];
      if (weights && !w) throw new RangeError(`ConvVae: weights lack ${name}`);
      if (w && w.shape.join(",") !== shape.join(",")) throw new RangeError(`ConvVae: ${name} has shape [${w.shape.join(", ")}], expected [${shape.join(", ")}]`);
      if (w && w.dtype !== "float32") throw new TypeError(`ConvVae: ${name} must be float32, got ${w.dtype}`);
      const init = w ? w.clone() : uniformInit(shape, fanIn, rng);
      this.v.set(name, tf.variable(init, true, `${id}/${name}`));
      init.dispose();
    };
    try {
      this.addAll(add, c1, c2, d);
    } catch (e) {
      tf.dispose([...this.v.values()]); // a bad checkpoint weight must not leave the others behind
      throw e;
    }
  }

  private addAll(add: (name: string, shape: number[], fanIn: number) => void, c1: number, c2: number, d: number): void {
    add("enc1.kernel", [3, 3, 1, c1], 9);
    add("enc1.bias", [c1], 9);
    add("enc2.kernel", [3, 3, c1, c2], 9 * c1);
    add("enc2.bias", [c2], 9 * c1);
    add("head.kernel", [49 * c2, 2 * d], 49 * c2);
    add("head.bias", [2 * d], 49 * c2);
    add("dec0.kernel", [d, 49 * c2], d);
    add("dec0.bias", [49 * c2], d);
    // conv2dTranspose kernels are (k, k, out, in); PyTorch's fan-in for a transposed conv is out·k·k.
    add("dec1.kernel", [4, 4, c1, c2], 16 * c1);
    add("dec1.bias", [c1], 16 * c1);
    add("dec2.kernel", [4, 4, 1, c1], 16);
    add("dec2.bias", [1], 16);
  }

  get latentDim(): number {
    return this.config.latentDim;
  }

  weights(): Record<string, tf.Variable> {
    this.assertAlive();
    return Object.fromEntries(this.v);
  }

  protected flat(x: tf.Tensor): tf.Tensor2D {
    if (x.size % 784 !== 0 || x.rank < 2) throw new RangeError(`ConvVae: expected a batch of 784-pixel images, got shape [${x.shape.join(", ")}]`);
    return x.reshape([-1, 784]) as tf.Tensor2D;
  }

  private w(name: string): tf.Tensor {
    return this.v.get(name)!;
  }

  encode(x: tf.Tensor): { mean: tf.Tensor2D; logVar: tf.Tensor2D } {
    this.assertAlive();
    const d = this.config.latentDim;
    const h = tf.tidy(() => {
      const img = this.flat(x).reshape([-1, 28, 28, 1]) as tf.Tensor4D;
      const h1 = tf.relu(tf.add(tf.conv2d(img, this.w("enc1.kernel") as tf.Tensor4D, 2, PAD1), this.w("enc1.bias"))) as tf.Tensor4D; // (B, 14, 14, C1)
      const h2 = tf.relu(tf.add(tf.conv2d(h1, this.w("enc2.kernel") as tf.Tensor4D, 2, PAD1), this.w("enc2.bias"))); //                 (B, 7, 7, C2)
      return tf.add(tf.matMul(tf.reshape(h2, [h2.shape[0]!, -1]), this.w("head.kernel")), this.w("head.bias")) as tf.Tensor2D; // (B, 2d)
    });
    const [mean, logVar] = tf.split(h, [d, d], 1) as [tf.Tensor2D, tf.Tensor2D];
    h.dispose();
    return { mean, logVar };
  }

  decodeLogits(z: tf.Tensor): tf.Tensor2D {
    this.assertAlive();
    const [c1, c2] = this.config.channels;
    return tf.tidy(() => {
      const B = z.shape[0]!;
      const h0 = tf.relu(tf.add(tf.matMul(z as tf.Tensor2D, this.w("dec0.kernel")), this.w("dec0.bias"))).reshape([B, 7, 7, c2]) as tf.Tensor4D;
      const h1 = tf.relu(tf.add(tf.conv2dTranspose(h0, this.w("dec1.kernel") as tf.Tensor4D, [B, 14, 14, c1], 2, "same"), this.w("dec1.bias"))) as tf.Tensor4D;
      const logits = tf.add(tf.conv2dTranspose(h1, this.w("dec2.kernel") as tf.Tensor4D, [B, 28, 28, 1], 2, "same"), this.w("dec2.bias")); // (B, 28, 28, 1)
      return logits.reshape([B, 784]) as tf.Tensor2D;
    });
  }

  toCheckpoint(step: number, extra: Record<string, unknown> = {}): Checkpoint {
    return { kind: CONV_VAE_CHECKPOINT_KIND, config: this.config, step, weights: this.weights(), extra };
  }
}

/** A convolutional VAE and what its checkpoint recorded. */
export interface LoadedConvVae {
  model: ConvVae;
  step: number;
  extra: Record<string, unknown>;
}

/** Loads a checkpoint written by {@link ConvVae.save}; `config`, when given, must match. The caller disposes the model. */
export function loadConvVae(file: string, config?: ConvVaeConfig): LoadedConvVae {
  const ckpt = loadCheckpoint(file, { kind: CONV_VAE_CHECKPOINT_KIND, ...(config ? { config } : {}) });
  try {
    const model = new ConvVae(ckpt.config as ConvVaeConfig, new Rng(0), ckpt.weights);
    return { model, step: ckpt.step, extra: ckpt.extra ?? {} };
  } catch (e) {
    throw new CheckpointError(file, `does not hold a usable convolutional VAE (${(e as Error).message})`);
  } finally {
    disposeCheckpoint(ckpt);
  }
}
