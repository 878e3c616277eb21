/**
 * A Transformer encoder-decoder (Vaswani et al. 2017, §3.1), pre-LayerNorm as lesson 02's GPT: the encoder
 * reads the whole source with bidirectional self-attention (padding hidden); each decoder block applies causal
 * self-attention over the output so far, cross-attention to the encoder's output, and the MLP, each inside a
 * residual connection. Trained with teacher forcing (the decoder reads the true output shifted right) and a
 * label-smoothed cross-entropy (Szegedy et al. 2016, §7). Taught in notebooks/03-encoder-decoder.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { causalMask } from "../attention";
import { Block } from "../transformer/block";
import { MultiHeadAttention } from "../attention";
import { MultiHeadCrossAttention } from "../cross-attention";
import { PAD } from "./vocab";
import { gelu } from "../../nn/activations";
import { param } from "../../nn/init";
import { layerNorm } from "../../nn/layer-norm";
import { linear } from "../../nn/linear";
import { Rng } from "../../runtime/random";

export interface Seq2SeqConfig {
  srcVocab: number;
  tgtVocab: number;
  /** Longest source and target (with BOS/EOS) the position tables cover. */
  maxSrcLen: number;
  maxTgtLen: number;
  dModel: number;
  numHeads: number;
  encoderLayers: number;
  decoderLayers: number;
  /** MLP hidden width. Default 4 * dModel. */
  dFF?: number;
}

type Norm = { gamma: tf.Variable; beta: tf.Variable };

/** One pre-LN decoder block: x + self-attention (causal), + cross-attention to memory, + MLP. */
export class DecoderBlock {
  readonly selfAttn: MultiHeadAttention;
  readonly crossAttn: MultiHeadCrossAttention;
  readonly norms: [Norm, Norm, Norm];
  readonly mlp: { w1: tf.Variable; b1: tf.Variable; w2: tf.Variable; b2: tf.Variable };

  constructor(dModel: number, numHeads: number, dFF: number, r: Rng) {
    this.selfAttn = new MultiHeadAttention({ dModel, numHeads }, r);
    this.crossAttn = new MultiHeadCrossAttention(dModel, numHeads, r);
    const norm = (): Norm => ({ gamma: param(() => tf.ones([dModel])), beta: param(() => tf.zeros([dModel])) });
    this.norms = [norm(), norm(), norm()];
    this.mlp = {
      w1: param(() => tf.randomNormal([dModel, dFF], 0, 0.02, "float32", r.seed())),
      b1: param(() => tf.zeros([dFF])),
      w2: param(() => tf.randomNormal([dFF, dModel], 0, 0.02, "float32", r.seed())),
      b2: param(() => tf.zeros([dModel])),
    };
  }

  /** x (B, T, d), memory (B, S, d) -> (B, T, d) and the cross-attention weights (B, h, T, S). */
  apply(x: tf.Tensor, memory: tf.Tensor, selfMask: tf.Tensor, memoryMask: tf.Tensor): { output: tf.Tensor; cross: tf.Tensor } {
    return tf.tidy(() => {
      const ln = (t: tf.Tensor, i: number) => layerNorm(t, this.norms[i]!.gamma, this.norms[i]!.beta);
      const h1 = tf.add(x, this.selfAttn.apply(ln(x, 0), selfMask).output);
      const c = this.crossAttn.apply(ln(h1, 1), memory, memoryMask);
      const h2 = tf.add(h1, c.output);
      const output = tf.add(h2, linear(gelu(linear(ln(h2, 2), this.mlp.w1, this.mlp.b1)), this.mlp.w2, this.mlp.b2));
      return { output, cross: c.weights };
    });
  }

  variables(prefix: string): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = {};
    for (const [k, v] of Object.entries(this.selfAttn.variables())) out[`${prefix}.self.${k}`] = v;
    for (const [k, v] of Object.entries(this.crossAttn.variables())) out[`${prefix}.cross.${k}`] = v;
    this.norms.forEach((n, i) => Object.assign(out, { [`${prefix}.ln${i + 1}.gamma`]: n.gamma, [`${prefix}.ln${i + 1}.beta`]: n.beta }));
    for (const [k, v] of Object.entries(this.mlp)) out[`${prefix}.mlp.${k}`] = v;
    return out;
  }
}

/** The encoder-decoder (see the file comment). Ids are int32 with PAD = 0. */
export class EncoderDecoder {
  readonly config: Required<Seq2SeqConfig>;
  private readonly emb: { src: tf.Variable; tgt: tf.Variable; srcPos: tf.Variable; tgtPos: tf.Variable };
  readonly encoder: Block[];
  readonly decoder: DecoderBlock[];
  private readonly lnEnc: Norm;
  private readonly lnDec: Norm;
  private readonly head: { w: tf.Variable; b: tf.Variable };

  constructor(config: Seq2SeqConfig, r: Rng) {
    const c: Required<Seq2SeqConfig> = { dFF: 4 * config.dModel, ...config };
    for (const k of ["srcVocab", "tgtVocab", "maxSrcLen", "maxTgtLen", "dModel", "numHeads", "encoderLayers", "decoderLayers", "dFF"] as const) {
      if (!Number.isInteger(c[k]) || c[k] < 1) throw new RangeError(`EncoderDecoder: config.${k} must be a positive integer, got ${c[k]}`);
    }
    this.config = c;
    const n = (shape: number[]) => param(() => tf.randomNormal(shape, 0, 0.02, "float32", r.seed()));
    this.emb = { src: n([c.srcVocab, c.dModel]), tgt: n([c.tgtVocab, c.dModel]), srcPos: n([c.maxSrcLen, c.dModel]), tgtPos: n([c.maxTgtLen, c.dModel]) };
    this.encoder = Array.from({ length: c.encoderLayers }, () => new Block({ dModel: c.dModel, numHeads: c.numHeads, dFF: c.dFF }, r));
    this.decoder = Array.from({ length: c.decoderLayers }, () => new DecoderBlock(c.dModel, c.numHeads, c.dFF, r));
    const norm = (): Norm => ({ gamma: param(() => tf.ones([c.dModel])), beta: param(() => tf.zeros([c.dModel])) });
    this.lnEnc = norm();
    this.lnDec = norm();
    this.head = { w: n([c.dModel, c.tgtVocab]), b: param(() => tf.zeros([c.tgtVocab])) };
  }

  private embed(ids: tf.Tensor, table: tf.Variable, pos: tf.Variable, maxLen: number, what: string): tf.Tensor {
    const T = ids.shape[1]!;
    if (ids.rank !== 2 || T < 1 || T > maxLen) throw new RangeError(`EncoderDecoder: ${what} ids must be [B, T] with 1 <= T <= ${maxLen}, got [${ids.shape.join(", ")}]`);
    return tf.add(tf.gather(table, ids.toInt()), pos.slice([0, 0], [T, this.config.dModel]));
  }

  /** The key padding mask of source ids (B, S): (B, 1, 1, S), 1 where the token is not PAD. */
  sourceMask(src: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.notEqual(src, PAD).toFloat().reshape([src.shape[0]!, 1, 1, src.shape[1]!]));
  }

  /** The encoder's output for source ids (B, S): (B, S, d). */
  encode(src: tf.Tensor, srcMask: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let x = this.embed(src, this.emb.src, this.emb.srcPos, this.config.maxSrcLen, "source");
      for (const block of this.encoder) x = block.apply(x, srcMask).output;
      return layerNorm(x, this.lnEnc.gamma, this.lnEnc.beta);
    });
  }

  /**
   * Next-token logits (B, T, V) for decoder inputs (B, T), and, with `withCross`, each decoder block's
   * cross-attention weights (B, h, T, S). `causal: false` drops the causal mask (only to show what it prevents).
   */
  decode(memory: tf.Tensor, srcMask: tf.Tensor, tgtIn: tf.Tensor, options: { withCross?: boolean; causal?: boolean } = {}): { logits: tf.Tensor; cross: tf.Tensor[] } {
    const { withCross = false, causal = true } = options;
    return tf.tidy(() => {
      const T = tgtIn.shape[1]!;
      let x = this.embed(tgtIn, this.emb.tgt, this.emb.tgtPos, this.config.maxTgtLen, "target");
      const mask = causal ? causalMask(T) : tf.ones([T, T]);
      const cross: tf.Tensor[] = [];
      for (const block of this.decoder) {
        const out = block.apply(x, memory, mask, srcMask);
        x = out.output;
        if (withCross) cross.push(out.cross);
      }
      return { logits: linear(layerNorm(x, this.lnDec.gamma, this.lnDec.beta), this.head.w, this.head.b), cross };
    });
  }

  /**
   * Teacher-forced, label-smoothed cross-entropy (nats per target token, PAD targets excluded): the target
   * distribution puts 1 - ε on the true token and ε spread evenly over the vocabulary.
   */
  loss(src: tf.Tensor, tgtIn: tf.Tensor, tgtOut: tf.Tensor, labelSmoothing = 0): tf.Scalar {
    return tf.tidy(() => {
      const srcMask = this.sourceMask(src);
      const { logits } = this.decode(this.encode(src, srcMask), srcMask, tgtIn);
      const V = this.config.tgtVocab;
      const logp = tf.logSoftmax(logits); // (B, T, V)
      const target = tf.add(tf.mul(tf.oneHot(tgtOut.toInt(), V), 1 - labelSmoothing), labelSmoothing / V);
      const perToken = tf.neg(tf.sum(tf.mul(target, logp), -1)); // (B, T)
      const real = tf.notEqual(tgtOut, PAD).toFloat();
      return tf.div(tf.sum(tf.mul(perToken, real)), tf.maximum(tf.sum(real), 1)) as tf.Scalar;
    });
  }

  variables(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = { "emb.src": this.emb.src, "emb.tgt": this.emb.tgt, "emb.srcPos": this.emb.srcPos, "emb.tgtPos": this.emb.tgtPos };
    this.encoder.forEach((b, i) => {
      for (const [k, v] of Object.entries(b.variables())) out[`enc${i}.${k}`] = v;
    });
    this.decoder.forEach((b, i) => Object.assign(out, b.variables(`dec${i}`)));
    Object.assign(out, { "lnEnc.gamma": this.lnEnc.gamma, "lnEnc.beta": this.lnEnc.beta, "lnDec.gamma": this.lnDec.gamma, "lnDec.beta": this.lnDec.beta, "head.w": this.head.w, "head.b": this.head.b });
    return out;
  }

  numParams(): number {
    return Object.values(this.variables()).reduce((s, v) => s + v.size, 0);
  }

  dispose(): void {
    tf.dispose(Object.values(this.variables()));
  }
}
