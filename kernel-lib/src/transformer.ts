/**
 * A small decoder-only Transformer language model over characters (a GPT in the style of nanoGPT):
 * token embeddings plus positional encodings (Vaswani et al. 2017, §3.5), a stack of pre-LayerNorm
 * blocks (attention + MLP, each inside a residual connection; Xiong et al. 2020 for the pre-LN
 * placement), a final LayerNorm and a linear head to next-character logits. Also the character
 * tokenizer and seeded sampling with temperature and top-k. Taught in notebooks/02-transformer.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { causalMask, linear, MultiHeadAttention, ShapeError } from "./attention";
import { Rng, rng as globalRng } from "./random";

// ---------------------------------------------------------------------------------------------------
// Tokenizer

/** Raised when text holds a character the tokenizer's vocabulary lacks. */
export class UnknownCharacterError extends Error {
  constructor(
    readonly char: string,
    readonly position: number,
  ) {
    const code = char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    super(`CharTokenizer: character ${JSON.stringify(char)} (U+${code}) at position ${position} is not in the vocabulary; build the tokenizer from text that contains it, or remove it`);
    this.name = "UnknownCharacterError";
  }
}

/** A character-level tokenizer: one id per distinct character, ids in sorted character order. */
export class CharTokenizer {
  /** The vocabulary: `chars[id]` is the character with that id. */
  readonly chars: readonly string[];
  private readonly index: Map<string, number>;

  constructor(chars: readonly string[]) {
    if (chars.length === 0) throw new RangeError("CharTokenizer: the vocabulary is empty");
    const index = new Map<string, number>();
    chars.forEach((c, i) => {
      if ([...c].length !== 1) throw new RangeError(`CharTokenizer: vocabulary entry ${i} (${JSON.stringify(c)}) is not one character`);
      if (index.has(c)) throw new RangeError(`CharTokenizer: character ${JSON.stringify(c)} appears twice in the vocabulary`);
      index.set(c, i);
    });
    this.chars = [...chars];
    this.index = index;
  }

  /** The tokenizer whose vocabulary is every distinct character of `text`, sorted by code point. */
  static fromText(text: string): CharTokenizer {
    return new CharTokenizer([...new Set(text)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
  }

  get vocabSize(): number {
    return this.chars.length;
  }

  /** Text to ids; throws {@link UnknownCharacterError} naming the first unknown character and where it is. */
  encode(text: string): Int32Array {
    const chars = [...text];
    const ids = new Int32Array(chars.length);
    for (let i = 0; i < chars.length; i++) {
      const id = this.index.get(chars[i]!);
      if (id === undefined) throw new UnknownCharacterError(chars[i]!, i);
      ids[i] = id;
    }
    return ids;
  }

  /** Ids to text; throws a RangeError on an id outside the vocabulary. */
  decode(ids: ArrayLike<number>): string {
    let out = "";
    for (let i = 0; i < ids.length; i++) {
      const c = this.chars[ids[i]!];
      if (c === undefined) throw new RangeError(`CharTokenizer.decode: id ${ids[i]} at position ${i} is outside the vocabulary [0, ${this.chars.length})`);
      out += c;
    }
    return out;
  }

  /** JSON for a checkpoint's `extra`. */
  toJSON(): { chars: string[] } {
    return { chars: [...this.chars] };
  }

  static fromJSON(json: unknown): CharTokenizer {
    const chars = (json as { chars?: unknown } | null)?.chars;
    if (!Array.isArray(chars) || !chars.every((c) => typeof c === "string")) throw new TypeError("CharTokenizer.fromJSON: expected { chars: string[] }");
    return new CharTokenizer(chars);
  }
}

// ---------------------------------------------------------------------------------------------------
// Positional encodings

/**
 * The sinusoidal positional encoding (Vaswani et al. 2017, §3.5), (T, dModel):
 * PE[pos, 2i] = sin(pos / 10000^(2i/dModel)), PE[pos, 2i+1] = cos(pos / 10000^(2i/dModel)).
 * It is added to the input embeddings (not to the attention output).
 */
export function sinusoidalPositionalEncoding(T: number, dModel: number): tf.Tensor2D {
  if (!Number.isInteger(T) || T < 1 || !Number.isInteger(dModel) || dModel < 1) {
    throw new RangeError(`sinusoidalPositionalEncoding: T and dModel must be positive integers, got ${T} and ${dModel}`);
  }
  const data = new Float32Array(T * dModel);
  for (let pos = 0; pos < T; pos++) {
    for (let j = 0; j < dModel; j++) {
      const i2 = j - (j % 2); // the even index 2i shared by the sin/cos pair
      const angle = pos / Math.pow(10000, i2 / dModel);
      data[pos * dModel + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return tf.tensor2d(data, [T, dModel]);
}

// ---------------------------------------------------------------------------------------------------
// Layers

/**
 * A variable initialised from `init()`, inside tf.tidy so the initial tensor is disposed (the variable keeps
 * its own reference to the data): building a model leaves exactly its variables behind.
 */
function param(init: () => tf.Tensor): tf.Variable {
  return tf.tidy(() => tf.variable(init()));
}

/**
 * LayerNorm over the last axis (Ba et al. 2016): (x - mean) / sqrt(var + eps) * gamma + beta.
 * The gradient is written out (the standard closed form below) rather than differentiated through
 * tf.moments: the same numbers with about half the ops, which matters on one CPU core.
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): tf.Tensor {
  const d = x.shape[x.rank - 1]!;
  if (gamma.size !== d || beta.size !== d) throw new ShapeError(`layerNorm: x has shape [${x.shape.join(", ")}] but gamma has [${gamma.shape.join(", ")}] and beta [${beta.shape.join(", ")}]`);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, g, b] = args as [tf.Tensor, tf.Tensor, tf.Tensor];
    const save = args[3] as tf.GradSaveFunc;
    const [xHat, rstd] = tf.tidy(() => {
      const { mean, variance } = tf.moments(xIn, -1, true);
      const r = tf.rsqrt(tf.add(variance, eps)); // (..., 1)
      return [tf.mul(tf.sub(xIn, mean), r), r];
    });
    save([xHat, rstd, g]);
    return {
      value: tf.tidy(() => tf.add(tf.mul(xHat, g), b)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, r, gm] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        // dx = rstd * (dxHat - mean(dxHat) - xHat * mean(dxHat * xHat)), with dxHat = dy * gamma.
        const dxHat = tf.mul(dy, gm);
        const dx = tf.mul(r, tf.sub(tf.sub(dxHat, tf.mean(dxHat, -1, true)), tf.mul(xh, tf.mean(tf.mul(dxHat, xh), -1, true))));
        const flatDy = dy.reshape([-1, d]);
        const dGamma = tf.sum(tf.mul(flatDy, xh.reshape([-1, d])), 0).reshape(gm.shape);
        const dBeta = tf.sum(flatDy, 0).reshape(gm.shape);
        return [dx, dGamma, dBeta];
      },
    };
  });
  return op(x, gamma, beta);
}

/** GELU, tanh approximation (Hendrycks & Gimpel 2016), as GPT-2 uses. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    // x * x * x rather than tf.pow(x, 3): the same value, and a much cheaper gradient.
    const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

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

  /** x (B, T, dModel) → (B, T, dModel), and the attention weights (B, h, T, T). */
  apply(x: tf.Tensor, mask?: tf.Tensor): { output: tf.Tensor; weights: tf.Tensor } {
    return tf.tidy(() => {
      const a = this.attn.apply(layerNorm(x, this.ln1.gamma, this.ln1.beta), mask);
      const h = tf.add(x, a.output); // residual 1
      const output = tf.add(h, this.feedForward(layerNorm(h, this.ln2.gamma, this.ln2.beta))); // residual 2
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

// ---------------------------------------------------------------------------------------------------
// The character language model

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
}

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

/** Mean cross-entropy (nats) of logits (N, V) against integer targets (N). */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  const V = logits.shape[logits.rank - 1]!;
  return tf.tidy(() => {
    const flat = logits.reshape([-1, V]);
    const t = targets.reshape([-1]);
    if (t.shape[0] !== flat.shape[0]) throw new ShapeError(`crossEntropy: logits have shape [${logits.shape.join(", ")}] but targets [${targets.shape.join(", ")}]`);
    // -log softmax(logits)[target], averaged; logSoftmax is computed stably (max subtracted).
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(t.toInt(), V), tf.logSoftmax(flat)), -1))) as tf.Scalar;
  });
}

/**
 * A decoder-only character language model. `ids` (B, T) of int32 with T <= contextLength → next-character
 * logits (B, T, vocabSize). Owns its variables: call {@link dispose} when done.
 */
export class CharGPT {
  readonly config: Required<CharGPTConfig>;
  readonly tokEmb: tf.Variable; // (V, dModel)
  readonly posEmb: tf.Variable | null; // (T, dModel), learned
  readonly posFixed: tf.Tensor | null; // (T, dModel), sinusoidal
  readonly blocks: Block[];
  readonly lnF: { gamma: tf.Variable; beta: tf.Variable };
  readonly head: { w: tf.Variable; b: tf.Variable }; // (dModel, V), (V)
  private readonly mask: tf.Tensor2D; // (T, T) causal

  constructor(config: CharGPTConfig, r: Rng = globalRng()) {
    const c: Required<CharGPTConfig> = { dFF: 4 * config.dModel, positional: "learned", ...config };
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
    this.head = { w: param(() => tf.randomNormal([c.dModel, c.vocabSize], 0, 0.02, "float32", r.seed())), b: param(() => tf.zeros([c.vocabSize])) };
    this.mask = causalMask(c.contextLength);
  }

  /** Logits (B, T, V) and, when `withAttention`, every block's attention weights (B, h, T, T). */
  forward(ids: tf.Tensor, withAttention = false): { logits: tf.Tensor; attention: tf.Tensor[] } {
    if (ids.rank !== 2) throw new ShapeError(`CharGPT expects ids of shape [B, T], got [${ids.shape.join(", ")}]`);
    const T = ids.shape[1]!;
    if (T < 1 || T > this.config.contextLength) throw new ShapeError(`CharGPT: sequence length ${T} (ids shape [${ids.shape.join(", ")}]) must be in [1, ${this.config.contextLength}] (the context length)`);
    return tf.tidy(() => {
      // 1) Embed the characters and add the positions (to the inputs, Vaswani et al. §3.5).
      const tok = tf.gather(this.tokEmb, ids.toInt()); // (B, T, d)
      const pos = (this.posEmb ?? this.posFixed!).slice([0, 0], [T, this.config.dModel]); // (T, d)
      let x: tf.Tensor = tf.add(tok, pos);
      // 2) The blocks, each position seeing only itself and earlier ones.
      const mask = this.mask.slice([0, 0], [T, T]);
      const attention: tf.Tensor[] = [];
      for (const block of this.blocks) {
        const out = block.apply(x, mask);
        x = out.output;
        if (withAttention) attention.push(out.weights);
      }
      // 3) Final norm and the head to logits over the next character.
      const logits = linear(layerNorm(x, this.lnF.gamma, this.lnF.beta), this.head.w, this.head.b); // (B, T, V)
      return { logits, attention };
    });
  }

  /** Next-character logits (B, T, V). */
  logits(ids: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.forward(ids).logits);
  }

  /** Mean cross-entropy (nats per character) of predicting `targets` (B, T) from `ids` (B, T). */
  loss(ids: tf.Tensor, targets: tf.Tensor): tf.Scalar {
    return tf.tidy(() => crossEntropy(this.logits(ids), targets));
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
    out["head.w"] = this.head.w;
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
    }
    for (const [k, v] of Object.entries(vars)) v.assign(weights[k]!);
  }

  dispose(): void {
    tf.dispose(Object.values(this.variables()));
    tf.dispose([this.mask, ...(this.posFixed ? [this.posFixed] : [])]);
  }
}

// ---------------------------------------------------------------------------------------------------
// Sampling

export interface SampleOptions {
  /** Divides the logits: below 1 sharpens, above 1 flattens; 0 means greedy (argmax). Default 1. */
  temperature?: number;
  /** Keep only the k most likely characters before sampling. Default: all. */
  topK?: number;
  /** The generator that draws the samples (default: the lesson-wide one), so samples are reproducible. */
  rng?: Rng;
}

/**
 * The probabilities `sampleFromLogits` draws from: softmax(logits / temperature) restricted to the top k
 * (ties at the k-th value are kept). Plain numbers, so a lesson can print them.
 */
export function samplingDistribution(logits: ArrayLike<number>, temperature = 1, topK?: number): number[] {
  const n = logits.length;
  if (n === 0) throw new RangeError("samplingDistribution: no logits");
  if (!(temperature >= 0)) throw new RangeError(`samplingDistribution: temperature must be >= 0, got ${temperature}`);
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) throw new RangeError(`samplingDistribution: topK must be a positive integer, got ${topK}`);
  const xs = Array.from(logits);
  if (xs.some((x) => Number.isNaN(x))) throw new RangeError("samplingDistribution: the logits contain NaN");
  let keep = xs.map(() => true);
  if (topK !== undefined && topK < n) {
    const kth = [...xs].sort((a, b) => b - a)[topK - 1]!;
    keep = xs.map((x) => x >= kth);
  }
  if (temperature === 0) {
    // Greedy: all the mass on the (first) largest logit.
    let best = 0;
    for (let i = 1; i < n; i++) if (xs[i]! > xs[best]!) best = i;
    return xs.map((_, i) => (i === best ? 1 : 0));
  }
  const max = Math.max(...xs.filter((_, i) => keep[i]));
  const e = xs.map((x, i) => (keep[i] ? Math.exp((x - max) / temperature) : 0));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / total);
}

/** Draws one index from logits with temperature and top-k, using the seeded generator. */
export function sampleFromLogits(logits: ArrayLike<number>, options: SampleOptions = {}): number {
  const p = samplingDistribution(logits, options.temperature ?? 1, options.topK);
  const u = (options.rng ?? globalRng()).uniform();
  let acc = 0;
  for (let i = 0; i < p.length; i++) {
    acc += p[i]!;
    if (u < acc) return i;
  }
  // Rounding can leave the cumulative sum a hair below 1: fall back to the last index with mass.
  for (let i = p.length - 1; i >= 0; i--) if (p[i]! > 0) return i;
  return p.length - 1;
}

/**
 * Continues `prompt` by `length` characters, one at a time: run the model on the last contextLength
 * characters, sample the next from the last position's logits, append, repeat.
 */
export function generate(model: CharGPT, tokenizer: CharTokenizer, prompt: string, length: number, options: SampleOptions = {}): string {
  if (tokenizer.vocabSize !== model.config.vocabSize) throw new RangeError(`generate: the tokenizer has ${tokenizer.vocabSize} characters, the model ${model.config.vocabSize}`);
  const ids = Array.from(prompt.length ? tokenizer.encode(prompt) : [0]);
  const start = prompt.length ? ids.length : 1;
  const r = options.rng ?? globalRng();
  for (let n = 0; n < length; n++) {
    const ctx = ids.slice(-model.config.contextLength);
    const last = tf.tidy(() => {
      const logits = model.logits(tf.tensor2d(ctx, [1, ctx.length], "int32")); // (1, T, V)
      return logits.slice([0, ctx.length - 1, 0], [1, 1, model.config.vocabSize]).dataSync();
    });
    ids.push(sampleFromLogits(last, { ...options, rng: r }));
  }
  return prompt + tokenizer.decode(ids.slice(start));
}
