/**
 * Generative adversarial networks (Goodfellow et al. 2014): the generator and discriminator builders (MLPs,
 * and a small convolutional pair for 28x28 images), the losses computed from logits, a training step that
 * updates D then G with separate optimizers, seeded sampling and sample grids. Taught in
 * notebooks/04-gan.ipynb.
 *
 * Conventions: D returns a logit l (D(x) = sigmoid(l)); every loss is a mean over the batch and is
 * minimised. Everything is written with plain tf ops on variables (no tf.layers), so each formula of the
 * lesson maps onto a few lines here.
 */
import * as tf from "@tensorflow/tfjs";
import { Rng, rng as globalRng } from "./random";

// ---------------------------------------------------------------------------------------------------------
// Layers

/**
 * x·W + b for x (B, in), W (in, out), b (out). The gradient uses only untransposed matrix products:
 * tfjs-backend-wasm 4.22 (without the native addon) multiplies a transposed operand 8-17x slower than a plain one, and the built-in
 * gradient of tf.matMul multiplies two transposed operands; transposing explicitly first is far cheaper.
 * Same values as `x.matMul(W).add(b)` on every backend (checks/gan.test.ts).
 */
export function affine(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  const f = tf.customGrad((...args: unknown[]) => {
    const [xi, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([xi, w]);
    return {
      value: tf.add(tf.matMul(xi, w), b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor2D;
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        // dx = dy·Wᵀ (B, in); dW = xᵀ·dy (in, out); db = Σ_batch dy (out).
        return [tf.matMul(g, tf.transpose(ws)), tf.matMul(tf.transpose(xs), g), tf.sum(g, 0)];
      },
    };
  });
  return f(x, kernel, bias) as tf.Tensor2D;
}

/** Hidden and output nonlinearities. "leakyRelu" uses slope 0.2 (Radford et al. 2016, DCGAN, section 3). */
export type Activation = "relu" | "leakyRelu" | "tanh" | "sigmoid" | "linear";

/** Applies an {@link Activation}. */
export function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  switch (activation) {
    case "relu":
      return tf.relu(x);
    case "leakyRelu":
      return tf.leakyRelu(x, 0.2);
    case "tanh":
      return tf.tanh(x);
    case "sigmoid":
      return tf.sigmoid(x);
    case "linear":
      return x;
  }
}

/**
 * A stride-1 2-D convolution of x (B, H, W, Cin) with a (k, k, Cin, Cout) kernel and zero padding `pad` on
 * each side, written as patches times a matrix (im2col): the k² shifted views of the padded input, side by
 * side, times the kernel flattened to (k·k·Cin, Cout). Built from pad, slice, concat and {@link affine}
 * because tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel: tf.conv2d cannot train there. Only
 * rank-4 tensors: wasm slices of rank 5 and more are thousands of times slower. Same values as tf.conv2d
 * (checks/gan.test.ts).
 */
export function conv2dPatches(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D, pad: number): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const [k, k2, cin, cout] = kernel.shape;
  if (k !== k2 || cin !== C) throw new RangeError(`conv2dPatches: kernel [${kernel.shape}] does not fit input [${x.shape}]`);
  const outH = H + 2 * pad - k + 1;
  const outW = W + 2 * pad - k + 1;
  return tf.tidy(() => {
    // 1) Pad, then take the k² shifted (B, outH, outW, C) windows, in the kernel's (row, column) order.
    const padded = pad > 0 ? tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) : x;
    const views: tf.Tensor4D[] = [];
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) views.push(tf.slice(padded, [0, i, j, 0], [B, outH, outW, C]));
    // 2) Each output pixel's patch, ordered (kernel row, kernel column, channel) like the flattened kernel.
    const patches = tf.reshape(tf.concat(views, 3), [B * outH * outW, k * k * C]) as tf.Tensor2D; // (B·outH·outW, k·k·C)
    const out = affine(patches, tf.reshape(kernel, [k * k * cin, cout]) as tf.Tensor2D, bias); // (B·outH·outW, Cout)
    return tf.reshape(out, [B, outH, outW, cout]);
  });
}

/**
 * Space-to-depth: each 2x2 block of pixels becomes one pixel with 4x the channels, (B, H, W, C) ->
 * (B, H/2, W/2, 4C), channels ordered (block row, block column, channel). A 2x2 stride-1 convolution after
 * it is exactly a 4x4 stride-2 convolution before it (with the kernel regrouped), so D downsamples with
 * rank-4 ops only (checks/gan.test.ts shows the equivalence).
 */
export function spaceToDepth2x(x: tf.Tensor4D): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  if (H % 2 !== 0 || W % 2 !== 0) throw new RangeError(`spaceToDepth2x: height and width must be even, got [${x.shape}]`);
  return tf.tidy(() => {
    const rows = tf.reshape(x, [B * (H / 2), 2, W / 2, 2 * C]); // (B·H/2, row in block, W/2, (column in block, C))
    return tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [B, H / 2, W / 2, 4 * C]);
  });
}

/** Doubles height and width by repeating each pixel (nearest-neighbour upsampling), (B, H, W, C) -> (B, 2H, 2W, C). */
export function upsample2x(x: tf.Tensor4D): tf.Tensor4D {
  const [, H, W] = x.shape;
  // At an integer scale, nearest-neighbour resizing copies each pixel into a 2x2 block; wasm has its gradient.
  return tf.image.resizeNearestNeighbor(x, [2 * H, 2 * W]);
}

// ---------------------------------------------------------------------------------------------------------
// Networks

/** A network with its own variables: what the GAN trainer needs of a generator or a discriminator. */
export interface Network {
  /** Prefix of its weight names ("G", "D"). */
  readonly name: string;
  /** Its input size per example (flattened). */
  readonly inputSize: number;
  /** Its output shape per example ([2], [28, 28, 1], [1]). */
  readonly outputShape: number[];
  /** Trainable variables, for an optimizer's var list. */
  readonly variables: tf.Variable[];
  /** Forward pass on a batch. */
  apply(x: tf.Tensor): tf.Tensor;
  /** The weights by name ("G/dense0/kernel"), for checkpoints. Not copies: do not dispose them. */
  namedWeights(): Record<string, tf.Tensor>;
  /** Assigns weights saved by {@link namedWeights} (checks every name and shape). */
  loadWeights(weights: Record<string, tf.Tensor>): void;
  /** Number of trainable numbers. */
  parameterCount(): number;
  /** Frees the variables. */
  dispose(): void;
}

/** PyTorch's default Linear/Conv init, U(-1/√fanIn, 1/√fanIn) for weights and biases, so the lesson's GANs match the reference runs. */
function uniformInit(shape: number[], fanIn: number, r: Rng): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.randomUniform(shape, -bound, bound, "float32", r.seed());
}

abstract class VariableNetwork implements Network {
  readonly variables: tf.Variable[] = [];
  private readonly byName = new Map<string, tf.Variable>();
  abstract readonly inputSize: number;
  abstract readonly outputShape: number[];
  constructor(readonly name: string) {}

  protected addVariable(local: string, init: tf.Tensor): tf.Variable {
    const full = `${this.name}/${local}`;
    const v = tf.variable(init, true, `${full}-${VariableNetwork.counter++}`);
    init.dispose();
    this.variables.push(v);
    this.byName.set(full, v);
    return v;
  }
  private static counter = 0;

  abstract apply(x: tf.Tensor): tf.Tensor;

  namedWeights(): Record<string, tf.Tensor> {
    return Object.fromEntries(this.byName);
  }

  loadWeights(weights: Record<string, tf.Tensor>): void {
    const names = [...this.byName.keys()];
    const missing = names.filter((n) => !(n in weights));
    if (missing.length) throw new Error(`${this.name}: checkpoint lacks ${missing.join(", ")}`);
    for (const n of names) {
      const v = this.byName.get(n)!;
      const w = weights[n]!;
      if (w.shape.join(",") !== v.shape.join(",")) throw new Error(`${this.name}: weight ${n} has shape [${w.shape}], the network needs [${v.shape}]`);
      v.assign(w);
    }
  }

  parameterCount(): number {
    return this.variables.reduce((s, v) => s + v.size, 0);
  }

  dispose(): void {
    tf.dispose(this.variables);
    this.variables.length = 0;
    this.byName.clear();
  }
}

export interface MlpOptions {
  /** Layer widths from input to output, e.g. [64, 128, 128, 2] for a generator z(64)-128-128-2. */
  sizes: number[];
  /** Hidden nonlinearity. Default "relu". */
  activation?: Activation;
  /** Output nonlinearity. Default "linear" (a D logit, or unbounded 2-D points). */
  outputActivation?: Activation;
  /**
   * Append one feature after the first hidden layer: the batch's standard deviation of each hidden unit,
   * averaged over units ({@link minibatchStd}). A discriminator remedy for mode collapse. Default false.
   */
  minibatchStd?: boolean;
  /** Weight-name prefix. Default "mlp". */
  name?: string;
  /** Seeds the initial weights. Default: the lesson-wide generator. */
  rng?: Rng;
}

/**
 * The minibatch standard deviation statistic (Karras et al. 2018, "Progressive growing of GANs", section 3):
 * for h (B, F), the standard deviation of each feature over the batch, averaged over the features: a scalar
 * that D receives as one more input feature of every row. A D that judges one sample at a time cannot see
 * that a batch of fakes is less varied than a batch of real data; with this feature it can, so G is pushed
 * to spread out. Real and fake batches must go through D separately, or the statistic mixes them.
 */
export function minibatchStd(h: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const { variance } = tf.moments(h, 0); // (F,)
    // The 1e-8 keeps sqrt's gradient finite when a collapsed batch has zero spread (as in the paper's code).
    return tf.mean(tf.sqrt(tf.add(variance, 1e-8))) as tf.Scalar;
  });
}

/** A multilayer perceptron on (B, sizes[0]) inputs. Build one with {@link createMlp}. */
export class Mlp extends VariableNetwork {
  readonly inputSize: number;
  readonly outputShape: number[];
  private readonly layers: { kernel: tf.Variable; bias: tf.Variable }[] = [];
  /** Layer 1's weights for the minibatch-std feature, (1, sizes[2]); null when the option is off. */
  private readonly stdKernel: tf.Variable | null = null;
  constructor(readonly options: MlpOptions) {
    super(options.name ?? "mlp");
    const { sizes } = options;
    if (sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new RangeError(`Mlp: sizes must be at least two positive integers, got [${sizes}]`);
    const r = options.rng ?? globalRng();
    this.inputSize = sizes[0]!;
    this.outputShape = [sizes[sizes.length - 1]!];
    if (options.minibatchStd && sizes.length < 3) throw new RangeError("Mlp: minibatchStd needs at least one hidden layer");
    for (let i = 0; i + 1 < sizes.length; i++) {
      // Layer 1 also reads the minibatch-std feature when it is on: one more input.
      const extra = i === 1 && options.minibatchStd ? 1 : 0;
      const fanIn = sizes[i]! + extra;
      this.layers.push({
        kernel: this.addVariable(`dense${i}/kernel`, uniformInit([fanIn - extra, sizes[i + 1]!], fanIn, r)),
        bias: this.addVariable(`dense${i}/bias`, uniformInit([sizes[i + 1]!], fanIn, r)),
      });
      if (extra) this.stdKernel = this.addVariable(`dense${i}/stdKernel`, uniformInit([1, sizes[i + 1]!], fanIn, r));
    }
  }

  apply(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => {
      let h = tf.reshape(x, [-1, this.inputSize]) as tf.Tensor2D; // (B, sizes[0])
      this.layers.forEach((layer, i) => {
        const last = i === this.layers.length - 1;
        let pre = affine(h, layer.kernel as tf.Tensor2D, layer.bias as tf.Tensor1D); // (B, sizes[i+1])
        if (i === 1 && this.stdKernel) {
          // [h, s·1]·[W; w] = h·W + s·w: the appended column without a concat and an odd-width product
          // (a 129-wide matmul runs several times slower on wasm than a 128-wide one).
          pre = tf.add(pre, tf.mul(this.stdKernel, minibatchStd(h)));
        }
        h = activate(pre, last ? (this.options.outputActivation ?? "linear") : (this.options.activation ?? "relu")) as tf.Tensor2D;
      });
      return h;
    });
  }
}

/** Builds an {@link Mlp}. */
export function createMlp(options: MlpOptions): Mlp {
  return new Mlp(options);
}

export interface ConvGanOptions {
  /** Latent size. Default 64. */
  latentDim?: number;
  /** Channels of the wider feature maps (the narrower ones have twice as many). Default 32. */
  channels?: number;
  /** Seeds the initial weights. Default: the lesson-wide generator. */
  rng?: Rng;
}

/**
 * A small DCGAN-style generator for 28x28x1 images in [-1, 1]: z -> dense to 7x7x2C -> ReLU ->
 * upsample to 14x14 -> 3x3 conv to C -> ReLU -> upsample to 28x28 -> 3x3 conv to 1 -> tanh.
 * Upsample-then-convolve rather than transposed convolutions, which avoids their checkerboard
 * artefacts (Odena et al. 2016, "Deconvolution and checkerboard artifacts", Distill).
 */
export class ConvGenerator extends VariableNetwork {
  readonly inputSize: number;
  readonly outputShape = [28, 28, 1];
  private readonly c: number;
  private readonly v: Record<string, tf.Variable> = {};
  constructor(options: ConvGanOptions = {}) {
    super("G");
    const r = options.rng ?? globalRng();
    const z = options.latentDim ?? 64;
    const c = options.channels ?? 32;
    this.inputSize = z;
    this.c = c;
    this.v.fcKernel = this.addVariable("fc/kernel", uniformInit([z, 7 * 7 * 2 * c], z, r));
    this.v.fcBias = this.addVariable("fc/bias", uniformInit([7 * 7 * 2 * c], z, r));
    this.v.conv1Kernel = this.addVariable("conv1/kernel", uniformInit([3, 3, 2 * c, c], 9 * 2 * c, r));
    this.v.conv1Bias = this.addVariable("conv1/bias", uniformInit([c], 9 * 2 * c, r));
    this.v.conv2Kernel = this.addVariable("conv2/kernel", uniformInit([3, 3, c, 1], 9 * c, r));
    this.v.conv2Bias = this.addVariable("conv2/bias", uniformInit([1], 9 * c, r));
  }

  apply(z: tf.Tensor): tf.Tensor4D {
    const v = this.v as Record<string, tf.Tensor>;
    return tf.tidy(() => {
      const B = z.shape[0]!;
      const h0 = tf.relu(affine(z as tf.Tensor2D, v.fcKernel as tf.Tensor2D, v.fcBias as tf.Tensor1D)); // (B, 7·7·2C)
      const h1 = upsample2x(tf.reshape(h0, [B, 7, 7, 2 * this.c])); // (B, 14, 14, 2C)
      const h2 = tf.relu(conv2dPatches(h1, v.conv1Kernel as tf.Tensor4D, v.conv1Bias as tf.Tensor1D, 1)); // (B, 14, 14, C)
      const h3 = upsample2x(h2 as tf.Tensor4D); // (B, 28, 28, C)
      return tf.tanh(conv2dPatches(h3, v.conv2Kernel as tf.Tensor4D, v.conv2Bias as tf.Tensor1D, 1)); // (B, 28, 28, 1)
    });
  }
}

/**
 * A small DCGAN-style discriminator for (B, 28, 28, K) inputs (K = 1, or the pack size for PacGAN):
 * 4x4 stride-2 conv to C -> LeakyReLU -> 4x4 stride-2 conv to 2C -> LeakyReLU -> dense to one logit.
 * Each strided conv is computed as pad 1 -> {@link spaceToDepth2x} -> 2x2 conv, so its kernels have shape
 * (2, 2, 4·Cin, Cout): the same function class as (4, 4, Cin, Cout) at stride 2, regrouped.
 */
export class ConvDiscriminator extends VariableNetwork {
  readonly inputSize: number;
  readonly outputShape = [1];
  private readonly v: Record<string, tf.Variable> = {};
  private readonly inChannels: number;
  constructor(options: ConvGanOptions & { inChannels?: number } = {}) {
    super("D");
    const r = options.rng ?? globalRng();
    const c = options.channels ?? 32;
    const k = options.inChannels ?? 1;
    this.inChannels = k;
    this.inputSize = 28 * 28 * k;
    this.v.conv1Kernel = this.addVariable("conv1/kernel", uniformInit([2, 2, 4 * k, c], 16 * k, r));
    this.v.conv1Bias = this.addVariable("conv1/bias", uniformInit([c], 16 * k, r));
    this.v.conv2Kernel = this.addVariable("conv2/kernel", uniformInit([2, 2, 4 * c, 2 * c], 16 * c, r));
    this.v.conv2Bias = this.addVariable("conv2/bias", uniformInit([2 * c], 16 * c, r));
    this.v.fcKernel = this.addVariable("fc/kernel", uniformInit([7 * 7 * 2 * c, 1], 7 * 7 * 2 * c, r));
    this.v.fcBias = this.addVariable("fc/bias", uniformInit([1], 7 * 7 * 2 * c, r));
  }

  apply(x: tf.Tensor): tf.Tensor2D {
    const v = this.v as Record<string, tf.Tensor>;
    return tf.tidy(() => {
      const B = x.shape[0]!;
      const img = tf.reshape(x, [B, 28, 28, this.inChannels]) as tf.Tensor4D;
      const h1 = tf.leakyRelu(stridedConv(img, v.conv1Kernel as tf.Tensor4D, v.conv1Bias as tf.Tensor1D), 0.2); // (B, 14, 14, C)
      const h2 = tf.leakyRelu(stridedConv(h1 as tf.Tensor4D, v.conv2Kernel as tf.Tensor4D, v.conv2Bias as tf.Tensor1D), 0.2); // (B, 7, 7, 2C)
      return affine(tf.reshape(h2, [B, -1]) as tf.Tensor2D, v.fcKernel as tf.Tensor2D, v.fcBias as tf.Tensor1D); // (B, 1)
    });
  }
}

/** A 4x4 stride-2 convolution with padding 1, as pad -> space-to-depth -> 2x2 conv: (B, H, W, Cin) -> (B, H/2, W/2, Cout). */
function stridedConv(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor4D {
  return tf.tidy(() => conv2dPatches(spaceToDepth2x(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])), kernel, bias, 0));
}

// ---------------------------------------------------------------------------------------------------------
// Losses, from the discriminator's logits l (D = sigmoid(l))

// log D = -softplus(-l) and log(1 - D) = -softplus(l), so every GAN loss below is a mean of softplus(±l).
// tf.softplus never forms e^l for large l (it returns l above a threshold, e^l far below it), so the losses
// stay finite for logits of ±100, where sigmoid rounds to exactly 0 or 1 in float32 and log(sigmoid) is -Inf.
const softplus = (x: tf.Tensor): tf.Tensor => tf.softplus(x);

/**
 * The discriminator's loss -V(D, G) for one batch: -mean log D(x) - mean log(1 - D(G(z))) =
 * mean softplus(-l_real) + mean softplus(l_fake). Its minimum over D is log 4 - 2 JSD (notebooks/04-gan).
 */
export function discriminatorLoss(realLogits: tf.Tensor, fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.add(tf.mean(softplus(tf.neg(realLogits))), tf.mean(softplus(fakeLogits))) as tf.Scalar);
}

/**
 * The generator's loss of the original min-max game, minimised: mean log(1 - D(G(z))) = -mean softplus(l_fake).
 * It saturates: when D confidently rejects the fakes (l_fake -> -∞) its gradient sigmoid(l_fake)/B vanishes.
 */
export function minimaxGeneratorLoss(fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(softplus(fakeLogits))) as tf.Scalar);
}

/**
 * The non-saturating generator loss (Goodfellow et al. 2014, section 3): -mean log D(G(z)) =
 * mean softplus(-l_fake). Same fixed point as the min-max loss, but its gradient -sigmoid(-l_fake)/B tends to
 * -1/B, not 0, when D confidently rejects the fakes.
 */
export function nonSaturatingGeneratorLoss(fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(softplus(tf.neg(fakeLogits))) as tf.Scalar);
}

/** Which generator loss a {@link Gan} minimises. */
export type GeneratorLossKind = "non-saturating" | "minimax";

/** The generator loss of the given kind. */
export function generatorLoss(kind: GeneratorLossKind, fakeLogits: tf.Tensor): tf.Scalar {
  return kind === "minimax" ? minimaxGeneratorLoss(fakeLogits) : nonSaturatingGeneratorLoss(fakeLogits);
}

/** The optimal discriminator for fixed G (Goodfellow et al. 2014, Proposition 1): D*(x) = p_data(x) / (p_data(x) + p_g(x)). */
export function optimalDiscriminator(pData: number, pG: number): number {
  if (!(pData >= 0) || !(pG >= 0)) throw new RangeError(`optimalDiscriminator: densities must be >= 0, got ${pData} and ${pG}`);
  // Where neither distribution has mass D* is undefined; 1/2 is the limit along p_data = p_g.
  return pData + pG === 0 ? 0.5 : pData / (pData + pG);
}

// ---------------------------------------------------------------------------------------------------------
// Packing (PacGAN)

/**
 * Packs m samples into one discriminator input (Lin et al. 2018, "PacGAN", section 3): (B, ...) ->
 * (B/m, m·features) for flat samples, or (B/m, H, W, m·C) for images, so D judges m samples at once.
 * Consecutive samples form a pack. m = 1 returns the input reshaped only.
 */
export function packSamples(x: tf.Tensor, m: number): tf.Tensor {
  const B = x.shape[0]!;
  if (!Number.isInteger(m) || m < 1 || B % m !== 0) throw new RangeError(`packSamples: batch ${B} is not a multiple of the pack size ${m}`);
  return tf.tidy(() => {
    if (x.rank === 4) {
      const [, H, W, C] = x.shape as [number, number, number, number];
      // (B/m, m, H, W, C) -> (B/m, H, W, m, C): the pack's images become channels.
      return tf.reshape(tf.transpose(tf.reshape(x, [B / m, m, H, W, C]), [0, 2, 3, 1, 4]), [B / m, H, W, m * C]);
    }
    return tf.reshape(x, [B / m, -1]);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Sampling and training

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
    this.dOptimizer = tf.train.adam(lr, b1, b2);
    this.gOptimizer = tf.train.adam(lr, b1, b2);
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

// ---------------------------------------------------------------------------------------------------------
// The lesson's two GANs, shared by notebooks/04-gan.ipynb and scripts/train-gan.ts so they cannot drift apart.

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
   * which on the single-threaded wasm backend takes seconds per step. Default "mlp".
   */
  architecture: "mlp" | "conv";
  /** Latent size. Default 64. */
  latentDim: number;
  /** Channels of the conv pair ({@link ConvGanOptions}). Default 32. */
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
  const makeG = (r: Rng): Network =>
    c.architecture === "conv"
      ? new ConvGenerator({ latentDim: c.latentDim, channels: c.channels, rng: r })
      : new ImageMlp(createMlp({ sizes: [c.latentDim, 256, 512, 784], outputActivation: "tanh", name: "G", rng: r }));
  const D = c.architecture === "conv" ? new ConvDiscriminator({ channels: c.channels, rng: rng.fork() }) : null;
  return new Gan({
    generator: makeG(rng.fork()),
    discriminator: D ?? createMlp({ sizes: [784, 512, 256, 1], activation: "leakyRelu", name: "D", rng: rng.fork() }),
    averageGenerator: makeG(rng.fork()),
    averageDecay: c.averageDecay,
    learningRate: c.learningRate,
    rng: rng.fork(),
  });
}

/** An MLP whose 784 outputs are reshaped to (28, 28, 1) images. */
class ImageMlp implements Network {
  readonly outputShape = [28, 28, 1];
  constructor(private readonly mlp: Mlp) {}
  get name(): string {
    return this.mlp.name;
  }
  get inputSize(): number {
    return this.mlp.inputSize;
  }
  get variables(): tf.Variable[] {
    return this.mlp.variables;
  }
  apply(x: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => tf.reshape(this.mlp.apply(x), [-1, 28, 28, 1]));
  }
  namedWeights(): Record<string, tf.Tensor> {
    return this.mlp.namedWeights();
  }
  loadWeights(weights: Record<string, tf.Tensor>): void {
    this.mlp.loadWeights(weights);
  }
  parameterCount(): number {
    return this.mlp.parameterCount();
  }
  dispose(): void {
    this.mlp.dispose();
  }
}

/** A random batch of `batch` images from (N, 28, 28) images in [0, 1], as (batch, 28, 28, 1) in [-1, 1]. */
export function imageBatch(images: tf.Tensor3D, batch: number, rng: Rng): tf.Tensor4D {
  const n = images.shape[0];
  const idx = Int32Array.from({ length: batch }, () => rng.int(n));
  return tf.tidy(() => tf.sub(tf.mul(tf.gather(images, tf.tensor1d(idx, "int32")), 2), 1).reshape([batch, 28, 28, 1]) as tf.Tensor4D);
}
