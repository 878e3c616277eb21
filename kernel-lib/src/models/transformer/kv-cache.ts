/**
 * Generation with a key-value cache: each block keeps the keys and values of the positions it has already seen,
 * so a new character costs one position's worth of work instead of a pass over the whole context (the trick
 * every production decoder uses; nanochat checks it against naive generation, as checks/kv-cache.test.ts does
 * here). Positions are absolute, so once the text outgrows the context the window slides and the cache no
 * longer applies: from then on each step recomputes the window, exactly as naive generation does, and the two
 * give the same characters for the same seed. For the language-modelling lessons after
 * notebooks/02-transformer.ipynb (not yet taught).
 */
import * as tf from "@tensorflow/tfjs";
import { scaledDotProductAttention } from "../attention";
import { CharGPT } from "./char-gpt";
import { sampleFromLogits, SampleOptions } from "./sampling";
import { CharTokenizer } from "./tokenizer";
import { layerNorm } from "../../nn/layer-norm";
import { linear } from "../../nn/linear";
import { rng as globalRng } from "../../runtime/random";

/** The cached keys and values of every block, (1, h, t, d_k) each, for the t positions seen so far. */
export class KvCache {
  keys: (tf.Tensor | null)[];
  values: (tf.Tensor | null)[];
  /** Positions cached. */
  length = 0;

  constructor(layers: number) {
    this.keys = Array.from({ length: layers }, () => null);
    this.values = Array.from({ length: layers }, () => null);
  }

  dispose(): void {
    tf.dispose([...this.keys, ...this.values].filter((t): t is tf.Tensor => t !== null));
    this.keys = this.keys.map(() => null);
    this.values = this.values.map(() => null);
    this.length = 0;
  }
}

/**
 * Runs the model on `ids` (new positions cache.length .. cache.length + n - 1) with the cache, appends their keys
 * and values to it, and returns the logits of the last new position (V). Batch 1.
 */
export function forwardCached(model: CharGPT, cache: KvCache, ids: number[]): Float32Array {
  const c = model.config;
  const p = cache.length;
  const n = ids.length;
  if (n < 1 || p + n > c.contextLength) throw new RangeError(`forwardCached: positions ${p}..${p + n - 1} do not fit the context of ${c.contextLength}`);
  const dK = c.dModel / c.numHeads;
  const heads = (t: tf.Tensor) => t.reshape([1, n, c.numHeads, dK]).transpose([0, 2, 1, 3]); // (1, h, n, dK)
  const out = tf.tidy(() => {
    // 1) Embed the new characters at their absolute positions.
    const pos = (model.posEmb ?? model.posFixed!).slice([p, 0], [n, c.dModel]);
    let x: tf.Tensor = tf.add(tf.gather(model.tokEmb, tf.tensor2d(ids, [1, n], "int32")), pos); // (1, n, d)
    // New position i may see cached positions and new ones up to itself: mask (n, p + n).
    const mask = tf.tensor2d(Array.from({ length: n * (p + n) }, (_, j) => (j % (p + n) <= p + Math.floor(j / (p + n)) ? 1 : 0)), [n, p + n]);
    model.blocks.forEach((block, l) => {
      const W = block.attn.weights;
      const h = layerNorm(x, block.ln1.gamma, block.ln1.beta);
      const k = heads(linear(h, W.wk, W.bk));
      const v = heads(linear(h, W.wv, W.bv));
      const K = cache.keys[l] ? tf.concat([cache.keys[l]!, k], 2) : k; // (1, h, p + n, dK)
      const V = cache.values[l] ? tf.concat([cache.values[l]!, v], 2) : v;
      const att = scaledDotProductAttention(heads(linear(h, W.wq, W.bq)), K, V, mask).output; // (1, h, n, dK)
      const a = linear(att.transpose([0, 2, 1, 3]).reshape([1, n, c.dModel]), W.wo, W.bo);
      const r = tf.add(x, a);
      x = tf.add(r, block.feedForward(layerNorm(r, block.ln2.gamma, block.ln2.beta)));
      tf.dispose([cache.keys[l], cache.values[l]].filter((t): t is tf.Tensor => t !== null));
      cache.keys[l] = tf.keep(K);
      cache.values[l] = tf.keep(V);
    });
    const last = x.slice([0, n - 1, 0], [1, 1, c.dModel]);
    return linear(layerNorm(last, model.lnF.gamma, model.lnF.beta), model.head.w ?? tf.transpose(model.tokEmb), model.head.b).reshape([c.vocabSize]);
  });
  cache.length = p + n;
  const logits = out.dataSync() as Float32Array;
  out.dispose();
  return logits;
}

/**
 * The same characters as `generate` for the same options and seed, with a KV cache while the text fits the
 * context, and the sliding window recomputed once it does not.
 */
export function generateCached(model: CharGPT, tokenizer: CharTokenizer, prompt: string, length: number, options: SampleOptions = {}): string {
  if (tokenizer.vocabSize !== model.config.vocabSize) throw new RangeError(`generateCached: the tokenizer has ${tokenizer.vocabSize} characters, the model ${model.config.vocabSize}`);
  const T = model.config.contextLength;
  const ids = Array.from(prompt.length ? tokenizer.encode(prompt) : [0]);
  const start = prompt.length ? ids.length : 1;
  const r = options.rng ?? globalRng();
  const cache = new KvCache(model.config.numLayers);
  try {
    let logits = forwardCached(model, cache, ids.slice(-T));
    let sliding = ids.length > T;
    for (let n = 0; n < length; n++) {
      const next = sampleFromLogits(logits, { ...options, rng: r });
      ids.push(next);
      if (n === length - 1) break;
      if (!sliding && cache.length < T) logits = forwardCached(model, cache, [next]);
      else {
        // The window slides: every position moves, so recompute it from scratch, as naive generation does.
        sliding = true;
        cache.dispose();
        logits = forwardCached(model, cache, ids.slice(-T));
      }
    }
  } finally {
    cache.dispose();
  }
  return prompt + tokenizer.decode(ids.slice(start));
}
