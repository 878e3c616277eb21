/**
 * The table of notebooks/07-latent-diffusion.ipynb: the latent diffusion model (latent-autoencoder.ckpt +
 * latent-diffusion.ckpt) against pixel diffusion (lesson 06's U-Net, diffusion-fashion-unet.ckpt), both sampled
 * with DDIM on the same number of steps from seed 1: training time per step (from each checkpoint's record),
 * the time to sample --samples images, FID and KID against the 10,000 Fashion-MNIST test images on the shipped
 * classifier's features, and for the latent model at each guidance weight w the class accuracy (the classifier
 * agrees with the requested class) and the within-class feature variance. Also the floors at the same sample
 * size: real training images, and the autoencoder's reconstructions of test images. Writes the table as JSON
 * (notebooks/checkpoints/latent-comparison.json by default), which the lesson shows.
 *
 *   npx tsc -b && flock /tmp/aigc-train.lock node build/scripts/compare-latent-diffusion.js --pixel /work/runs/diffusion-fashion-unet.ckpt
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  classifierFeatures,
  classLabels,
  ddimSample,
  decodeLatents,
  encodeLatents,
  fid,
  guidanceScores,
  imageScores,
  loadClassifier,
  loadFashionMnist,
  loadLatentAutoencoder,
  loadLatentUNet,
  loadUNet,
  tf,
  useBestBackend,
  sampleLatentImages,
} from "kernel-lib";
import { commandLineOrExit, integerItem, OptionError, Options } from "./options";
import { backendLabel } from "./records";

const CKPT = path.resolve(__dirname, "..", "..", "notebooks", "checkpoints");

export const USAGE = `usage: node build/scripts/compare-latent-diffusion.js [options]

Compares latent diffusion with pixel diffusion for notebooks/07-latent-diffusion.ipynb and writes the table.

  --samples N       images per model and guidance weight (default 1000; a multiple of 10)
  --steps N         DDIM steps of both samplers (default 50)
  --weights LIST    guidance weights of the latent model (default 0,1,3,7)
  --pixel FILE      the pixel U-Net (default notebooks/checkpoints/diffusion-fashion-unet.ckpt)
  --ae FILE         the autoencoder (default notebooks/checkpoints/latent-autoencoder.ckpt)
  --latent FILE     the latent U-Net (default notebooks/checkpoints/latent-diffusion.ckpt)
  --out FILE        the table (default notebooks/checkpoints/latent-comparison.json)
  -h, --help        print this and exit`;

function parseArgs(argv: string[]) {
  const o = new Options(argv, ["samples", "steps", "weights", "pixel", "ae", "latent", "out"]);
  const samples = o.number("samples", 1000, { min: 10 });
  if (samples % 10 !== 0) throw new OptionError(`--samples must be a multiple of 10 (equal classes), got ${samples}`);
  return {
    samples,
    steps: o.number("steps", 50, { min: 1 }),
    weights: o.list("weights", "0,1,3,7", integerItem(0)),
    pixel: path.resolve(o.string("pixel") ?? path.join(CKPT, "diffusion-fashion-unet.ckpt")),
    ae: path.resolve(o.string("ae") ?? path.join(CKPT, "latent-autoencoder.ckpt")),
    latent: path.resolve(o.string("latent") ?? path.join(CKPT, "latent-diffusion.ckpt")),
    out: path.resolve(o.string("out") ?? path.join(CKPT, "latent-comparison.json")),
  };
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

async function main(): Promise<void> {
  const args = commandLineOrExit("compare-latent-diffusion", USAGE, parseArgs);
  await useBestBackend();
  const n = args.samples;
  const { model: classifier } = loadClassifier(path.join(CKPT, "fashion-classifier.ckpt"));
  const test = loadFashionMnist({ split: "test", source: "auto" });
  const trainSet = loadFashionMnist({ split: "train", source: test.source, limit: n });
  console.log(`${test.description}\n${n} samples per row, DDIM ${args.steps} steps, seed 1`);
  const real = classifierFeatures(classifier, test.images);
  const rows: Record<string, unknown>[] = [];
  const show = (r: Record<string, unknown>) => {
    rows.push(r);
    console.log(JSON.stringify(r));
  };
  // 1) Floors: real training images, and the autoencoder's reconstructions of n test images.
  show({ model: "real training images", fid: round(fid(real, classifierFeatures(classifier, trainSet.images)), 3) });
  const ae = loadLatentAutoencoder(args.ae);
  const scale = ae.extra["latentScale"] as number;
  const recon = tf.tidy(() => decodeLatents(ae.model, encodeLatents(ae.model, test.images.slice(0, n), scale), scale));
  show({ model: "autoencoder reconstructions of test images", fid: round(fid(real, classifierFeatures(classifier, recon)), 3) });
  recon.dispose();
  // 2) Pixel diffusion: lesson 06's U-Net, unconditional.
  if (fs.existsSync(args.pixel)) {
    const pixel = loadUNet(args.pixel);
    const t0 = Date.now();
    const parts: tf.Tensor[] = [];
    for (let i = 0, k = 0; i < n; i += 500, k++) {
      const { samples } = ddimSample(pixel.model, pixel.schedule, { n: Math.min(500, n - i), seed: 1 + k, steps: args.steps, clip: [-1, 1] });
      parts.push(tf.tidy(() => tf.clipByValue(tf.div(tf.add(samples, 1), 2), 0, 1).reshape([-1, 28, 28])));
      samples.dispose();
    }
    const seconds = (Date.now() - t0) / 1000;
    const images = tf.concat(parts);
    tf.dispose(parts);
    const s = imageScores(classifier, real, images, { subsets: 100, subsetSize: Math.min(1000, n) });
    const rec = pixel.extra as { stepMs: number; batchSize: number; steps: number };
    show({ model: "pixel U-Net", parameters: pixel.model.parameterCount(), trainStepMs: rec.stepMs, trainBatch: rec.batchSize, trainSteps: rec.steps, samplingSeconds: round(seconds, 1), fid: round(s.fid, 3), kid: round(s.kid, 5), kidSE: round(s.kidStandardError, 5), minClassShare: round(Math.min(...s.classShares), 4) });
    tf.dispose(images);
    pixel.model.dispose();
  } else {
    console.log(`no ${args.pixel}: the pixel row is left out`);
  }
  // 3) Latent diffusion at each guidance weight, n / 10 images of each class.
  const latent = loadLatentUNet(args.latent);
  const rec = latent.extra as { stepMs: number; batchSize: number; steps: number };
  const labels = classLabels(10, n / 10);
  for (const w of args.weights) {
    const t0 = Date.now();
    const images = sampleLatentImages(ae.model, scale, latent.model, latent.schedule, { labels, guidance: w, steps: args.steps, seed: 1 });
    const seconds = (Date.now() - t0) / 1000;
    const s = guidanceScores(classifier, real, images, labels);
    show({ model: `latent U-Net, w = ${w}`, w, parameters: latent.model.parameterCount(), trainStepMs: rec.stepMs, trainBatch: rec.batchSize, trainSteps: rec.steps, samplingSeconds: round(seconds, 1), fid: round(s.fid, 3), kid: round(s.kid, 5), kidSE: round(s.kidStandardError, 5), classAccuracy: round(s.classAccuracy, 4), withinClassVariance: round(s.withinClassVariance, 3) });
    images.dispose();
  }
  fs.mkdirSync(path.dirname(args.out), { recursive: true });
  const table = { samples: n, ddimSteps: args.steps, seed: 1, test: test.count, source: test.source, backend: backendLabel(), rows, madeBy: `scripts/compare-latent-diffusion.ts ${process.argv.slice(2).join(" ")}`.trim() };
  fs.writeFileSync(args.out, JSON.stringify(table, null, 1) + "\n");
  console.log(`wrote ${path.relative(process.cwd(), args.out)}`);
  latent.model.dispose();
  ae.model.dispose();
  classifier.dispose();
  tf.dispose([test.images, trainSet.images]);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
