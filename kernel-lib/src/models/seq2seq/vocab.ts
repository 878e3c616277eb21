/**
 * Character vocabularies with the three special tokens a sequence-to-sequence model needs: PAD (0, fills batches
 * to one length and is never attended to nor predicted), BOS (1, starts the decoder's input) and EOS (2, ends the
 * output). Taught in notebooks/03-encoder-decoder.ipynb.
 */

export const PAD = 0;
export const BOS = 1;
export const EOS = 2;

export class Seq2SeqVocab {
  private readonly index = new Map<string, number>();

  /** @param chars the characters, each once; they get ids 3, 4, ... */
  constructor(readonly chars: string) {
    [...chars].forEach((c, i) => {
      if (this.index.has(c)) throw new RangeError(`Seq2SeqVocab: ${JSON.stringify(c)} appears twice`);
      this.index.set(c, i + 3);
    });
  }

  get size(): number {
    return this.index.size + 3;
  }

  /** The ids of `text`, with BOS before and/or EOS after when asked. Unknown characters are an error naming them. */
  encode(text: string, options: { bos?: boolean; eos?: boolean } = {}): number[] {
    const ids = [...text].map((c, i) => {
      const id = this.index.get(c);
      if (id === undefined) throw new RangeError(`Seq2SeqVocab: ${JSON.stringify(c)} at position ${i} of ${JSON.stringify(text)} is not in the vocabulary`);
      return id;
    });
    return [...(options.bos ? [BOS] : []), ...ids, ...(options.eos ? [EOS] : [])];
  }

  /** The text of `ids`, stopping at the first EOS and skipping PAD and BOS. */
  decode(ids: ArrayLike<number>): string {
    let out = "";
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === EOS) break;
      if (id === PAD || id === BOS) continue;
      const c = this.chars[id - 3];
      if (c === undefined) throw new RangeError(`Seq2SeqVocab.decode: id ${id} at position ${i} is outside the vocabulary [0, ${this.size})`);
      out += c;
    }
    return out;
  }
}

/** Rows of ids padded with PAD to the longest row (or `length`), as one flat Int32Array and its shape. */
export function padBatch(rows: number[][], length = Math.max(...rows.map((r) => r.length))): { ids: Int32Array; shape: [number, number] } {
  const ids = new Int32Array(rows.length * length);
  rows.forEach((r, b) => {
    if (r.length > length) throw new RangeError(`padBatch: row ${b} has ${r.length} ids, more than ${length}`);
    ids.set(r, b * length);
  });
  return { ids, shape: [rows.length, length] };
}
