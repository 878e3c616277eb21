/**
 * Measures how much the KV cache speeds up generation with the shipped character GPT
 * (kernel-lib/src/models/transformer/kv-cache.ts): the time to write N characters naively (the whole window
 * every step) and with the cache, median of --rounds runs, at several lengths from a one-character prompt. The
 * context is 64 characters: past it the window slides and both do the same work.
 *
 *   npx tsc -b && node build/scripts/kv-cache-speed.js [--rounds 3] [--lengths 16,32,63,200]
 */
import * as path from "node:path";
import { generate, generateCached, loadCharGPT, Rng, useBestBackend } from "kernel-lib";
import { commandLineOrExit, integerItem, Options } from "./options";

export const USAGE = `usage: node build/scripts/kv-cache-speed.js [options]

Times writing N characters with the shipped character GPT naively and with the KV cache, from a one-character
prompt, median over rounds, and prints the speed-up at each length.

  --rounds N       runs per length and generator (default 3)
  --lengths LIST   characters to write, comma-separated (default 16,32,63,200)
  -h, --help       print this and exit`;

function parseArgs(argv: string[]): { rounds: number; lengths: number[] } {
  const o = new Options(argv, ["rounds", "lengths"]);
  return { rounds: o.number("rounds", 3, { min: 1 }), lengths: o.list("lengths", "16,32,63,200", integerItem(1)) };
}

async function main(): Promise<void> {
  const { rounds, lengths } = commandLineOrExit("kv-cache-speed", USAGE, parseArgs);
  await useBestBackend();
  const { model, tokenizer } = loadCharGPT(path.join(__dirname, "..", "..", "notebooks", "checkpoints", "char-gpt.ckpt"));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const time = (f: () => string) => {
    const t0 = process.hrtime.bigint();
    const out = f();
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, out };
  };
  console.log("| characters | naive (ms) | cached (ms) | speed-up | same text |\n|---:|---:|---:|---:|---|");
  for (const n of lengths) {
    const naive: number[] = [];
    const cached: number[] = [];
    let same = true;
    for (let r = 0; r < rounds; r++) {
      const a = time(() => generate(model, tokenizer, "T", n, { rng: new Rng(r) }));
      const b = time(() => generateCached(model, tokenizer, "T", n, { rng: new Rng(r) }));
      naive.push(a.ms);
      cached.push(b.ms);
      same &&= a.out === b.out;
    }
    console.log(`| ${n} | ${median(naive).toFixed(0)} | ${median(cached).toFixed(0)} | ${(median(naive) / median(cached)).toFixed(2)}x | ${same ? "yes" : "NO"} |`);
  }
  model.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
