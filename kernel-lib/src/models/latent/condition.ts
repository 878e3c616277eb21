/**
 * The condition of the latent denoiser: a short sequence of learned tokens per class, plus one learned
 * sequence for "no class" (the null condition ∅ of classifier-free guidance), and the block that reads them:
 * cross-attention from the image features (queries) to the tokens (keys and values), the way Stable Diffusion's
 * U-Net reads the text encoder's token embeddings (Rombach et al. 2022, section 3.3). Taught in
 * notebooks/07-latent-diffusion.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiHeadCrossAttention } from "../cross-attention";
import { groupNorm } from "../../nn/group-norm";
import { Rng } from "../../runtime/random";

/**
 * Token sequences (numClasses + 1, tokens, dim), N(0, 1) at the start; row `numClasses` is the null condition.
 * `lookup(labels)` gives (B, tokens, dim); labels outside 0..numClasses are an error naming them.
 */
export class ClassTokens {
  readonly table: tf.Variable;

  constructor(
    readonly numClasses: number,
    readonly tokens: number,
    readonly dim: number,
    rng: Rng,
    name: string,
  ) {
    this.table = tf.tidy(() => tf.variable(tf.randomNormal([numClasses + 1, tokens, dim], 0, 1, "float32", rng.seed()), true, name));
  }

  lookup(labels: ArrayLike<number>): tf.Tensor3D {
    for (const y of Array.from(labels)) {
      if (!Number.isInteger(y) || y < 0 || y > this.numClasses) {
        throw new RangeError(`ClassTokens: a label must be an integer in 0..${this.numClasses} (${this.numClasses} = no class), got ${y}`);
      }
    }
    return tf.tidy(() => tf.gather(this.table, tf.tensor1d(Int32Array.from(labels), "int32")) as tf.Tensor3D);
  }
}

/**
 * A spatial cross-attention block: x + CrossAttention(GroupNorm(x) as (B, H·W, c) queries, tokens as keys and
 * values), reshaped back to (B, H, W, c). The attention is kernel-lib's MultiHeadCrossAttention, whose core is
 * lesson 01's scaledDotProductAttention.
 */
export class SpatialCrossAttention {
  readonly attention: MultiHeadCrossAttention;
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;

  constructor(
    readonly channels: number,
    numHeads: number,
    dCond: number,
    readonly groups: number,
    rng: Rng,
  ) {
    this.attention = new MultiHeadCrossAttention(channels, numHeads, rng, dCond);
    // Inside tidy: tf.variable shares the initial tensor's data, and the initial tensor itself must not stay alive.
    this.gamma = tf.tidy(() => tf.variable(tf.ones([channels])));
    this.beta = tf.tidy(() => tf.variable(tf.zeros([channels])));
  }

  /** x (B, H, W, c), tokens (B, S, dCond) -> (B, H, W, c); also the attention weights (B, heads, H·W, S). */
  applyWithWeights(x: tf.Tensor4D, tokens: tf.Tensor3D): { output: tf.Tensor4D; weights: tf.Tensor } {
    return tf.tidy(() => {
      const [B, H, W, c] = x.shape;
      const h = groupNorm(x, this.gamma as tf.Tensor1D, this.beta as tf.Tensor1D, this.groups).reshape([B, H * W, c]); // (B, HW, c)
      const { output, weights } = this.attention.apply(h, tokens);
      return { output: tf.add(x, output.reshape([B, H, W, c])) as tf.Tensor4D, weights };
    });
  }

  apply(x: tf.Tensor4D, tokens: tf.Tensor3D): tf.Tensor4D {
    return tf.tidy(() => this.applyWithWeights(x, tokens).output);
  }

  /** The variables by short name (norm.gamma, norm.beta, wq, wk, ...). */
  variables(): Record<string, tf.Variable> {
    return { "norm.gamma": this.gamma, "norm.beta": this.beta, ...this.attention.variables() };
  }

  dispose(): void {
    tf.dispose([this.gamma, this.beta]);
    this.attention.dispose();
  }
}
