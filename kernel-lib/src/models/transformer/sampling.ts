/**
 * Sampling text from a language model: temperature, top-k, top-p, seeded draws and generation.
 * Taught in notebooks/02-transformer.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { CharGPT } from "./char-gpt";
import { CharTokenizer } from "./tokenizer";
import { Rng, rng as globalRng } from "../../runtime/random";

export interface SampleOptions {
  /** Divides the logits: below 1 sharpens, above 1 flattens; 0 means greedy (argmax). Default 1. */
  temperature?: number;
  /** Keep only the k most likely characters before sampling. Default: all. */
  topK?: number;
  /**
   * Nucleus sampling (Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration", section 3.1): keep the
   * smallest set of most likely characters whose probability (after temperature and top-k) adds up to at least p.
   * Default 1 (all).
   */
  topP?: number;
  /** The generator that draws the samples (default: the lesson-wide one), so samples are reproducible. */
  rng?: Rng;
}

/**
 * The probabilities `sampleFromLogits` draws from: softmax(logits / temperature) restricted to the top k
 * (ties at the k-th value are kept), then to the nucleus of mass `topP`, renormalised. Plain numbers, so a lesson
 * can print them.
 */
export function samplingDistribution(logits: ArrayLike<number>, temperature = 1, topK?: number, topP = 1): number[] {
  const n = logits.length;
  if (n === 0) throw new RangeError("samplingDistribution: no logits");
  if (!(temperature >= 0)) throw new RangeError(`samplingDistribution: temperature must be >= 0, got ${temperature}`);
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) throw new RangeError(`samplingDistribution: topK must be a positive integer, got ${topK}`);
  const xs = Array.from(logits);
  if (xs.some((x) => Number.isNaN(x))) throw new RangeError("samplingDistribution: the logits contain NaN");
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`samplingDistribution: topP must be in (0, 1], got ${topP}`);
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
  const probs = e.map((x) => x / total);
  if (topP >= 1) return probs;
  // The nucleus: most likely first, until the mass reaches topP (the character that crosses it is kept).
  const order = probs.map((q, i) => [q, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const nucleus = new Set<number>();
  let mass = 0;
  for (const [q, i] of order) {
    if (mass >= topP) break;
    nucleus.add(i);
    mass += q;
  }
  return probs.map((q, i) => (nucleus.has(i) ? q / mass : 0));
}

/** Draws one index from logits with temperature, top-k and top-p, using the seeded generator. */
export function sampleFromLogits(logits: ArrayLike<number>, options: SampleOptions = {}): number {
  const p = samplingDistribution(logits, options.temperature ?? 1, options.topK, options.topP ?? 1);
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
