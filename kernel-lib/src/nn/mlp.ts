/**
 * A multilayer perceptron with an optional minibatch-standard-deviation feature (a remedy for mode collapse).
 * Taught in notebooks/05-gan.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { Activation, activate } from "./activations";
import { uniformInit } from "./init";
import { affine } from "./linear";
import { VariableNetwork } from "./network";
import { Rng, rng as globalRng } from "../runtime/random";

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
