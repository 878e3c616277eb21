/**
 * The lesson's two GANs (the 8-Gaussian ring and Fashion-MNIST), shared by notebooks/05-gan.ipynb and
 * scripts/train-gan.ts so they cannot drift apart.
 */
import * as tf from "@tensorflow/tfjs";
import { Gan } from "./gan";
import { DcganDiscriminator, DcganGenerator } from "./dcgan";
import { ConvDiscriminator, ConvGenerator, ImageMlp } from "./networks";
import { createMlp } from "../../nn/mlp";
import { Network } from "../../nn/network";
import { Rng } from "../../runtime/random";

/** The ring GAN's settings. */
export interface RingGanConfig {
  /** Latent size. Default 64. */
  latentDim: number;
  /** Hidden widths of both MLPs. Default [128, 128]. */
  hidden: number[];
  /** The remedy: a minibatch-std feature in D. Default false (the plain GAN that collapses). */
  minibatchStd: boolean;
  /** Adam learning rate of both players (betas 0.5, 0.999). Default 1e-3. */
  learningRate: number;
  /** Real and fake samples per step. Default 512. */
  batch: number;
  /** Decay of G's weight average. Default 0.999. */
  averageDecay: number;
}

/** Defaults of {@link RingGanConfig}: the reference setting G z(64)-128-128-2, D 2-128-128-1, ReLU, Adam 1e-3. */
export const RING_GAN_DEFAULTS: RingGanConfig = { latentDim: 64, hidden: [128, 128], minibatchStd: false, learningRate: 1e-3, batch: 512, averageDecay: 0.999 };

/**
 * A cheaper ring GAN for a run of a few seconds (notebooks/05-gan.ipynb's quick mode): G z(64)-64-64-2 and
 * D 2-64-64-1, batches of 128, Adam 4e-3 and a weight average with a window of about 100 steps (decay 0.99).
 * A step costs a fraction of the reference setting's; measured on seed 4, 2 CPU cores, the weight-averaged G of
 * both variants covered 8/8 modes from about 1,250 steps on, with 62-73% of samples within 3 standard
 * deviations at 1,500-2,000 steps (the reference setting reaches 94% after 10,000 steps).
 */
export const RING_GAN_QUICK: RingGanConfig = { ...RING_GAN_DEFAULTS, hidden: [64, 64], learningRate: 4e-3, batch: 128, averageDecay: 0.99 };

/**
 * The ring GAN (non-saturating loss): G, D and G's weight average initialised from forks of `rng`, and the
 * latent codes of training drawn from another fork. Draw the training data from a later fork of the same rng.
 */
export function createRingGan(config: Partial<RingGanConfig>, rng: Rng): Gan {
  const c = { ...RING_GAN_DEFAULTS, ...config };
  const gSizes = [c.latentDim, ...c.hidden, 2];
  return new Gan({
    generator: createMlp({ sizes: gSizes, name: "G", rng: rng.fork() }),
    discriminator: createMlp({ sizes: [2, ...c.hidden, 1], name: "D", minibatchStd: c.minibatchStd, rng: rng.fork() }),
    averageGenerator: createMlp({ sizes: gSizes, name: "G", rng: rng.fork() }),
    averageDecay: c.averageDecay,
    learningRate: c.learningRate,
    rng: rng.fork(),
  });
}

/** The Fashion-MNIST GAN's settings. */
export interface FashionGanConfig {
  /**
   * "mlp": G z-256-512-784 (ReLU, tanh) and D 784-512-256-1 (LeakyReLU 0.2), as in Goodfellow et al. 2014's
   * MNIST experiments but without maxout; "conv": the {@link ConvGenerator} / {@link ConvDiscriminator} pair,
   * which on the single-threaded wasm backend takes seconds per step; "dcgan": the {@link DcganGenerator} /
   * {@link DcganDiscriminator} pair (transposed convolutions and batch norm, Radford et al. 2016). Default "mlp".
   */
  architecture: "mlp" | "conv" | "dcgan";
  /** Latent size. Default 64. */
  latentDim: number;
  /** Channels of the conv pairs ({@link ConvGanOptions}, {@link DcganOptions}). Default 32 for "conv", 64 for "dcgan". */
  channels: number;
  /** Adam learning rate of both players (betas 0.5, 0.999). Default 2e-4 (Radford et al. 2016, section 4). */
  learningRate: number;
  /** Images per step. Default 64. */
  batch: number;
  /** Decay of G's weight average. Default 0.999. */
  averageDecay: number;
}

/** Defaults of {@link FashionGanConfig}. */
export const FASHION_GAN_DEFAULTS: FashionGanConfig = { architecture: "mlp", latentDim: 64, channels: 32, learningRate: 2e-4, batch: 64, averageDecay: 0.999 };

/** The Fashion-MNIST GAN, seeded like {@link createRingGan}. Images are (28, 28, 1) in [-1, 1]. */
export function createFashionGan(config: Partial<FashionGanConfig>, rng: Rng): Gan {
  const c = { ...FASHION_GAN_DEFAULTS, ...config };
  const channels = config.channels ?? (c.architecture === "dcgan" ? 64 : FASHION_GAN_DEFAULTS.channels);
  const makeG = (r: Rng): Network => {
    if (c.architecture === "conv") return new ConvGenerator({ latentDim: c.latentDim, channels, rng: r });
    if (c.architecture === "dcgan") return new DcganGenerator({ latentDim: c.latentDim, channels, rng: r });
    return new ImageMlp(createMlp({ sizes: [c.latentDim, 256, 512, 784], outputActivation: "tanh", name: "G", rng: r }));
  };
  const D =
    c.architecture === "conv"
      ? new ConvDiscriminator({ channels, rng: rng.fork() })
      : c.architecture === "dcgan"
        ? new DcganDiscriminator({ channels, rng: rng.fork() })
        : null;
  return new Gan({
    generator: makeG(rng.fork()),
    discriminator: D ?? createMlp({ sizes: [784, 512, 256, 1], activation: "leakyRelu", name: "D", rng: rng.fork() }),
    averageGenerator: makeG(rng.fork()),
    averageDecay: c.averageDecay,
    learningRate: c.learningRate,
    rng: rng.fork(),
  });
}

/** A random batch of `batch` images from (N, 28, 28) images in [0, 1], as (batch, 28, 28, 1) in [-1, 1]. */
export function imageBatch(images: tf.Tensor3D, batch: number, rng: Rng): tf.Tensor4D {
  const n = images.shape[0];
  const idx = Int32Array.from({ length: batch }, () => rng.int(n));
  return tf.tidy(() => tf.sub(tf.mul(tf.gather(images, tf.tensor1d(idx, "int32")), 2), 1).reshape([batch, 28, 28, 1]) as tf.Tensor4D);
}
