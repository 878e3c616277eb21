/**
 * What notebooks/07-latent-diffusion.ipynb reads from the shipped files: the two checkpoints with their training
 * records, and the comparison table written by scripts/compare-latent-diffusion.ts, as Markdown.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { LatentAutoencoder, loadLatentAutoencoder } from "./autoencoder";
import { LatentUNet } from "./latent-unet";
import { loadLatentUNet } from "./pipeline";
import { NoiseSchedule } from "../diffusion/schedules";

/** The autoencoder's training record (scripts/train-latent-diffusion.ts). */
export interface AutoencoderRecord {
  steps: number;
  batchSize: number;
  trainSeconds: number;
  stepMs: number;
  latentScale: number;
  reconstructionFid: { images: number; fid: number; realSameImages: number };
  data: { source: string; train: number };
  backend: string;
  madeBy: string;
}

/** The latent denoiser's training record. */
export interface LatentDiffusionRecord {
  steps: number;
  batchSize: number;
  trainSeconds: number;
  stepMs: number;
  encodeSeconds: number;
  evalSeed: number;
  dropClass: number;
  final: { step: number; testLoss: number };
  data: { source: string; train: number; latentScale: number };
  backend: string;
  madeBy: string;
}

/** The shipped pair: the autoencoder with its scale factor and the latent U-Net with its schedule. */
export interface LatentDiffusionPair {
  ae: LatentAutoencoder;
  scale: number;
  model: LatentUNet;
  schedule: NoiseSchedule;
  aeRecord: AutoencoderRecord;
  record: LatentDiffusionRecord;
  dispose(): void;
}

/** Loads latent-autoencoder.ckpt and latent-diffusion.ckpt from `dir`. */
export function loadLatentDiffusionPair(dir = "checkpoints"): LatentDiffusionPair {
  const ae = loadLatentAutoencoder(path.join(dir, "latent-autoencoder.ckpt"));
  const ld = loadLatentUNet(path.join(dir, "latent-diffusion.ckpt"));
  const aeRecord = ae.extra as unknown as AutoencoderRecord;
  return {
    ae: ae.model,
    scale: aeRecord.latentScale,
    model: ld.model,
    schedule: ld.schedule,
    aeRecord,
    record: ld.extra as unknown as LatentDiffusionRecord,
    dispose: () => {
      ae.model.dispose();
      ld.model.dispose();
    },
  };
}

/** One row of latent-comparison.json. */
export interface ComparisonRow {
  model: string;
  w?: number;
  parameters?: number;
  trainStepMs?: number;
  trainBatch?: number;
  trainSteps?: number;
  samplingSeconds?: number;
  fid: number;
  kid?: number;
  kidSE?: number;
  classAccuracy?: number;
  withinClassVariance?: number;
}

/** latent-comparison.json. */
export interface ComparisonTable {
  samples: number;
  ddimSteps: number;
  test: number;
  backend: string;
  rows: ComparisonRow[];
  madeBy: string;
}

export function readComparison(file = "checkpoints/latent-comparison.json"): ComparisonTable {
  return JSON.parse(fs.readFileSync(file, "utf8")) as ComparisonTable;
}

/** The table as Markdown: one row per model (and guidance weight), blanks where a number does not apply. */
export function comparisonMarkdown(table: ComparisonTable): string {
  const f = (x: number | undefined, digits: number) => (x === undefined ? "" : x.toFixed(digits));
  const lines = [
    `| model | parameters | training ms/step (batch) | sampling ${table.samples.toLocaleString("en-US")} images | FID | KID (± s.e.) | class accuracy | within-class variance |`,
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of table.rows) {
    const step = r.trainStepMs === undefined ? "" : `${r.trainStepMs.toFixed(0)} (${r.trainBatch})`;
    const kid = r.kid === undefined ? "" : `${r.kid.toFixed(3)} ± ${f(r.kidSE, 3)}`;
    const time = r.samplingSeconds === undefined ? "" : `${r.samplingSeconds.toFixed(1)} s`;
    lines.push(`| ${r.model} | ${r.parameters?.toLocaleString("en-US") ?? ""} | ${step} | ${time} | ${r.fid.toFixed(2)} | ${kid} | ${f(r.classAccuracy, 3)} | ${f(r.withinClassVariance, 1)} |`);
  }
  return lines.join("\n");
}
