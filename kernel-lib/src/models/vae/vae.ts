/**
 * The variational autoencoder (Kingma and Welling 2014, "Auto-Encoding Variational Bayes"), with MLP
 * encoder and decoder, for images flattened to vectors in [0, 1], and its checkpoints. Taught in
 * notebooks/04-vae.ipynb.
 *
 * - Encoder q(z|x) = N(mean(x), diag(exp(logVar(x)))): dense + ReLU layers, then two linear heads.
 * - Decoder p(x|z) = prod_i Bernoulli(x_i; sigmoid(logits_i(z))): the mirrored layers, then 784 logits.
 * - Loss per image: the negative ELBO = reconstruction + KL (losses.ts), in nats per image, split into its
 *   two terms.
 */
import * as tf from "@tensorflow/tfjs";
import { VaeModel } from "./vae-base";
import { Rng } from "../../runtime/random";
import { Checkpoint, CheckpointError, disposeCheckpoint, loadCheckpoint } from "../../train/checkpoint";

/** The architecture. Saved in checkpoints; loading checks it. */
export interface VaeConfig {
  /** Pixels per image (28 x 28 = 784 for Fashion-MNIST). */
  inputDim: number;
  /** Encoder hidden sizes, input side first; the decoder mirrors them. */
  hiddenDims: number[];
  /** Dimension of z. 2 can be drawn on a plane; 20 reconstructs better. */
  latentDim: number;
}

/** The lesson's architecture: encoder 784-512-256, latent 20 (the PyTorch reference's sizes). */
export const VAE_DEFAULT_CONFIG: VaeConfig = { inputDim: 784, hiddenDims: [512, 256], latentDim: 20 };

/** The kind name of a VAE checkpoint. */
export const VAE_CHECKPOINT_KIND = "vae";

/** One linear layer y = x W + b. */
interface Dense {
  kernel: tf.Variable; // (in, out)
  bias: tf.Variable; // (out)
}

function checkConfig(config: VaeConfig): VaeConfig {
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) > 0;
  if (!ok(config.inputDim) || !ok(config.latentDim) || !Array.isArray(config.hiddenDims) || !config.hiddenDims.every(ok)) {
    throw new RangeError(`Vae: config needs positive integer inputDim, latentDim and hiddenDims, got ${JSON.stringify(config)}`);
  }
  return { inputDim: config.inputDim, hiddenDims: [...config.hiddenDims], latentDim: config.latentDim };
}

/**
 * A VAE with its own variables. Make one with `new Vae(config, rng)`; every method that returns tensors
 * leaves their disposal to the caller; {@link Vae.dispose} frees the weights.
 */
export class Vae extends VaeModel {
  readonly config: VaeConfig;
  protected readonly label = "Vae";
  private readonly encoder: Dense[];
  private readonly meanHead: Dense;
  private readonly logVarHead: Dense;
  private readonly decoder: Dense[];

  /**
   * @param config the architecture (default {@link VAE_DEFAULT_CONFIG})
   * @param rng seeds the initialisers: Glorot-uniform weights (Glorot and Bengio 2010), zero biases
   * @param weights optional named weights (from a checkpoint) used instead of an initialisation
   */
  constructor(config: VaeConfig = VAE_DEFAULT_CONFIG, rng: Rng = new Rng(0), weights?: Record<string, tf.Tensor>) {
    super();
    this.config = checkConfig(config);
    const { inputDim, hiddenDims, latentDim } = this.config;
    // tfjs registers variables by name, once per process: prefix this instance's names with an id.
    const id = `vae${Vae.instances++}`;
    const make = (name: string, nIn: number, nOut: number): Dense => {
      const w = weights?.[`${name}.kernel`];
      const b = weights?.[`${name}.bias`];
      if (weights && (!w || !b)) throw new RangeError(`Vae: weights lack ${name}.kernel or ${name}.bias`);
      if (w && (w.shape[0] !== nIn || w.shape[1] !== nOut || w.rank !== 2)) throw new RangeError(`Vae: ${name}.kernel has shape [${w.shape.join(", ")}], expected [${nIn}, ${nOut}]`);
      if (b && (b.rank !== 1 || b.shape[0] !== nOut)) throw new RangeError(`Vae: ${name}.bias has shape [${b.shape.join(", ")}], expected [${nOut}]`);
      if ((w && w.dtype !== "float32") || (b && b.dtype !== "float32")) throw new TypeError(`Vae: ${name}'s weights must be float32`);
      const d = tf.tidy(() => ({
        kernel: tf.variable(w ? w.clone() : tf.initializers.glorotUniform({ seed: rng.seed() }).apply([nIn, nOut]), true, `${id}/${name}.kernel`),
        bias: tf.variable(b ? b.clone() : tf.zeros([nOut]), true, `${id}/${name}.bias`),
      }));
      made.push(d.kernel, d.bias);
      return d;
    };
    const made: tf.Variable[] = []; // disposed if a later layer's weights do not fit
    try {
      const sizes = [inputDim, ...hiddenDims];
      this.encoder = hiddenDims.map((h, i) => make(`encoder.${i}`, sizes[i]!, h));
      const top = hiddenDims.length ? hiddenDims[hiddenDims.length - 1]! : inputDim;
      this.meanHead = make("mean", top, latentDim);
      this.logVarHead = make("logVar", top, latentDim);
      const decSizes = [latentDim, ...[...hiddenDims].reverse(), inputDim];
      this.decoder = decSizes.slice(1).map((nOut, i) => make(`decoder.${i}`, decSizes[i]!, nOut));
    } catch (e) {
      tf.dispose(made);
      throw e;
    }
  }

  private static instances = 0;

  /** Size of the code z. */
  get latentDim(): number {
    return this.config.latentDim;
  }

  /** The weights by checkpoint name ("encoder.0.kernel", "mean.bias", "decoder.2.kernel", ...). */
  weights(): Record<string, tf.Variable> {
    this.assertAlive();
    const out: Record<string, tf.Variable> = {};
    const add = (name: string, d: Dense) => {
      out[`${name}.kernel`] = d.kernel;
      out[`${name}.bias`] = d.bias;
    };
    this.encoder.forEach((d, i) => add(`encoder.${i}`, d));
    add("mean", this.meanHead);
    add("logVar", this.logVarHead);
    this.decoder.forEach((d, i) => add(`decoder.${i}`, d));
    return out;
  }

  /** Flattens (B, 28, 28) or (B, 784) images to (B, inputDim). */
  protected flat(x: tf.Tensor): tf.Tensor2D {
    const d = this.config.inputDim;
    if (x.size % d !== 0 || x.rank < 2) throw new RangeError(`Vae: expected a batch of ${d}-pixel images, got shape [${x.shape.join(", ")}]`);
    return x.reshape([-1, d]) as tf.Tensor2D;
  }

  /** q(z|x): the mean and log-variance of the encoder's Gaussian. x (B, 784) or (B, 28, 28) -> (B, d) each. */
  encode(x: tf.Tensor): { mean: tf.Tensor2D; logVar: tf.Tensor2D } {
    this.assertAlive();
    const h = tf.tidy(() => this.encoder.reduce((a, l) => tf.relu(tf.add(tf.matMul(a, l.kernel), l.bias)) as tf.Tensor2D, this.flat(x)));
    const mean = tf.tidy(() => tf.add(tf.matMul(h, this.meanHead.kernel), this.meanHead.bias) as tf.Tensor2D);
    const logVar = tf.tidy(() => tf.add(tf.matMul(h, this.logVarHead.kernel), this.logVarHead.bias) as tf.Tensor2D);
    h.dispose();
    return { mean, logVar };
  }

  /** p(x|z) as Bernoulli logits: z (B, d) -> (B, 784). */
  decodeLogits(z: tf.Tensor): tf.Tensor2D {
    this.assertAlive();
    return tf.tidy(() => {
      let a = z as tf.Tensor2D;
      this.decoder.forEach((l, i) => {
        a = tf.add(tf.matMul(a, l.kernel), l.bias) as tf.Tensor2D;
        // ReLU between layers; the last layer's outputs stay logits.
        if (i < this.decoder.length - 1) a = tf.relu(a) as tf.Tensor2D;
      });
      return a;
    });
  }

  /** A checkpoint of this model (weights are read when it is saved; nothing is copied). */
  toCheckpoint(step: number, extra: Record<string, unknown> = {}): Checkpoint {
    return { kind: VAE_CHECKPOINT_KIND, config: this.config, step, weights: this.weights(), extra };
  }

}

/** A VAE and what its checkpoint recorded. */
export interface LoadedVae {
  model: Vae;
  step: number;
  extra: Record<string, unknown>;
}

/**
 * Loads a VAE checkpoint written by {@link Vae.save}. `config`, when given, must match the saved one
 * (a {@link CheckpointError} says which key differs). The caller disposes the model.
 */
export function loadVae(file: string, config?: VaeConfig): LoadedVae {
  const ckpt = loadCheckpoint(file, { kind: VAE_CHECKPOINT_KIND, ...(config ? { config } : {}) });
  try {
    const model = new Vae(ckpt.config as VaeConfig, new Rng(0), ckpt.weights);
    return { model, step: ckpt.step, extra: ckpt.extra ?? {} };
  } catch (e) {
    throw new CheckpointError(file, `does not hold a usable VAE (${(e as Error).message})`);
  } finally {
    disposeCheckpoint(ckpt);
  }
}
