/**
 * The pre-LayerNorm Transformer block: x + attention(LN(x)), then x + MLP(LN(x)) (Xiong et al. 2020 for the
 * pre-LN placement). Taught in notebooks/02-transformer.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiHeadAttention } from "../attention";
import { gelu } from "../../nn/activations";
import { param } from "../../nn/init";
import { layerNorm } from "../../nn/layer-norm";
import { linear } from "../../nn/linear";
import { Rng, rng as globalRng } from "../../runtime/random";

export interface BlockConfig {
  dModel: number;
  numHeads: number;
  /** Hidden width of the MLP. Default 4 * dModel (Vaswani et al. §3.3). */
  dFF?: number;
}

/**
 * One pre-LayerNorm Transformer block: x + attention(LN(x)), then + MLP(LN(x)). With the norms inside
 * the residual branches the residual stream itself is never normalised, which is what lets deep stacks
 * train without a learning-rate warm-up (Xiong et al. 2020).
 */
export class Block {
  readonly attn: MultiHeadAttention;
  readonly ln1: { gamma: tf.Variable; beta: tf.Variable };
  readonly ln2: { gamma: tf.Variable; beta: tf.Variable };
  readonly mlp: { w1: tf.Variable; b1: tf.Variable; w2: tf.Variable; b2: tf.Variable };

  constructor(config: BlockConfig, r: Rng = globalRng()) {
    const { dModel, numHeads } = config;
    const dFF = config.dFF ?? 4 * dModel;
    this.attn = new MultiHeadAttention({ dModel, numHeads }, r);
    const norm = () => ({ gamma: param(() => tf.ones([dModel])), beta: param(() => tf.zeros([dModel])) });
    this.ln1 = norm();
    this.ln2 = norm();
    this.mlp = {
      w1: param(() => tf.randomNormal([dModel, dFF], 0, 0.02, "float32", r.seed())),
      b1: param(() => tf.zeros([dFF])),
      w2: param(() => tf.randomNormal([dFF, dModel], 0, 0.02, "float32", r.seed())),
      b2: param(() => tf.zeros([dModel])),
    };
  }

  /** The MLP: dModel → dFF → GELU → dModel, applied to every position alone. */
  feedForward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => linear(gelu(linear(x, this.mlp.w1, this.mlp.b1)), this.mlp.w2, this.mlp.b2));
  }

  /**
   * x (B, T, dModel) → (B, T, dModel), and the attention weights (B, h, T, T). With `dropout` (training only),
   * each residual branch is dropped out at that rate before it is added (Vaswani et al. 2017, §5.4), seeded.
   */
  apply(x: tf.Tensor, mask?: tf.Tensor, dropout?: { rate: number; seed: number }): { output: tf.Tensor; weights: tf.Tensor } {
    const drop = (t: tf.Tensor, k: number) => (dropout && dropout.rate > 0 ? tf.dropout(t, dropout.rate, undefined, dropout.seed + k) : t);
    return tf.tidy(() => {
      const a = this.attn.apply(layerNorm(x, this.ln1.gamma, this.ln1.beta), mask);
      const h = tf.add(x, drop(a.output, 0)); // residual 1
      const output = tf.add(h, drop(this.feedForward(layerNorm(h, this.ln2.gamma, this.ln2.beta)), 1)); // residual 2
      return { output, weights: a.weights };
    });
  }

  variables(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = {};
    for (const [k, v] of Object.entries(this.attn.variables())) out[`attn.${k}`] = v;
    out["ln1.gamma"] = this.ln1.gamma;
    out["ln1.beta"] = this.ln1.beta;
    out["ln2.gamma"] = this.ln2.gamma;
    out["ln2.beta"] = this.ln2.beta;
    for (const [k, v] of Object.entries(this.mlp)) out[`mlp.${k}`] = v;
    return out;
  }

  dispose(): void {
    tf.dispose(Object.values(this.variables()));
  }
}
