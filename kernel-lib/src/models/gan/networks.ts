/**
 * The GAN's image networks: a small convolutional generator and discriminator for 28x28 images, and an MLP
 * whose outputs are reshaped to images. Taught in notebooks/05-gan.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { conv2dPatches, spaceToDepth2x, upsample2x } from "../../nn/conv";
import { uniformInit } from "../../nn/init";
import { affine } from "../../nn/linear";
import { Mlp } from "../../nn/mlp";
import { Network, VariableNetwork } from "../../nn/network";
import { Rng, rng as globalRng } from "../../runtime/random";

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

/** An MLP whose 784 outputs are reshaped to (28, 28, 1) images. */
export class ImageMlp implements Network {
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
