/**
 * A character-level tokenizer: one id per distinct character, and the Tokenizer interface a language model's
 * training needs. Taught in notebooks/02-transformer.ipynb.
 */

/** What a language model's training needs of a tokenizer (CharTokenizer here, BpeTokenizer in bpe.ts). */
export interface Tokenizer {
  readonly vocabSize: number;
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
  /** JSON for a checkpoint's `extra`. */
  toJSON(): unknown;
}

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
export class CharTokenizer implements Tokenizer {
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
