/**
 * The training-practice table of the character GPT: the same model, data, seed and number of steps, trained
 * with one option changed at a time (learning-rate warm-up and cosine decay, clipping by global norm, dropout,
 * weight tying) and with all of them, each measured by its validation loss on all held-out characters of
 * Pride and Prejudice. One seed per row: differences of a few hundredths of a nat are within what another seed
 * could change. Writes a Markdown table to stdout and the rows as JSON to --out.
 *
 *   npx tsc -b && flock /tmp/aigc-train.lock node build/scripts/ablate-char-gpt.js [--preset small] [--steps 1500] [--seed 0]
 */
import * as fs from "node:fs";
import { CharGPT, charGPTConfig, CharGPTPreset, CharGPTTrainOptions, CharTokenizer, loadPrideAndPrejudice, setSeed, trainCharGPT, useBestBackend } from "kernel-lib";
import { commandLineOrExit, Options } from "./options";

export const USAGE = `usage: node build/scripts/ablate-char-gpt.js [options]

Trains the character GPT once per training-practice option (warm-up and cosine decay, clipping, dropout, weight
tying, all four) with the same model, data, seed and steps; prints the table and writes the rows as JSON.

  --preset NAME   tiny, small or base (default small)
  --steps N       training steps per row (default 1500)
  --seed N        the seed of every row (default 0)
  --out FILE      where the JSON rows go (default reports/ablate-char-gpt.json)
  -h, --help      print this and exit`;

function parseArgs(argv: string[]): { preset: CharGPTPreset; steps: number; seed: number; out: string } {
  const o = new Options(argv, ["preset", "steps", "seed", "out"]);
  return {
    preset: o.choice("preset", ["tiny", "small", "base"], "small") as CharGPTPreset,
    steps: o.number("steps", 1500, { min: 1 }),
    seed: o.number("seed", 0, { min: -Infinity }),
    out: o.string("out") ?? "reports/ablate-char-gpt.json",
  };
}

async function main(): Promise<void> {
  const { preset, steps, seed, out } = commandLineOrExit("ablate-char-gpt", USAGE, parseArgs);
  await useBestBackend();
  const text = loadPrideAndPrejudice();
  const tokenizer = CharTokenizer.fromText(text);
  const warm = { warmupSteps: Math.round(steps / 15), schedule: "cosine" as const };
  const variants: { name: string; options: Partial<CharGPTTrainOptions>; tie?: boolean }[] = [
    { name: "baseline (constant lr 1e-3, AdamW 0.01)", options: {} },
    { name: `+ warm-up (${warm.warmupSteps} steps) and cosine decay to 1e-4`, options: warm },
    { name: "+ gradient clipping (global norm 1)", options: { clipNorm: 1 } },
    { name: "+ dropout 0.1", options: { dropout: 0.1 } },
    { name: "+ weight tying", options: {}, tie: true },
    { name: "all four", options: { ...warm, clipNorm: 1, dropout: 0.1 }, tie: true },
  ];
  const rows: { variant: string; parameters: number; valLoss: number; seconds: number }[] = [];
  console.log(`| ${preset}, ${steps} steps, seed ${seed} | parameters | validation loss (nats/char) | seconds |\n|---|---:|---:|---:|`);
  for (const v of variants) {
    const rng = setSeed(seed);
    const model = new CharGPT(charGPTConfig(preset, tokenizer.vocabSize, v.tie ? { tieWeights: true } : {}), rng.fork());
    const t0 = Date.now();
    const result = await trainCharGPT(model, tokenizer, text, { steps, rng: rng.fork(), progress: false, ...v.options });
    const row = { variant: v.name, parameters: model.numParams(), valLoss: result.valLoss, seconds: (Date.now() - t0) / 1000 };
    rows.push(row);
    console.log(`| ${row.variant} | ${row.parameters.toLocaleString("en-US")} | ${row.valLoss.toFixed(4)} | ${row.seconds.toFixed(0)} |`);
    model.dispose();
  }
  fs.mkdirSync(require("node:path").dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ preset, steps, seed, rows }, null, 1));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
