/**
 * Multi-head cross-attention: the queries come from one sequence (the decoder's), the keys and values from
 * another (the encoder's output), softmax(Q Kᵀ / √d_k) V in every head (Vaswani et al. 2017, §3.2.3). It is
 * lesson 01's scaledDotProductAttention (models/attention.ts) with keys and values projected from other inputs.
 * Shared by two model families, so it sits beside attention.ts: the encoder-decoder (models/seq2seq/) and the
 * latent diffusion U-Net, whose image features attend to class tokens (models/latent/); taught in
 * notebooks/03-encoder-decoder.ipynb and notebooks/07-latent-diffusion.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { AttentionResult, scaledDotProductAttention } from "./attention";
import { ShapeError } from "../nn/errors";
import { linear } from "../nn/linear";
import { Rng } from "../runtime/random";

export class MultiHeadCrossAttention {
  readonly dK: number;
  readonly weights: { wq: tf.Variable; wk: tf.Variable; wv: tf.Variable; wo: tf.Variable; bq: tf.Variable; bk: tf.Variable; bv: tf.Variable; bo: tf.Variable };

  /** @param dMemory width of the sequence the keys and values come from (default dModel). */
  constructor(
    readonly dModel: number,
    readonly numHeads: number,
    r: Rng,
    readonly dMemory = dModel,
  ) {
    if (!Number.isInteger(dModel) || !Number.isInteger(numHeads) || numHeads < 1 || dModel % numHeads !== 0) {
      throw new RangeError(`MultiHeadCrossAttention: numHeads (${numHeads}) must be a positive integer dividing dModel (${dModel})`);
    }
    this.dK = dModel / numHeads;
    const w = (rows: number) => tf.tidy(() => tf.variable(tf.randomNormal([rows, dModel], 0, 0.02, "float32", r.seed())));
    const b = () => tf.tidy(() => tf.variable(tf.zeros([dModel])));
    this.weights = { wq: w(dModel), wk: w(dMemory), wv: w(dMemory), wo: w(dModel), bq: b(), bk: b(), bv: b(), bo: b() };
  }

  private split(x: tf.Tensor): tf.Tensor {
    const [B, T] = x.shape as [number, number, number];
    return x.reshape([B, T, this.numHeads, this.dK]).transpose([0, 2, 1, 3]); // (B, h, T, dK)
  }

  /**
   * Queries from `x` (B, Tq, d), keys and values from `memory` (B, Tk, dMemory) -> output (B, Tq, d) and weights
   * (B, h, Tq, Tk). `mask` broadcasts to (B, h, Tq, Tk): a key padding mask (B, 1, 1, Tk) hides padded keys.
   */
  apply(x: tf.Tensor, memory: tf.Tensor, mask?: tf.Tensor): AttentionResult {
    if (x.rank !== 3 || memory.rank !== 3 || x.shape[2] !== this.dModel || memory.shape[2] !== this.dMemory || x.shape[0] !== memory.shape[0]) {
      throw new ShapeError(`MultiHeadCrossAttention: x [${x.shape.join(", ")}] and memory [${memory.shape.join(", ")}] must be [B, T, ${this.dModel}] and [B, S, ${this.dMemory}]`);
    }
    const W = this.weights;
    return tf.tidy(() => {
      const q = this.split(linear(x, W.wq, W.bq)); //      (B, h, Tq, dK)
      const k = this.split(linear(memory, W.wk, W.bk)); // (B, h, Tk, dK)
      const v = this.split(linear(memory, W.wv, W.bv)); // (B, h, Tk, dK)
      const { output, weights } = scaledDotProductAttention(q, k, v, mask);
      const [B, , Tq] = output.shape as [number, number, number, number];
      return { output: linear(output.transpose([0, 2, 1, 3]).reshape([B, Tq, this.dModel]), W.wo, W.bo), weights };
    });
  }

  /** The weights as plain numbers, W as (in, out) rows, for checks by hand (lesson-checks/03-encoder-decoder.ts). */
  weightArrays(): { wq: number[][]; wk: number[][]; wv: number[][]; wo: number[][]; bq: number[]; bk: number[]; bv: number[]; bo: number[] } {
    const W = this.weights;
    const m = (v: tf.Variable) => v.arraySync() as number[][];
    const b = (v: tf.Variable) => v.arraySync() as number[];
    return { wq: m(W.wq), wk: m(W.wk), wv: m(W.wv), wo: m(W.wo), bq: b(W.bq), bk: b(W.bk), bv: b(W.bv), bo: b(W.bo) };
  }

  variables(): Record<string, tf.Variable> {
    return { ...this.weights };
  }

  dispose(): void {
    tf.dispose(Object.values(this.weights));
  }
}
