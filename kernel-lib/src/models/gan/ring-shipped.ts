/**
 * The ring GAN's shipped files, as notebooks/05-gan.ipynb (and 06-diffusion.ipynb, for comparison) read them:
 * the generators scripts/train-gan.ts saved (kind "gan-ring": G's weight average, its settings and the record
 * of its run) and the table of all its runs, plain GAN against the minibatch-std remedy on the same seeds
 * (checkpoints/gan-ring-runs.json), with a Markdown view of that table.
 */
import { createMlp, Mlp } from "../../nn/mlp";
import { readShippedJson, shortBackend } from "../../notebook/records";
import { CheckpointError, disposeCheckpoint, loadCheckpoint } from "../../train/checkpoint";

/** One training run of the ring GAN, as scripts/train-gan.ts records it. */
export interface RingRun {
  /** "plain" (no remedy) or "remedy" (minibatch std in D). */
  variant: string;
  seed: number;
  steps: number;
  /** Modes covered and high-quality share of the weight-averaged G (what the lesson shows). */
  modes: number;
  quality: number;
  /** The same for G as trained. */
  rawModes: number;
  rawQuality: number;
  /** Training time, and per step. */
  seconds: number;
  msPerStep: number;
  /** The averaged G's modes and quality every 1,000 steps (absent in older tables). */
  history?: { step: number; modes: number; quality: number }[];
}

/** A generator of the ring GAN loaded from a checkpoint made by scripts/train-gan.ts. */
export interface RingGenerator {
  /** G's weight average; dispose it when done. */
  generator: Mlp;
  latentDim: number;
  minibatchStd: boolean;
  /** The seed of the training run and the steps it trained. */
  seed: number;
  step: number;
  /** The run's record (null in a checkpoint written before the run ended). */
  run: RingRun | null;
  /** Seed of the 2,500 evaluation codes the record was measured on. */
  evalSeed: number;
  /** The backend it trained on, in short ("wasm+native [...]"). */
  backend: string;
}

/** Loads the generator (G's weight average) of a ring-GAN checkpoint; dispose its `generator` when done. */
export function loadRingGenerator(file: string): RingGenerator {
  const ckpt = loadCheckpoint(file, { kind: "gan-ring" });
  try {
    const cfg = ckpt.config as { latentDim: number; hidden: number[]; minibatchStd: boolean; seed?: number };
    if (!Number.isInteger(cfg.latentDim) || !Array.isArray(cfg.hidden)) throw new CheckpointError(file, "has no ring-GAN settings (latentDim, hidden)");
    const extra = (ckpt.extra ?? {}) as { run?: RingRun | null; evalSeed?: number; backend?: string };
    const generator = createMlp({ sizes: [cfg.latentDim, ...cfg.hidden, 2], name: "G" });
    generator.loadWeights(ckpt.weights);
    return {
      generator,
      latentDim: cfg.latentDim,
      minibatchStd: !!cfg.minibatchStd,
      seed: cfg.seed ?? 0,
      step: ckpt.step,
      run: extra.run ?? null,
      evalSeed: extra.evalSeed ?? 2500,
      backend: shortBackend(extra.backend ?? "unknown"),
    };
  } finally {
    disposeCheckpoint(ckpt);
  }
}

/** The table scripts/train-gan.ts writes: every ring run, and the backend they ran on. */
export interface RingRunTable {
  backend: string;
  runs: RingRun[];
}

const RUN_FIELDS = ["seed", "steps", "modes", "quality", "rawModes", "rawQuality", "seconds", "msPerStep"] as const;

/** Reads checkpoints/gan-ring-runs.json, with an error that names what is missing or malformed. */
export function readRingRuns(file: string): RingRunTable {
  const t = readShippedJson(file, "readRingRuns", "node build/scripts/train-gan.js --tasks ring writes it") as Partial<RingRunTable>;
  if (!Array.isArray(t.runs)) throw new Error(`readRingRuns: ${file} has no list of runs`);
  t.runs.forEach((r, i) => {
    const bad = RUN_FIELDS.filter((k) => typeof (r as unknown as Record<string, unknown>)[k] !== "number");
    if (typeof r.variant !== "string" || bad.length > 0) throw new Error(`readRingRuns: run ${i} of ${file} lacks ${typeof r.variant !== "string" ? "variant" : bad.join(", ")}`);
  });
  return { backend: typeof t.backend === "string" ? t.backend : "unknown", runs: t.runs };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/**
 * The runs as a Markdown table, one row per run (sorted by variant, then seed), then one line per variant:
 * on how many of its seeds the averaged G covered all the modes, and the modes seed by seed.
 */
export function ringRunsMarkdown(table: RingRunTable, modes = 8): string {
  const runs = [...table.runs].sort((a, b) => a.variant.localeCompare(b.variant) || a.seed - b.seed);
  const lines = [
    "| variant | seed | steps | modes | high quality | G as trained | time |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...runs.map((r) => {
      const time = `${r.seconds.toFixed(0)} s (${r.msPerStep.toFixed(1)} ms/step)`;
      return `| ${r.variant} | ${r.seed} | ${r.steps} | ${r.modes}/${modes} | ${pct(r.quality)} | ${r.rawModes}/${modes}, ${pct(r.rawQuality)} | ${time} |`;
    }),
    "",
  ];
  for (const variant of [...new Set(runs.map((r) => r.variant))]) {
    const mine = runs.filter((r) => r.variant === variant);
    const all = mine.filter((r) => r.modes === modes).length;
    lines.push(`- ${variant}: all ${modes} modes on ${all} of ${mine.length} seeds (modes by seed ${mine.map((r) => `${r.seed}: ${r.modes}`).join(", ")})`);
  }
  lines.push(`- backend of the runs: ${shortBackend(table.backend)}`);
  return lines.join("\n");
}
