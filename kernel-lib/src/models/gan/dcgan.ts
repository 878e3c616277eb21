/**
 * DCGAN networks for 28x28x1 images in [-1, 1] (Radford, Metz and Chintala 2016, "Unsupervised Representation
 * Learning with Deep Convolutional GANs", section 3 and the PyTorch DCGAN example), at the sizes the benchmark
 * of the convolution work uses (scripts/bench-workloads.ts, "dcgan"), for the image GAN of
 * notebooks/05-gan.ipynb:
 *
 * - G: z -> dense to 7x7x2C, ReLU -> 4x4 stride-2 transposed conv to 14x14xC, batch norm, ReLU -> 4x4 stride-2
 *   transposed conv to 28x28x1, tanh;
 * - D: 4x4 stride-2 conv to 14x14xC, LeakyReLU 0.2 -> 4x4 stride-2 conv to 7x7x2C, LeakyReLU 0.2 -> dense to a logit.
 *
 * Weights start from N(0, 0.02) and batch-norm scales from N(1, 0.02), as the paper prescribes. Batch norm always
 * uses the statistics of the batch it is given (training mode, as DCGAN samples are usually drawn), so sample in
 * batches of dozens, not one image at a time.
 */
import * as tf from "@tensorflow/tfjs";
import { VariableNetwork } from "../../nn/network";
import { Rng } from "../../runtime/random";

export interface DcganOptions {
  /** Latent size. Default 64. */
  latentDim?: number;
  /** Channels C of the wider feature maps (the 7x7 ones have 2C). Default 64. */
  channels?: number;
  /** Seeds the initial weights. */
  rng: Rng;
}

const normal = (shape: number[], r: Rng, mean = 0) => tf.randomNormal(shape, mean, 0.02, "float32", r.seed());

/** Batch normalisation over (B, H, W) of each channel with the batch's own statistics, then gamma and beta. */
export function batchNorm2d(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): tf.Tensor4D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, [0, 1, 2], true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta) as tf.Tensor4D;
  });
}

/** The DCGAN generator (see the file comment). */
export class DcganGenerator extends VariableNetwork {
  readonly inputSize: number;
  readonly outputShape = [28, 28, 1];
  private readonly c: number;
  private readonly v: Record<string, tf.Variable> = {};
  constructor(options: DcganOptions) {
    super("G");
    const r = options.rng;
    this.inputSize = options.latentDim ?? 64;
    const c = (this.c = options.channels ?? 64);
    this.v.fcKernel = this.addVariable("fc/kernel", normal([this.inputSize, 49 * 2 * c], r));
    this.v.fcBias = this.addVariable("fc/bias", tf.zeros([49 * 2 * c]));
    this.v.up1Kernel = this.addVariable("up1/kernel", normal([4, 4, c, 2 * c], r)); // (k, k, out, in) for conv2dTranspose
    this.v.up1Bias = this.addVariable("up1/bias", tf.zeros([c]));
    this.v.bnGamma = this.addVariable("bn/gamma", normal([c], r, 1));
    this.v.bnBeta = this.addVariable("bn/beta", tf.zeros([c]));
    this.v.up2Kernel = this.addVariable("up2/kernel", normal([4, 4, 1, c], r));
    this.v.up2Bias = this.addVariable("up2/bias", tf.zeros([1]));
  }

  apply(z: tf.Tensor): tf.Tensor4D {
    const v = this.v as Record<string, tf.Tensor>;
    const c = this.c;
    return tf.tidy(() => {
      const B = z.shape[0]!;
      const h0 = tf.relu(tf.reshape(tf.add(tf.matMul(tf.reshape(z, [B, this.inputSize]), v.fcKernel!), v.fcBias!), [B, 7, 7, 2 * c])) as tf.Tensor4D;
      const up1 = tf.add(tf.conv2dTranspose(h0, v.up1Kernel as tf.Tensor4D, [B, 14, 14, c], 2, "same"), v.up1Bias!) as tf.Tensor4D; // (B, 14, 14, C)
      const h1 = tf.relu(batchNorm2d(up1, v.bnGamma!, v.bnBeta!)) as tf.Tensor4D;
      return tf.tanh(tf.add(tf.conv2dTranspose(h1, v.up2Kernel as tf.Tensor4D, [B, 28, 28, 1], 2, "same"), v.up2Bias!)) as tf.Tensor4D; // (B, 28, 28, 1)
    });
  }
}

/** The DCGAN discriminator (see the file comment): (B, 28, 28, 1) -> (B, 1) logits. */
export class DcganDiscriminator extends VariableNetwork {
  readonly inputSize = 784;
  readonly outputShape = [1];
  private readonly v: Record<string, tf.Variable> = {};
  constructor(options: Omit<DcganOptions, "latentDim">) {
    super("D");
    const r = options.rng;
    const c = options.channels ?? 64;
    this.v.conv1Kernel = this.addVariable("conv1/kernel", normal([4, 4, 1, c], r));
    this.v.conv1Bias = this.addVariable("conv1/bias", tf.zeros([c]));
    this.v.conv2Kernel = this.addVariable("conv2/kernel", normal([4, 4, c, 2 * c], r));
    this.v.conv2Bias = this.addVariable("conv2/bias", tf.zeros([2 * c]));
    this.v.fcKernel = this.addVariable("fc/kernel", normal([49 * 2 * c, 1], r));
    this.v.fcBias = this.addVariable("fc/bias", tf.zeros([1]));
  }

  apply(x: tf.Tensor): tf.Tensor2D {
    const v = this.v as Record<string, tf.Tensor>;
    return tf.tidy(() => {
      const B = x.shape[0]!;
      const img = tf.reshape(x, [B, 28, 28, 1]) as tf.Tensor4D;
      // "same" at stride 2 with a 4x4 kernel pads 1 on each side: PyTorch's padding=1.
      const h1 = tf.leakyRelu(tf.add(tf.conv2d(img, v.conv1Kernel as tf.Tensor4D, 2, "same"), v.conv1Bias!), 0.2) as tf.Tensor4D; // (B, 14, 14, C)
      const h2 = tf.leakyRelu(tf.add(tf.conv2d(h1, v.conv2Kernel as tf.Tensor4D, 2, "same"), v.conv2Bias!), 0.2); //                (B, 7, 7, 2C)
      return tf.add(tf.matMul(tf.reshape(h2, [B, -1]), v.fcKernel!), v.fcBias!) as tf.Tensor2D; // (B, 1)
    });
  }
}
