/**
 * The image models' table: FID and KID against the 10,000 Fashion-MNIST test images on the shipped classifier's
 * features (kernel-lib's imageScores), the real-data floor (two disjoint halves of the test set), each model's
 * class shares, and its sampling time, for every shipped image model found in notebooks/checkpoints/:
 * vae-latent20 (MLP VAE), conv-vae-latent16, gan-fashion (MLP GAN), gan-dcgan, diffusion-fashion (MLP denoiser),
 * diffusion-fashion-unet. VAEs show their decoders' pixel means, GANs their weight-averaged generators, diffusion
 * models DDPM ancestral samples with x̂₀ clipped to [-1, 1], all from seed 1.
 *
 *   npx tsc -b && node build/scripts/score-images.js [--samples 10000] [--out reports/image-scores.json]
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  classifierFeatures,
  createFashionGan,
  ddpmSample,
  FASHION_GAN_DEFAULTS,
  FASHION_MNIST_CLASSES,
  fid,
  imageScores,
  kid,
  loadCheckpoint,
  loadClassifier,
  loadConvVae,
  loadDiffusion,
  loadFashionMnist,
  loadUNet,
  loadVae,
  disposeCheckpoint,
  Rng,
  Denoiser,
  NoiseSchedule,
  tf,
  useBestBackend,
} from "kernel-lib";
import { Options } from "./options";

const CKPT = path.resolve(__dirname, "..", "..", "notebooks", "checkpoints");

/** n images (n, 28, 28) in [0, 1] drawn in batches of `batch` by `draw(size, seed)`. */
function drawImages(n: number, batch: number, draw: (size: number, seed: number) => tf.Tensor): tf.Tensor {
  const parts: tf.Tensor[] = [];
  for (let i = 0, k = 0; i < n; i += batch, k++) parts.push(tf.tidy(() => tf.clipByValue(draw(Math.min(batch, n - i), 1 + k), 0, 1).reshape([-1, 28, 28])));
  const all = tf.concat(parts);
  tf.dispose(parts);
  return all;
}

function diffusionDraw(model: Denoiser, schedule: NoiseSchedule) {
  return (size: number, seed: number) => {
    const { samples, trajectory } = ddpmSample(model, schedule, { n: size, seed, clip: [-1, 1] });
    tf.dispose(trajectory.map((s) => s.x));
    return tf.tidy(() => {
      const out = tf.div(tf.add(samples, 1), 2);
      samples.dispose();
      return out;
    });
  };
}

type Loader = () => { draw: (size: number, seed: number) => tf.Tensor; dispose: () => void };

const MODELS: Record<string, { file: string; label: string; load: Loader }> = {
  "vae-latent20": { file: "vae-latent20.ckpt", label: "MLP VAE (latent 20)", load: () => { const m = loadVae(path.join(CKPT, "vae-latent20.ckpt")).model; return { draw: (n, s) => m.sample(n, s), dispose: () => m.dispose() }; } },
  "conv-vae-latent16": { file: "conv-vae-latent16.ckpt", label: "conv VAE (latent 16)", load: () => { const m = loadConvVae(path.join(CKPT, "conv-vae-latent16.ckpt")).model; return { draw: (n, s) => m.sample(n, s), dispose: () => m.dispose() }; } },
  ...Object.fromEntries(
    (["gan-fashion", "gan-dcgan"] as const).map((name) => [
      name,
      {
        file: `${name}.ckpt`,
        label: name === "gan-fashion" ? "MLP GAN" : "DCGAN",
        load: () => {
          const ckpt = loadCheckpoint(path.join(CKPT, `${name}.ckpt`), { kind: "gan-fashion" });
          const cfg = ckpt.config as typeof FASHION_GAN_DEFAULTS & { seed: number };
          const gan = createFashionGan(cfg, new Rng(cfg.seed));
          gan.averageGenerator!.loadWeights(ckpt.weights);
          disposeCheckpoint(ckpt);
          return { draw: (n: number, s: number) => tf.tidy(() => tf.div(tf.add(gan.sample(n, s), 1), 2)), dispose: () => gan.dispose() };
        },
      },
    ]),
  ),
  "diffusion-fashion": { file: "diffusion-fashion.ckpt", label: "MLP diffusion", load: () => { const d = loadDiffusion(path.join(CKPT, "diffusion-fashion.ckpt")); return { draw: diffusionDraw(d.model, d.schedule), dispose: () => d.model.dispose() }; } },
  "diffusion-fashion-unet": { file: "diffusion-fashion-unet.ckpt", label: "U-Net diffusion", load: () => { const d = loadUNet(path.join(CKPT, "diffusion-fashion-unet.ckpt")); return { draw: diffusionDraw(d.model, d.schedule), dispose: () => d.model.dispose() }; } },
};

async function main(): Promise<void> {
  const o = new Options(process.argv.slice(2), ["samples", "batch", "out", "models"]);
  const n = o.number("samples", 10000, { min: 2 });
  const batch = o.number("batch", 500, { min: 1 });
  const out = o.string("out") ?? "reports/image-scores.json";
  const names = (o.string("models") ?? Object.keys(MODELS).join(",")).split(",");
  await useBestBackend();
  const { model: classifier, extra } = loadClassifier(path.join(CKPT, "fashion-classifier.ckpt"));
  const test = loadFashionMnist({ split: "test", source: "auto" });
  console.log(`${test.description}; classifier test accuracy ${(extra["testAccuracy"] as number).toFixed(4)}`);
  const realFeatures = classifierFeatures(classifier, test.images);
  // The floor: two disjoint halves of the real test set, as far apart as real data gets from itself.
  const half = Math.floor(test.count / 2);
  const rows = (from: number, to: number) => ({ rows: to - from, cols: realFeatures.cols, data: realFeatures.data.subarray(from * realFeatures.cols, to * realFeatures.cols) });
  const floorKid = kid(rows(0, half), rows(half, 2 * half), { subsets: 100, subsetSize: Math.min(1000, half) });
  const table: Record<string, unknown>[] = [{ model: `real data floor (two halves of ${test.count} test images)`, fid: fid(rows(0, half), rows(half, 2 * half)), kid: floorKid.kid, kidSE: floorKid.standardError }];
  for (const name of names) {
    const spec = MODELS[name];
    if (!spec) throw new Error(`unknown model ${name}; use ${Object.keys(MODELS).join(", ")}`);
    if (!fs.existsSync(path.join(CKPT, spec.file))) {
      console.log(`${spec.label}: no ${spec.file}, skipped`);
      continue;
    }
    const m = spec.load();
    const t0 = Date.now();
    const images = drawImages(n, batch, m.draw);
    const seconds = (Date.now() - t0) / 1000;
    const s = imageScores(classifier, realFeatures, images, { subsets: 100, subsetSize: Math.min(1000, n) });
    table.push({ model: spec.label, samples: n, fid: s.fid, kid: s.kid, kidSE: s.kidStandardError, minClassShare: Math.min(...s.classShares), classShares: s.classShares, samplingSeconds: seconds });
    console.log(`${spec.label}: FID ${s.fid.toFixed(2)}, KID ${s.kid.toFixed(4)} ± ${s.kidStandardError.toFixed(4)}, smallest class share ${(100 * Math.min(...s.classShares)).toFixed(1)}% (${FASHION_MNIST_CLASSES[s.classShares.indexOf(Math.min(...s.classShares))]}), ${n} samples in ${seconds.toFixed(1)} s`);
    images.dispose();
    m.dispose();
  }
  console.log("\n| model | FID | KID (± s.e.) | smallest class share | sampling time |\n|---|---:|---:|---:|---:|");
  for (const r of table) {
    const share = typeof r.minClassShare === "number" ? `${(100 * r.minClassShare).toFixed(1)}%` : "";
    console.log(`| ${r.model} | ${(r.fid as number).toFixed(2)} | ${(r.kid as number).toFixed(4)} ± ${(r.kidSE as number).toFixed(4)} | ${share} | ${typeof r.samplingSeconds === "number" ? `${r.samplingSeconds.toFixed(1)} s` : ""} |`);
  }
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ samples: n, test: test.count, table }, null, 1));
  tf.dispose(test.images);
  classifier.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
