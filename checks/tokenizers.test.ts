/**
 * kernel-lib/src/models/transformer/bpe.ts and ngram.ts: BPE merges on a hand-worked example, the round trip of the
 * whole corpus and of unseen text (accents, emoji), special tokens, compression, JSON; the unigram and bigram
 * count models against hand-computed probabilities, and their order on Pride and Prejudice.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { bigramModel, BpeTokenizer, bpeChunks, CharTokenizer, loadPrideAndPrejudice, ngramLoss, splitTrainVal, unigramModel } from "kernel-lib";

test("BPE on 'aaabdaaabac': merges aa, then (aa)a (ties go to the pair seen first), then (aaa)b", () => {
  const bpe = BpeTokenizer.train("aaabdaaabac", { vocabSize: 259 });
  assert.deepEqual(bpe.toJSON().merges, [[97, 97], [256, 97], [257, 98]]);
  assert.deepEqual(Array.from(bpe.encode("aaabd")), [258, 100]);
  assert.equal(bpe.tokenText(258), "aaab");
  assert.equal(bpe.decode(bpe.encode("aaabdaaabac")), "aaabdaaabac");
});

test("the pre-tokenizer keeps words with their leading space and splits punctuation off", () => {
  assert.deepEqual(bpeChunks("It is a truth, universally acknowledged!  Yes."), ["It", " is", " a", " truth", ",", " universally", " acknowledged", "!", " ", " Yes", "."]);
});

const text = loadPrideAndPrejudice();
const cut = Math.floor(text.length * 0.9);
const bpe = BpeTokenizer.train(text.slice(0, cut), { vocabSize: 512, specials: ["<|endoftext|>"] });

test("a 512-token BPE trained on 90% of the novel round-trips the whole novel and unseen text", () => {
  assert.equal(bpe.vocabSize, 513);
  assert.equal(bpe.decode(bpe.encode(text)), text);
  const unseen = "Naïve café — 東京 🙂 résumé\ttabs\n\nand \u00a0odd spaces; ünïcödé";
  assert.equal(bpe.decode(bpe.encode(unseen)), unseen);
  // Compression: fewer tokens than characters on the held-out tenth, which training never saw.
  const val = text.slice(cut);
  const ratio = bpe.encode(val).length / val.length;
  assert.ok(ratio < 0.55, `held-out tokens per character ${ratio.toFixed(3)}`);
});

test("special tokens encode to one id each and decode back; JSON round trip encodes the same", () => {
  const s = "The end.<|endoftext|>Chapter 1";
  const ids = bpe.encode(s);
  assert.equal(ids.filter((i) => i === 512).length, 1);
  assert.equal(bpe.decode(ids), s);
  const again = BpeTokenizer.fromJSON(JSON.parse(JSON.stringify(bpe.toJSON())));
  assert.deepEqual(Array.from(again.encode(s)), Array.from(ids));
});

test("bad merges, ids and JSON are errors naming the problem", () => {
  assert.throws(() => new BpeTokenizer([{ a: 97, b: 256 }]), /merge 0 has b = 256, not a token made before it/);
  assert.throws(() => new BpeTokenizer([{ a: 97, b: 97 }, { a: 97, b: 97 }]), /merge 1 repeats the pair \(97, 97\)/);
  assert.throws(() => bpe.decode([5, 9999]), /id 9999 at position 1 is outside the vocabulary \[0, 513\)/);
  assert.throws(() => BpeTokenizer.fromJSON({ merges: "no" }), /expected \{ merges/);
  assert.throws(() => BpeTokenizer.train("abc", { vocabSize: 100 }), /vocabSize must be an integer >= 256/);
});

test("unigram and bigram models with add-one smoothing equal the hand-computed probabilities", () => {
  const ids = [0, 1, 0, 1, 1];
  // Unigram: counts 2 and 3 of 5, so p(0) = 3/7, p(1) = 4/7.
  assert.ok(Math.abs(ngramLoss(unigramModel(ids, 2), [0, 1]) - -(Math.log(3 / 7) + Math.log(4 / 7)) / 2) < 1e-12);
  // Bigram: pairs 01 x2, 10 x1, 11 x1; p(1|0) = 3/4, p(1|1) = 2/4.
  assert.ok(Math.abs(ngramLoss(bigramModel(ids, 2), [0, 1, 1]) - -(Math.log(3 / 4) + Math.log(1 / 2)) / 2) < 1e-12);
  assert.throws(() => unigramModel([0, 2], 2), /token 1 is 2, outside \[0, 2\)/);
});

test("on Pride and Prejudice (characters, held-out 10%): bigram < unigram < uniform", () => {
  const tok = CharTokenizer.fromText(text);
  const { train, val } = splitTrainVal(tok.encode(text));
  const uni = ngramLoss(unigramModel(train, tok.vocabSize), val);
  const bi = ngramLoss(bigramModel(train, tok.vocabSize), val);
  assert.ok(bi < uni && uni < Math.log(tok.vocabSize), `bigram ${bi}, unigram ${uni}, uniform ${Math.log(tok.vocabSize)}`);
});
