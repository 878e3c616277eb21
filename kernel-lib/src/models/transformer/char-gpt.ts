/**
 * A small decoder-only Transformer language model over characters (a GPT in the style of nanoGPT):
 * token embeddings plus positional encodings (Vaswani et al. 2017, §3.5), a stack of pre-LayerNorm
 * blocks (block.ts), a final LayerNorm and a linear head to next-character logits; its size presets.
 * Taught in notebooks/02-transformer.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { causalMask } from "../attention";
import { Block } from "./block";
import { sinusoidalPositionalEncoding } from "./positional-encoding";
import { ShapeError } from "../../nn/errors";
import { param } from "../../nn/init";
import { layerNorm } from "../../nn/layer-norm";
import { linear } from "../../nn/linear";
import { crossEntropy } from "../../nn/losses";
import { Rng, rng as globalRng } from "../../runtime/random";

export interface CharGPTConfig {
  /** Number of distinct characters (the tokenizer's vocabSize). */
  vocabSize: number;
  /** Longest context the model reads, T. */
  contextLength: number;
  /** Width of the residual stream, d_model. */
  dModel: number;
  /** Attention heads per block, h (must divide dModel). */
  numHeads: number;
  /** Number of blocks. */
  numLayers: number;
  /** MLP hidden width. Default 4 * dModel. */
  dFF?: number;
  /** "learned" (a trained table, as GPT-2) or "sinusoidal" (fixed, as Vaswani et al.). Default "learned". */
  positional?: "learned" | "sinusoidal";
  /**
   * Weight tying (Press and Wolf 2017; Vaswani et al. §3.4): the output head reuses the token embedding table,
   * logits = x · Eᵀ + b, which saves V·d parameters. Default false (left out of the config when false, so
   * older checkpoints still match).
   */
  tieWeights?: boolean;
}

/** What a model's config holds once defaults are filled in. */
export type FullCharGPTConfig = Required<Omit<CharGPTConfig, "tieWeights">> & { tieWeights?: true };

/**
 * Named sizes (vocabSize comes from the tokenizer). `tiny` is for tests and quick mode, `small` trains
 * in minutes on one CPU core, `base` is the lesson's full target (4 layers, 4 heads, d_model 128,
 * context 64: about 0.8M parameters).
 */
export const CHAR_GPT_PRESETS = {
  tiny: { contextLength: 32, dModel: 32, numHeads: 2, numLayers: 1 },
  small: { contextLength: 64, dModel: 64, numHeads: 4, numLayers: 2 },
  base: { contextLength: 64, dModel: 128, numHeads: 4, numLayers: 4 },
} as const satisfies Record<string, Omit<CharGPTConfig, "vocabSize">>;

export type CharGPTPreset = keyof typeof CHAR_GPT_PRESETS;

/** The config of a preset for a vocabulary of `vocabSize` characters. */
export function charGPTConfig(preset: CharGPTPreset, vocabSize: number, overrides: Partial<CharGPTConfig> = {}): CharGPTConfig {
  const p = CHAR_GPT_PRESETS[preset];
  if (!p) throw new RangeError(`charGPTConfig: no preset "${preset}"; use one of ${Object.keys(CHAR_GPT_PRESETS).join(", ")}`);
  return { vocabSize, ...p, positional: "learned", ...overrides };
}

/**
 * A decoder-only character language model. `ids` (B, T) of int32 with T <= contextLength → next-character
 * logits (B, T, vocabSize). Owns its variables: call {@link dispose} when done.
 */
export class CharGPT {
  readonly config: FullCharGPTConfig;
  readonly tokEmb: tf.Variable; // (V, dModel)
  readonly posEmb: tf.Variable | null; // (T, dModel), learned
  readonly posFixed: tf.Tensor | null; // (T, dModel), sinusoidal
  readonly blocks: Block[];
  readonly lnF: { gamma: tf.Variable; beta: tf.Variable };
  readonly head: { w: tf.Variable | null; b: tf.Variable }; // (dModel, V) unless tied, (V)
  private readonly mask: tf.Tensor2D; // (T, T) causal, or all ones without `causal`

  /**
   * `options.causal` (default true) applies the causal mask. false builds the decoder a common tutorial's
   * mask-free attention gives, which reads the very character it is asked to predict (lesson 02 measures it).
   */
  constructor(config: CharGPTConfig, r: Rng = globalRng(), options: { causal?: boolean } = {}) {
    const { tieWeights, ...rest } = config;
    const c: FullCharGPTConfig = { dFF: 4 * config.dModel, positional: "learned", ...rest, ...(tieWeights ? { tieWeights: true as const } : {}) };
    for (const k of ["vocabSize", "contextLength", "dModel", "numHeads", "numLayers", "dFF"] as const) {
      if (!Number.isInteger(c[k]) || c[k] < 1) throw new RangeError(`CharGPT: config.${k} must be a positive integer, got ${c[k]}`);
    }
    if (c.positional !== "learned" && c.positional !== "sinusoidal") throw new RangeError(`CharGPT: config.positional must be "learned" or "sinusoidal", got ${String(c.positional)}`);
    this.config = c;
    this.tokEmb = param(() => tf.randomNormal([c.vocabSize, c.dModel], 0, 0.02, "float32", r.seed()));
    this.posEmb = c.positional === "learned" ? param(() => tf.randomNormal([c.contextLength, c.dModel], 0, 0.02, "float32", r.seed())) : null;
    this.posFixed = c.positional === "sinusoidal" ? sinusoidalPositionalEncoding(c.contextLength, c.dModel) : null;
    this.blocks = Array.from({ length: c.numLayers }, () => new Block({ dModel: c.dModel, numHeads: c.numHeads, dFF: c.dFF }, r));
    this.lnF = { gamma: param(() => tf.ones([c.dModel])), beta: param(() => tf.zeros([c.dModel])) };
    this.head = { w: c.tieWeights ? null : param(() => tf.randomNormal([c.dModel, c.vocabSize], 0, 0.02, "float32", r.seed())), b: param(() => tf.zeros([c.vocabSize])) };
    this.mask = options.causal === false ? tf.ones([c.contextLength, c.contextLength]) : causalMask(c.contextLength);
  }

  /**
   * Logits (B, T, V) and, when `withAttention`, every block's attention weights (B, h, T, T). With `dropout`
   * (training only) the embeddings and every residual branch are dropped out at that rate, seeded.
   */
  forward(ids: tf.Tensor, withAttention = false, dropout?: { rate: number; seed: number }): { logits: tf.Tensor; attention: tf.Tensor[] } {
    if (ids.rank !== 2) throw new ShapeError(`CharGPT expects ids of shape [B, T], got [${ids.shape.join(", ")}]`);
    const T = ids.shape[1]!;
    if (T < 1 || T > this.config.contextLength) throw new ShapeError(`CharGPT: sequence length ${T} (ids shape [${ids.shape.join(", ")}]) must be in [1, ${this.config.contextLength}] (the context length)`);
    return tf.tidy(() => {
      // 1) Embed the characters and add the positions (to the inputs, Vaswani et al. §3.5).
      const tok = tf.gather(this.tokEmb, ids.toInt()); // (B, T, d)
      const pos = (this.posEmb ?? this.posFixed!).slice([0, 0], [T, this.config.dModel]); // (T, d)
      let x: tf.Tensor = tf.add(tok, pos);
      if (dropout && dropout.rate > 0) x = tf.dropout(x, dropout.rate, undefined, dropout.seed);
      // 2) The blocks, each position seeing only itself and earlier ones.
      const mask = this.mask.slice([0, 0], [T, T]);
      const attention: tf.Tensor[] = [];
      for (const [i, block] of this.blocks.entries()) {
        const out = block.apply(x, mask, dropout && { rate: dropout.rate, seed: dropout.seed + 2 * (i + 1) });
        x = out.output;
        if (withAttention) attention.push(out.weights);
      }
      // 3) Final norm and the head to logits over the next character.
      const h = layerNorm(x, this.lnF.gamma, this.lnF.beta);
      // Tied: the head is the embedding table transposed, (d, V).
      const logits = linear(h, this.head.w ?? tf.transpose(this.tokEmb), this.head.b); // (B, T, V)
      return { logits, attention };
    });
  }

  /** Next-character logits (B, T, V). */
  logits(ids: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.forward(ids).logits);
  }

  /** Mean cross-entropy (nats per character) of predicting `targets` (B, T) from `ids` (B, T); `dropout` as in forward. */
  loss(ids: tf.Tensor, targets: tf.Tensor, dropout?: { rate: number; seed: number }): tf.Scalar {
    return tf.tidy(() => crossEntropy(this.forward(ids, false, dropout).logits, targets));
  }

  /** Every variable by a stable name ("tokEmb", "block0.attn.wq", ...), for optimisers and checkpoints. */
  variables(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = { tokEmb: this.tokEmb };
    if (this.posEmb) out["posEmb"] = this.posEmb;
    this.blocks.forEach((b, i) => {
      for (const [k, v] of Object.entries(b.variables())) out[`block${i}.${k}`] = v;
    });
    out["lnF.gamma"] = this.lnF.gamma;
    out["lnF.beta"] = this.lnF.beta;
    if (this.head.w) out["head.w"] = this.head.w;
    out["head.b"] = this.head.b;
    return out;
  }

  /** Number of trainable parameters. */
  numParams(): number {
    return Object.values(this.variables()).reduce((s, v) => s + v.size, 0);
  }

  /**
   * Copies weights in (e.g. from a checkpoint). Every variable must be present with its shape; extra or
   * missing names and shape mismatches throw, naming the weight and both shapes.
   */
  setWeights(weights: Record<string, tf.Tensor>): void {
    const vars = this.variables();
    const missing = Object.keys(vars).filter((k) => !(k in weights));
    const extra = Object.keys(weights).filter((k) => !(k in vars));
    if (missing.length || extra.length) {
      throw new ShapeError(`CharGPT.setWeights: ${missing.length ? `missing ${missing.join(", ")}` : ""}${missing.length && extra.length ? "; " : ""}${extra.length ? `unexpected ${extra.join(", ")}` : ""}`);
    }
    for (const [k, v] of Object.entries(vars)) {
      const w = weights[k]!;
      if (w.shape.length !== v.shape.length || w.shape.some((d, i) => d !== v.shape[i])) {
        throw new ShapeError(`CharGPT.setWeights: weight "${k}" has shape [${w.shape.join(", ")}], the model expects [${v.shape.join(", ")}]`);
      }
      if (w.dtype !== v.dtype) throw new TypeError(`CharGPT.setWeights: weight "${k}" is ${w.dtype}, the model expects ${v.dtype}`);
    }
    for (const [k, v] of Object.entries(vars)) v.assign(weights[k]!);
  }

  dispose(): void {
    tf.dispose(Object.values(this.variables()));
    tf.dispose([this.mask, ...(this.posFixed ? [this.posFixed] : [])]);
  }
}
