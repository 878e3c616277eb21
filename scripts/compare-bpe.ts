/**
 * Character GPT against BPE GPT at equal compute: the same architecture, batch, context length (64 tokens), steps
 * and seed, once over characters and once over a byte-level BPE vocabulary trained on the training text only
 * (kernel-lib/src/models/transformer/bpe.ts). Both are scored in nats per character on their held-out last 10%
 * of Pride and Prejudice: the BPE model's loss per token times its tokens per character. A BPE token covers
 * about two characters, so at equal steps the BPE model reads about twice as much text and sees twice the
 * context, and it has a larger embedding table and head. One seed per row.
 *
 *   npx tsc -b && flock /tmp/aigc-train.lock node build/scripts/compare-bpe.js [--preset small] [--steps 1500] [--vocab 512]
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BpeTokenizer, CharGPT, charGPTConfig, charGPTLoss, CharGPTPreset, CharTokenizer, loadPrideAndPrejudice, setSeed, splitTrainVal, Tokenizer, trainCharGPT, useBestBackend } from "kernel-lib";
import { commandLineOrExit, Options } from "./options";

export const USAGE = `usage: node build/scripts/compare-bpe.js [options]

Trains the same GPT over characters and over a byte-level BPE vocabulary (same architecture, batch, context,
steps and seed) and scores both in nats per held-out character; prints the table and writes the rows as JSON.

  --preset NAME   tiny, small or base (default small)
  --steps N       training steps of each model (default 1500)
  --seed N        the seed of both runs (default 0)
  --vocab N       BPE vocabulary size, at least 257 (default 512)
  --out FILE      where the JSON rows go (default reports/compare-bpe.json)
  -h, --help      print this and exit`;

function parseArgs(argv: string[]): { preset: CharGPTPreset; steps: number; seed: number; vocab: number; out: string } {
  const o = new Options(argv, ["preset", "steps", "seed", "vocab", "out"]);
  return {
    preset: o.choice("preset", ["tiny", "small", "base"], "small") as CharGPTPreset,
    steps: o.number("steps", 1500, { min: 1 }),
    seed: o.number("seed", 0, { min: -Infinity }),
    vocab: o.number("vocab", 512, { min: 257 }),
    out: o.string("out") ?? "reports/compare-bpe.json",
  };
}

async function main(): Promise<void> {
  const { preset, steps, seed, vocab, out } = commandLineOrExit("compare-bpe", USAGE, parseArgs);
  await useBestBackend();
  const text = loadPrideAndPrejudice();
  const trainText = text.slice(0, Math.floor(0.9 * text.length));
  const tokenizers: [string, Tokenizer][] = [
    ["characters", CharTokenizer.fromText(text)],
    [`BPE, ${vocab} tokens`, BpeTokenizer.train(trainText, { vocabSize: vocab })],
  ];
  const rows: { tokens: string; vocabSize: number; charsPerToken: number; valNatsPerToken: number; valNatsPerChar: number; seconds: number }[] = [];
  console.log(`| ${preset}, ${steps} steps, seed ${seed} | vocabulary | characters per token (held out) | nats/token | nats/char | seconds |\n|---|---:|---:|---:|---:|---:|`);
  for (const [name, tokenizer] of tokenizers) {
    const rng = setSeed(seed);
    const model = new CharGPT(charGPTConfig(preset, tokenizer.vocabSize), rng.fork());
    const t0 = Date.now();
    const result = await trainCharGPT(model, tokenizer, text, { steps, rng: rng.fork(), progress: false });
    // The held-out ids and the characters they spell (the split is by tokens, so count the characters back).
    const { val } = splitTrainVal(tokenizer.encode(text));
    const valChars = tokenizer.decode(val.subarray(1)).length; // the first held-out token is only context
    const perToken = await charGPTLoss(model, val);
    const row = { tokens: name, vocabSize: tokenizer.vocabSize, charsPerToken: valChars / (val.length - 1), valNatsPerToken: perToken, valNatsPerChar: (perToken * (val.length - 1)) / valChars, seconds: (Date.now() - t0) / 1000 };
    rows.push(row);
    console.log(`| ${row.tokens} | ${row.vocabSize} | ${row.charsPerToken.toFixed(3)} | ${row.valNatsPerToken.toFixed(4)} | ${row.valNatsPerChar.toFixed(4)} | ${row.seconds.toFixed(0)} |`);
    if (Math.abs(result.valLoss - perToken) > 1e-6) throw new Error(`the trainer's validation loss ${result.valLoss} and the recount ${perToken} differ`);
    model.dispose();
  }
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ preset, steps, seed, rows }, null, 1));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
