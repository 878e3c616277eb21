/**
 * Generative adversarial networks (Goodfellow et al. 2014): seeded latent codes, the {@link Gan} that updates
 * D then G with separate optimizers (and keeps a weight average of G), and sample grids. Taught in
 * notebooks/05-gan.ipynb.
 *
 * Conventions: D returns a logit l (D(x) = sigmoid(l)); every loss is a mean over the batch and is
 * minimised. Everything is written with plain tf ops on variables (no tf.layers), so each formula of the
 * lesson maps onto a few lines here.
 */
import * as tf from "@tensorflow/tfjs";
import { GeneratorLossKind, discriminatorLoss, generatorLoss } from "./losses";
import { packSamples } from "./packing";
import { Network } from "../../nn/network";
import { Rng, rng as globalRng } from "../../runtime/random";
import { fusedAdam } from "../../train/fused-adam";

/** Seeded latent codes z ~ N(0, I), (n, latentDim). The same seed gives the same codes on every backend. */
export function sampleLatent(n: number, latentDim: number, seed: number): tf.Tensor2D {
  return tf.randomNormal([n, latentDim], 0, 1, "float32", seed);
}

export interface GanOptions {
  /** Maps (B, latentDim) codes to samples. */
  generator: Network;
  /** Maps (B/pack, ...) packed samples to (B/pack, 1) logits; its input size must be pack x the sample size. */
  discriminator: Network;
  /** Generator loss. Default "non-saturating". */
  generatorLoss?: GeneratorLossKind;
  /** Adam learning rate of both players. Default 1e-3. */
  learningRate?: number;
  /** Adam betas. Default [0.5, 0.999] (Radford et al. 2016, section 4). */
  betas?: [number, number];
  /** PacGAN pack size m: D judges m samples at once. Default 1 (a plain GAN). */
  pack?: number;
  /** Seeds the latent codes of training steps. Default: the lesson-wide generator. */
  rng?: Rng;
  /**
   * A second network of the generator's architecture that tracks an exponential moving average of G's weights
   * (Yazıcı et al. 2019, "The unusual effectiveness of averaging in GAN training"; Karras et al. 2018 use it
   * too). G's weights keep circling around an equilibrium; their average sits nearer it, so its samples are
   * sharper. Its initial weights are overwritten with G's. Default: none.
   */
  averageGenerator?: Network;
  /** Decay of that average per step. Default 0.999 (a window of about 1,000 steps). */
  averageDecay?: number;
}

/** The numbers one {@link Gan.step} returns, as scalars the caller disposes (the training loop does). */
export interface GanLosses extends Record<string, tf.Scalar> {
  /** D's loss -V on the batch, before D's update. */
  d: tf.Scalar;
  /** G's loss on the batch, against the updated D. */
  g: tf.Scalar;
}

/**
 * A generator and a discriminator trained against each other with separate Adam optimizers. One
 * {@link step} updates D once on a real batch and a fake batch, then G once against the updated D,
 * reusing the same latent codes (as PyTorch's DCGAN example does).
 */
export class Gan {
  readonly generator: Network;
  readonly discriminator: Network;
  readonly latentDim: number;
  readonly pack: number;
  readonly lossKind: GeneratorLossKind;
  private readonly dOptimizer: tf.Optimizer;
  private readonly gOptimizer: tf.Optimizer;
  private readonly rng: Rng;
  /** The weight average of G ({@link GanOptions.averageGenerator}), or null. */
  readonly averageGenerator: Network | null;
  private readonly averageDecay: number;
  /** Steps taken. */
  steps = 0;

  constructor(options: GanOptions) {
    this.generator = options.generator;
    this.discriminator = options.discriminator;
    this.latentDim = options.generator.inputSize;
    this.pack = options.pack ?? 1;
    this.lossKind = options.generatorLoss ?? "non-saturating";
    const sampleSize = options.generator.outputShape.reduce((a, b) => a * b, 1);
    if (options.discriminator.inputSize !== sampleSize * this.pack) {
      throw new RangeError(`Gan: D takes ${options.discriminator.inputSize} numbers, but a pack of ${this.pack} samples of G has ${sampleSize * this.pack}`);
    }
    const lr = options.learningRate ?? 1e-3;
    const [b1, b2] = options.betas ?? [0.5, 0.999];
    this.dOptimizer = fusedAdam(lr, b1, b2);
    this.gOptimizer = fusedAdam(lr, b1, b2);
    this.rng = options.rng ?? globalRng();
    this.averageGenerator = options.averageGenerator ?? null;
    this.averageDecay = options.averageDecay ?? 0.999;
    if (this.averageGenerator) this.averageGenerator.loadWeights(this.generator.namedWeights());
  }

  /** D's logits for a batch of samples, packed by this GAN's pack size: (B/pack, 1). */
  judge(samples: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.discriminator.apply(packSamples(samples, this.pack)));
  }

  /** One training step on a real batch (not disposed); see the class comment. Returns { d, g }. */
  step(real: tf.Tensor): GanLosses {
    const B = real.shape[0]!;
    const z = sampleLatent(B, this.latentDim, this.rng.seed());
    try {
      // 1) D ascends V: minimise -mean log D(x) - mean log(1 - D(G(z))) over D's variables only.
      const d = this.dOptimizer.minimize(() => discriminatorLoss(this.judge(real), this.judge(this.generator.apply(z))), true, this.discriminator.variables)!;
      // 2) G descends its loss against the D just updated, over G's variables only.
      const g = this.gOptimizer.minimize(() => generatorLoss(this.lossKind, this.judge(this.generator.apply(z))), true, this.generator.variables)!;
      // 3) The weight average follows: avg <- β·avg + (1 - β)·w.
      if (this.averageGenerator) {
        const current = this.generator.namedWeights();
        const beta = this.averageDecay;
        tf.tidy(() => {
          for (const [name, avg] of Object.entries(this.averageGenerator!.namedWeights())) {
            (avg as tf.Variable).assign(tf.add(tf.mul(avg, beta), tf.mul(current[name]!, 1 - beta)));
          }
        });
      }
      this.steps += 1;
      return { d, g };
    } finally {
      z.dispose();
    }
  }

  /**
   * n samples from seeded codes, (n, ...outputShape), from the weight-averaged generator when there is one
   * (`averaged` = true, the default) or from G as trained.
   */
  sample(n: number, seed: number, averaged = true): tf.Tensor {
    const net = averaged && this.averageGenerator ? this.averageGenerator : this.generator;
    return tf.tidy(() => net.apply(sampleLatent(n, this.latentDim, seed)));
  }

  /** Frees the networks and both optimizers' state. */
  dispose(): void {
    this.averageGenerator?.dispose();
    this.generator.dispose();
    this.discriminator.dispose();
    this.dOptimizer.dispose();
    this.gOptimizer.dispose();
  }
}

/**
 * n generated images as one tensor ready for `showImages`/`imageGrid`, mapped from tanh's [-1, 1] to [0, 1].
 * Each row of the grid can come from a fixed seed, so grids at different training steps show the same codes.
 */
export function sampleGrid(gan: Gan, n: number, seed: number): tf.Tensor {
  return tf.tidy(() => tf.div(tf.add(gan.sample(n, seed), 1), 2));
}
