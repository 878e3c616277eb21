/**
 * The image models' table (kernel-lib/src/models/scoring/): FID and KID against the Fashion-MNIST test images on
 * the shipped classifier's features, the real-data floor (two disjoint halves of the test set), each model's class
 * shares and its sampling time, for every shipped image model found in notebooks/checkpoints/. Writes
 * notebooks/checkpoints/image-scores.json, the table the image lessons show beside their own live measurements.
 *
 *   npx tsc -b && node build/scripts/score-images.js [--samples 10000] [--models a,b] [--out FILE]
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  classifierFeatures,
  IMAGE_MODEL_NAMES,
  ImageScoreRow,
  imageScoreMarkdown,
  loadClassifier,
  loadFashionMnist,
  loadImageModel,
  readImageScores,
  realDataFloor,
  scoreImageModel,
  tf,
  useBestBackend,
  writeImageScores,
} from "kernel-lib";
import { commandLineOrExit, OptionError, Options } from "./options";

const CKPT = path.resolve(__dirname, "..", "..", "notebooks", "checkpoints");

export const USAGE = `usage: node build/scripts/score-images.js [options]

Samples every shipped image model, scores it against the Fashion-MNIST test images (FID, KID, class shares,
sampling time) and writes the table the image lessons show.

  --samples N      images per model (default 10000)
  --batch N        images drawn per call (default 500)
  --models LIST    comma-separated subset of ${IMAGE_MODEL_NAMES.join(", ")} (default: all whose checkpoint exists);
                   rows of other models already in --out are kept
  --source S       subset | full | auto test images (default auto: the full 10,000 when installed)
  --out FILE       table to write (default notebooks/checkpoints/image-scores.json)
  -h, --help       print this and exit`;

function parseArgs(argv: string[]) {
  const o = new Options(argv, ["samples", "batch", "models", "source", "out"]);
  const models = (o.string("models") ?? IMAGE_MODEL_NAMES.join(",")).split(",").map((s) => s.trim());
  for (const m of models) if (!(IMAGE_MODEL_NAMES as readonly string[]).includes(m)) throw new OptionError(`--models: no model "${m}"; use ${IMAGE_MODEL_NAMES.join(", ")}`);
  return {
    samples: o.number("samples", 10000, { min: 2 }),
    batch: o.number("batch", 500, { min: 1 }),
    models,
    source: o.choice("source", ["subset", "full", "auto"], "auto"),
    out: path.resolve(o.string("out") ?? path.join(CKPT, "image-scores.json")),
  };
}

async function main(): Promise<void> {
  const args = commandLineOrExit("score-images", USAGE, parseArgs);
  await useBestBackend();
  const { model: classifier, extra } = loadClassifier(path.join(CKPT, "fashion-classifier.ckpt"));
  const test = loadFashionMnist({ split: "test", source: args.source });
  console.log(`${test.description}; classifier test accuracy ${(extra["testAccuracy"] as number).toFixed(4)}`);
  const real = classifierFeatures(classifier, test.images);
  tf.dispose(test.images);
  // Rows of models not re-scored now are kept from the previous table, if it was made on the same test set.
  const previous = fs.existsSync(args.out) ? readImageScores(args.out) : null;
  const kept = previous && previous.testImages === test.count ? previous.rows : [];
  const rows: ImageScoreRow[] = [realDataFloor(real)];
  for (const name of IMAGE_MODEL_NAMES) {
    if (!args.models.includes(name) || !fs.existsSync(path.join(CKPT, `${name}.ckpt`))) {
      const old = kept.find((r) => r.model === name);
      if (old) rows.push(old);
      else if (args.models.includes(name)) console.log(`${name}: no ${name}.ckpt, skipped`);
      continue;
    }
    const model = loadImageModel(name, CKPT);
    try {
      const row = scoreImageModel(model, classifier, real, args.samples, {
        batch: args.batch,
        onBatch: (done, total) => process.stdout.write(`\r${model.label}: ${done}/${total} samples`),
      });
      rows.push(row);
      console.log(`\r${model.label}: FID ${row.fid.toFixed(2)}, KID ${row.kid.toFixed(4)} ± ${row.kidSE.toFixed(4)}, ${args.samples} samples in ${row.samplingSeconds!.toFixed(1)} s`);
    } finally {
      model.dispose();
    }
  }
  const table = { testImages: test.count, rows };
  console.log("\n" + imageScoreMarkdown(table));
  writeImageScores(args.out, table);
  // The same table as Markdown, for the report index (which loads no TensorFlow.js).
  const md = args.out.replace(/\.json$/, "") + ".md";
  const caption = `FID and KID against ${test.count.toLocaleString("en-US")} Fashion-MNIST test images on the shipped classifier's features; made by \`node build/scripts/score-images.js --samples ${args.samples}\` on ${new Date().toISOString().slice(0, 10)}.`;
  fs.writeFileSync(md + ".tmp", imageScoreMarkdown(table, caption) + "\n");
  fs.renameSync(md + ".tmp", md);
  console.log(`wrote ${path.relative(process.cwd(), args.out)} and ${path.relative(process.cwd(), md)}`);
  classifier.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
