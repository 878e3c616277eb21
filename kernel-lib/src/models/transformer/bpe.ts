/**
 * A byte-level BPE tokenizer (byte-pair encoding: Sennrich, Haddow and Birch 2016; over bytes as in GPT-2,
 * Radford et al. 2019, section 2.2): the vocabulary starts as the 256 byte values, and training repeatedly
 * merges the most frequent adjacent pair of tokens into a new token, recording the merges by rank. Text is first
 * split into chunks (words with their leading space, numbers, punctuation runs, whitespace) so that no merge
 * crosses a word boundary, as GPT-2's pre-tokenizer does. Encoding applies the merges to each chunk lowest rank
 * first; any string round-trips, because every byte has a token. Special tokens (e.g. "<|endoftext|>") get ids
 * after the merges. Taught in notebooks/02-transformer.ipynb.
 */

import { Tokenizer } from "./tokenizer";

/** The pre-tokenizer: GPT-2's pattern, with Unicode classes. */
const CHUNK = /'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** A merge: tokens `a` and `b` adjacent become token `id` (= 256 + rank, before the special tokens). */
export interface BpeMerge {
  a: number;
  b: number;
}

/** What a trained tokenizer saves: its merges in rank order and its special tokens. */
export interface BpeJson {
  merges: [number, number][];
  specials: string[];
}

export interface BpeTrainOptions {
  /** Size of the vocabulary: 256 bytes + merges (special tokens come on top). */
  vocabSize: number;
  /** Special tokens, given ids after the merges. Default none. */
  specials?: string[];
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: false });

/** The chunks of a text, as the pre-tokenizer splits it. */
export function bpeChunks(text: string): string[] {
  return text.match(CHUNK) ?? [];
}

const pairKey = (a: number, b: number): number => a * 1_000_003 + b;

export class BpeTokenizer implements Tokenizer {
  /** Merges in rank order. */
  readonly merges: readonly BpeMerge[];
  /** Special tokens; special token i has id 256 + merges.length + i. */
  readonly specials: readonly string[];
  /** The bytes of each token id below the specials. */
  private readonly bytes: Uint8Array[];
  private readonly rank = new Map<number, number>();
  private readonly cache = new Map<string, number[]>();

  constructor(merges: readonly BpeMerge[], specials: readonly string[] = []) {
    this.bytes = Array.from({ length: 256 }, (_, i) => Uint8Array.of(i));
    merges.forEach((m, r) => {
      const id = 256 + r;
      for (const [which, t] of [["a", m.a], ["b", m.b]] as const) {
        if (!Number.isInteger(t) || t < 0 || t >= id) throw new RangeError(`BpeTokenizer: merge ${r} has ${which} = ${t}, not a token made before it (0..${id - 1})`);
      }
      const key = pairKey(m.a, m.b);
      if (this.rank.has(key)) throw new RangeError(`BpeTokenizer: merge ${r} repeats the pair (${m.a}, ${m.b})`);
      this.rank.set(key, r);
      const joined = new Uint8Array(this.bytes[m.a]!.length + this.bytes[m.b]!.length);
      joined.set(this.bytes[m.a]!);
      joined.set(this.bytes[m.b]!, this.bytes[m.a]!.length);
      this.bytes.push(joined);
    });
    const seen = new Set<string>();
    for (const s of specials) {
      if (s.length === 0 || seen.has(s)) throw new RangeError(`BpeTokenizer: special token ${JSON.stringify(s)} is empty or repeated`);
      seen.add(s);
    }
    this.merges = merges.map((m) => ({ a: m.a, b: m.b }));
    this.specials = [...specials];
  }

  get vocabSize(): number {
    return 256 + this.merges.length + this.specials.length;
  }

  /**
   * Trains on `text`: counts each distinct chunk once with its frequency, then merges the most frequent adjacent
   * pair (ties: the pair seen first in the text) until the vocabulary has `vocabSize` tokens or no pair repeats.
   */
  static train(text: string, options: BpeTrainOptions): BpeTokenizer {
    const { vocabSize, specials = [] } = options;
    if (!Number.isInteger(vocabSize) || vocabSize < 256) throw new RangeError(`BpeTokenizer.train: vocabSize must be an integer >= 256 (the bytes), got ${vocabSize}`);
    const counts = new Map<string, number>();
    for (const c of bpeChunks(text)) counts.set(c, (counts.get(c) ?? 0) + 1);
    const words = [...counts.entries()].map(([c, n]) => ({ ids: Array.from(utf8.encode(c)), n }));
    const merges: BpeMerge[] = [];
    while (256 + merges.length < vocabSize) {
      // 1) Count adjacent pairs over the distinct chunks, weighted by frequency; remember first appearance.
      const freq = new Map<number, number>();
      const first = new Map<number, number>();
      let order = 0;
      for (const w of words) {
        for (let i = 0; i + 1 < w.ids.length; i++) {
          const k = pairKey(w.ids[i]!, w.ids[i + 1]!);
          freq.set(k, (freq.get(k) ?? 0) + w.n);
          if (!first.has(k)) first.set(k, order++);
        }
      }
      // 2) The most frequent pair; it must occur at least twice to be worth a token.
      let best = -1;
      let bestN = 1;
      for (const [k, n] of freq) if (n > bestN || (n === bestN && best >= 0 && first.get(k)! < first.get(best)!)) [best, bestN] = [k, n];
      if (best < 0) break;
      const a = Math.floor(best / 1_000_003);
      const b = best - a * 1_000_003;
      const id = 256 + merges.length;
      merges.push({ a, b });
      // 3) Replace the pair in every chunk.
      for (const w of words) w.ids = mergePair(w.ids, a, b, id);
    }
    return new BpeTokenizer(merges, specials);
  }

  /** The tokens of one chunk: its bytes, merged lowest rank first. */
  private encodeChunk(chunk: string): number[] {
    const hit = this.cache.get(chunk);
    if (hit) return hit;
    let ids = Array.from(utf8.encode(chunk));
    for (;;) {
      let bestRank = Infinity;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = this.rank.get(pairKey(ids[i]!, ids[i + 1]!));
        if (r !== undefined && r < bestRank) bestRank = r;
      }
      if (bestRank === Infinity) break;
      const m = this.merges[bestRank]!;
      ids = mergePair(ids, m.a, m.b, 256 + bestRank);
    }
    if (this.cache.size < 100_000) this.cache.set(chunk, ids);
    return ids;
  }

  /** Text to token ids. Occurrences of the special tokens become their ids. */
  encode(text: string): Int32Array {
    const out: number[] = [];
    const parts = this.specials.length ? text.split(new RegExp(`(${this.specials.map(escapeRegExp).join("|")})`)) : [text];
    for (const part of parts) {
      const special = this.specials.indexOf(part);
      if (special >= 0) out.push(256 + this.merges.length + special);
      else for (const c of bpeChunks(part)) for (const id of this.encodeChunk(c)) out.push(id);
    }
    return Int32Array.from(out);
  }

  /** Token ids to text (bytes that are not valid UTF-8 on their own decode to U+FFFD). */
  decode(ids: ArrayLike<number>): string {
    const base = 256 + this.merges.length;
    let text = "";
    let pending: number[] = [];
    const flush = () => {
      if (pending.length) text += utf8Decoder.decode(Uint8Array.from(pending));
      pending = [];
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`BpeTokenizer.decode: id ${id} at position ${i} is outside the vocabulary [0, ${this.vocabSize})`);
      if (id >= base) {
        flush();
        text += this.specials[id - base]!;
      } else for (const byte of this.bytes[id]!) pending.push(byte);
    }
    flush();
    return text;
  }

  /** The bytes of token `id` as text (for showing the vocabulary). */
  tokenText(id: number): string {
    return id >= 256 + this.merges.length ? this.specials[id - 256 - this.merges.length]! : utf8Decoder.decode(this.bytes[id]!);
  }

  toJSON(): BpeJson {
    return { merges: this.merges.map((m) => [m.a, m.b]), specials: [...this.specials] };
  }

  static fromJSON(json: unknown): BpeTokenizer {
    const j = json as Partial<BpeJson> | null;
    const ok = Array.isArray(j?.merges) && j!.merges.every((m) => Array.isArray(m) && m.length === 2) && Array.isArray(j!.specials) && j!.specials.every((s) => typeof s === "string");
    if (!ok) throw new TypeError("BpeTokenizer.fromJSON: expected { merges: [a, b][], specials: string[] }");
    return new BpeTokenizer(j!.merges!.map(([a, b]) => ({ a, b })), j!.specials);
  }
}

/** `ids` with every adjacent (a, b) replaced by `id`, left to right. */
function mergePair(ids: number[], a: number, b: number, id: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (i + 1 < ids.length && ids[i] === a && ids[i + 1] === b) {
      out.push(id);
      i++;
    } else out.push(ids[i]!);
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
