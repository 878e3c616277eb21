/**
 * One table for every image model (notebooks/04-vae.ipynb, notebooks/05-gan.ipynb, notebooks/06-diffusion.ipynb):
 * FID and KID of n samples against the real test images on the shipped classifier's features, the real-data
 * floor (two disjoint halves of the test set: as far apart as real data gets from itself), the share of the
 * samples per class, and the sampling time. `scripts/score-images.ts` writes the 10,000-sample table that ships
 * (notebooks/checkpoints/image-scores.json); a lesson re-measures its own models with the same code on fewer
 * samples and reads the shipped table with {@link readImageScores}.
 */
import * as fs from "node:fs";
import { FASHION_MNIST_CLASSES } from "../../data/fashion-mnist";
import { fid } from "../../metrics/fid";
import { kid } from "../../metrics/kid";
import { Float64Matrix } from "../../metrics/linalg";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { Progress } from "../../notebook/progress";
import { readShippedJson } from "../../notebook/records";
import { classifierFeatures, imageScores } from "../classifier/evaluate";
import { FashionClassifier, loadClassifier } from "../classifier/fashion-classifier";
import { drawImages, ImageModel, loadImageModel } from "./image-models";

export interface ImageScoreRow {
  /** Model name (`IMAGE_MODEL_NAMES`), or "floor" for the real-data floor. */
  model: string;
  label: string;
  /** Images scored (for the floor: the size of each half). */
  samples: number;
  fid: number;
  kid: number;
  kidSE: number;
  /** Share of the samples per class (empty for the floor). */
  classShares: number[];
  /** Seconds to draw the samples (absent for the floor). */
  samplingSeconds?: number;
}

export interface ImageScoreTable {
  /** Real test images the features came from. */
  testImages: number;
  rows: ImageScoreRow[];
}

/** KID over 100 random subsets of 1,000 (Bińkowski et al.'s size); of half the set when there are fewer than 2,000, so the subsets differ. */
const kidOptions = (n: number) => ({ subsets: 100, subsetSize: n >= 2000 ? 1000 : Math.max(2, Math.floor(n / 2)) });

/** The real-data floor: FID/KID between the first and second halves of the real features. */
export function realDataFloor(real: Float64Matrix): ImageScoreRow {
  const half = Math.floor(real.rows / 2);
  if (half < 2) throw new RangeError(`realDataFloor: ${real.rows} real images are too few to split in two`);
  const rows = (from: number) => ({ rows: half, cols: real.cols, data: real.data.subarray(from * real.cols, (from + half) * real.cols) });
  const k = kid(rows(0), rows(half), kidOptions(half));
  return { model: "floor", label: `real data floor (two halves of ${real.rows.toLocaleString("en-US")} test images)`, samples: half, fid: fid(rows(0), rows(half)), kid: k.kid, kidSE: k.standardError, classShares: [] };
}

/** Samples n images of `model` (seeded) and scores them against the real features. */
export function scoreImageModel(model: ImageModel, classifier: FashionClassifier, real: Float64Matrix, n: number, options: { batch?: number; seed?: number; onBatch?: (done: number, total: number) => void } = {}): ImageScoreRow {
  const t0 = Date.now();
  const images = drawImages(model, n, options);
  const samplingSeconds = (Date.now() - t0) / 1000;
  try {
    const s = imageScores(classifier, real, images, kidOptions(n));
    return { model: model.name, label: model.label, samples: n, fid: s.fid, kid: s.kid, kidSE: s.kidStandardError, classShares: s.classShares, samplingSeconds };
  } finally {
    images.dispose();
  }
}

/**
 * What a lesson re-measures: the shipped models `names` (from `dir`, beside dir/fashion-classifier.ckpt), n samples
 * each, against the real images `test` (N, 28, 28) in [0, 1], with the floor first. Shows a progress bar over the
 * samples; disposes everything it loads.
 */
export async function scoreShippedModels(names: readonly string[], test: tf.Tensor, options: { dir: string; samples: number; batch?: number }): Promise<ImageScoreTable> {
  const { model: classifier } = loadClassifier(path.join(options.dir, "fashion-classifier.ckpt"));
  const progress = new Progress({ total: names.length * options.samples, title: `sampling and scoring ${names.length} models` });
  try {
    const real = classifierFeatures(classifier, test);
    const rows = [realDataFloor(real)];
    for (const [k, name] of names.entries()) {
      const model = loadImageModel(name, options.dir);
      try {
        rows.push(scoreImageModel(model, classifier, real, options.samples, { batch: options.batch ?? 100, onBatch: (done) => progress.update(k * options.samples + done) }));
      } finally {
        model.dispose();
      }
    }
    await progress.finish();
    return { testImages: real.rows, rows };
  } finally {
    classifier.dispose();
  }
}

const fmt = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

/** The table as Markdown: one row per model, the floor first; the smallest class share names its class. */
export function imageScoreMarkdown(table: ImageScoreTable, caption?: string): string {
  const lines = ["| model | samples | FID | KID (± s.e.) | smallest class share | sampling time |", "|---|---:|---:|---:|---:|---:|"];
  for (const r of table.rows) {
    let share = "";
    if (r.classShares.length > 0) {
      const min = Math.min(...r.classShares);
      share = `${(100 * min).toFixed(1)}% (${FASHION_MNIST_CLASSES[r.classShares.indexOf(min)]})`;
    }
    const time = r.samplingSeconds === undefined ? "" : `${r.samplingSeconds.toFixed(1)} s`;
    lines.push(`| ${r.label} | ${r.samples.toLocaleString("en-US")} | ${fmt(r.fid, 2)} | ${fmt(r.kid, 4)} ± ${fmt(r.kidSE, 4)} | ${share} | ${time} |`);
  }
  return (caption ? `${caption}\n\n` : "") + lines.join("\n");
}

/** Reads a table written by scripts/score-images.ts, with a clear error if the file is missing or malformed. */
export function readImageScores(file: string): ImageScoreTable {
  const t = readShippedJson(file, "readImageScores", "node build/scripts/score-images.js writes it") as Partial<ImageScoreTable>;
  const ok = (r: Partial<ImageScoreRow>) =>
    typeof r.model === "string" && typeof r.label === "string" && typeof r.samples === "number" && typeof r.fid === "number" && typeof r.kid === "number" && typeof r.kidSE === "number" && Array.isArray(r.classShares);
  if (typeof t.testImages !== "number" || !Array.isArray(t.rows) || !t.rows.every((r) => ok(r as Partial<ImageScoreRow>))) {
    throw new Error(`readImageScores: ${file} is not an image-score table (needs testImages and rows of model, label, samples, fid, kid, kidSE, classShares)`);
  }
  return t as ImageScoreTable;
}

/** Writes the table atomically (a temporary file renamed over the target). */
export function writeImageScores(file: string, table: ImageScoreTable): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(table, null, 1) + "\n");
  fs.renameSync(tmp, file);
}
