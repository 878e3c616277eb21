/**
 * Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): 28x28 greyscale pictures of clothes in ten classes,
 * read from gzipped IDX files. Two sources:
 *
 * - "subset": the first 2,000 training and first 500 test images, shipped in datasets/fashion-mnist/ of
 *   this repository (made by datasets/fashion-mnist/make-subset.ts; licence and checksums in its README);
 * - "full": the 60,000 / 10,000 images of Debian's `dataset-fashion-mnist` package, in
 *   /usr/share/datasets/fashion-mnist/ (or `$FASHION_MNIST_DIR`).
 *
 * Every file is checked before its bytes become a tensor: gzip integrity, the IDX magic number, the
 * dimensions, the exact length, the label range, the SHA-256 of the decompressed bytes when it is known,
 * and that images and labels agree in number. Anything wrong throws a {@link DatasetError} that names the
 * file and the problem; the loader never returns wrongly sized data. Taught in notebooks/04-vae.ipynb.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { DatasetError, gunzipFile, parseIdx } from "./idx";
import { mode } from "../runtime/mode";

/** The ten classes, indexed by label (the order of the data set's own README). */
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
] as const;

/** Image side in pixels. */
export const FASHION_MNIST_SIZE = 28;

export type FashionMnistSplit = "train" | "test";
/** "auto" takes the full set when it is installed, else the subset. */
export type FashionMnistSource = "subset" | "full" | "auto";

/** SHA-256 (hex) of the decompressed IDX bytes of each known file, by source and file name. */
export const FASHION_MNIST_SHA256: Record<"subset" | "full", Record<string, string>> = {
  full: {
    // Debian dataset-fashion-mnist 0.0~git20200523.55506a9-1 (sha256 of the gunzipped files).
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
  },
  subset: {
    // The shipped files, made by datasets/fashion-mnist/make-subset.ts (listed in its README too).
    "train-images-idx3-ubyte.gz": "71a9f8cec24060d6752b3e4940ce6d6fd729334afa47b735dd553481aa83b53e",
    "train-labels-idx1-ubyte.gz": "8983259dfbc9f185f92698916f7daf361704b43ba7d19568cc7bcdeefdc1bece",
    "t10k-images-idx3-ubyte.gz": "c9bd0ed7148856eb2287d902861921296d6c36d95a5113341a35554343e84123",
    "t10k-labels-idx1-ubyte.gz": "9f5f7b9143df7bffff73a8bf7d8a53545dbf787f86e5e195c64401d2c6f8f372",
  },
};

/** Number of images per split in each source. */
export const FASHION_MNIST_COUNTS = {
  full: { train: 60000, test: 10000 },
  subset: { train: 2000, test: 500 },
} as const;

/** The default folder of the full set (Debian's package), or `$FASHION_MNIST_DIR`. */
export function fashionMnistFullDir(): string {
  return process.env.FASHION_MNIST_DIR ?? "/usr/share/datasets/fashion-mnist";
}

/** True when the four files of the full set are present. */
export function fashionMnistFullAvailable(dir = fashionMnistFullDir()): boolean {
  return ["train", "test"].every((s) => {
    const f = fileNames(s as FashionMnistSplit);
    return fs.existsSync(path.join(dir, f.images)) && fs.existsSync(path.join(dir, f.labels));
  });
}

/**
 * The shipped subset's folder, found relative to this library (kernel-lib/dist -> repo root) so it works
 * from any working directory (a notebook's cwd is notebooks/, a script's the repo root).
 */
export function fashionMnistSubsetDir(): string {
  const tried: string[] = [];
  for (const start of [__dirname, process.cwd()]) {
    let dir = path.resolve(start);
    for (;;) {
      const candidate = path.join(dir, "datasets", "fashion-mnist");
      tried.push(candidate);
      if (fs.existsSync(path.join(candidate, fileNames("train").images))) return candidate;
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new DatasetError("datasets/fashion-mnist", "missing", `the shipped subset was not found (looked in ${tried.slice(0, 4).join(", ")}, ...)`);
}

function fileNames(split: FashionMnistSplit): { images: string; labels: string } {
  const stem = split === "train" ? "train" : "t10k";
  return { images: `${stem}-images-idx3-ubyte.gz`, labels: `${stem}-labels-idx1-ubyte.gz` };
}

export interface FashionMnistOptions {
  /** "train" or "test". */
  split: FashionMnistSplit;
  /**
   * Which files: "subset" (shipped), "full" (Debian package; throws if absent) or "auto" (full when
   * installed, else subset). Default: "auto" in full mode, "subset" in quick mode, so quick runs are
   * the same everywhere.
   */
  source?: FashionMnistSource;
  /** Keep only the first `limit` images (after all checks). Default: all. */
  limit?: number;
  /** Folder of the files, overriding the source's usual place; `source` still says which sums and counts apply. */
  dir?: string;
  /**
   * Check the source's SHA-256 sums and image counts. Default true; false reads any well-formed
   * Fashion-MNIST-shaped IDX pair (structure, shapes and labels are always checked).
   */
  verify?: boolean;
}

export interface FashionMnist {
  /** (N, 28, 28) float32 in [0, 1] (pixel / 255). The caller owns it and disposes it. */
  images: tf.Tensor3D;
  /** N labels 0..9 (see {@link FASHION_MNIST_CLASSES}). */
  labels: Int32Array;
  /** The source actually used. */
  source: "subset" | "full";
  split: FashionMnistSplit;
  /** N. */
  count: number;
  /** Folder the files came from. */
  dir: string;
  /** One line naming what was loaded, e.g. "Fashion-MNIST train: 2,000 images (shipped subset, ...)". */
  description: string;
}

/** The raw checked bytes of a split, before they become a tensor (see {@link loadFashionMnist}). */
export interface FashionMnistBytes {
  /** N*28*28 pixels 0..255, row-major. */
  pixels: Uint8Array;
  labels: Int32Array;
  count: number;
  source: "subset" | "full";
  dir: string;
}

/** Reads and checks one split's files without making a tensor (see {@link loadFashionMnist}). */
export function readFashionMnist(options: FashionMnistOptions): FashionMnistBytes {
  const { split } = options;
  if (split !== "train" && split !== "test") throw new RangeError(`loadFashionMnist: split must be "train" or "test", got ${String(split)}`);
  const requested = options.source ?? (mode() === "full" ? "auto" : "subset");
  if (requested !== "subset" && requested !== "full" && requested !== "auto") throw new RangeError(`loadFashionMnist: source must be "subset", "full" or "auto", got ${String(requested)}`);
  // 1) Resolve the source and folder.
  let source: "subset" | "full";
  let dir: string;
  if (requested === "auto") {
    source = fashionMnistFullAvailable(options.dir ?? fashionMnistFullDir()) ? "full" : "subset";
  } else {
    source = requested;
  }
  if (options.dir) dir = options.dir;
  else dir = source === "full" ? fashionMnistFullDir() : fashionMnistSubsetDir();
  if (source === "full" && !options.dir && !fashionMnistFullAvailable(dir)) {
    throw new DatasetError(dir, "missing", "the full Fashion-MNIST set is not installed (apt-get install dataset-fashion-mnist, or set FASHION_MNIST_DIR)");
  }
  const names = fileNames(split);
  const imagesFile = path.join(dir, names.images);
  const labelsFile = path.join(dir, names.labels);
  // 2) Decompress, then parse with the shapes pinned: N x 28 x 28 images, N labels.
  const imageBytes = gunzipFile(imagesFile);
  const labelBytes = gunzipFile(labelsFile);
  const verify = options.verify ?? true;
  const expectedCount = verify ? FASHION_MNIST_COUNTS[source][split] : null;
  const images = parseIdx(imageBytes, imagesFile, [expectedCount, FASHION_MNIST_SIZE, FASHION_MNIST_SIZE]);
  const labels = parseIdx(labelBytes, labelsFile, [expectedCount]);
  if (images.dims[0] !== labels.dims[0]) {
    throw new DatasetError(imagesFile, "mismatch", `${images.dims[0]} images but ${labels.dims[0]} labels in ${labelsFile}`);
  }
  // 3) Checksums last: a well-formed file with the wrong sum holds different data than the lessons expect.
  if (verify) {
    for (const [file, bytes, name] of [[imagesFile, imageBytes, names.images], [labelsFile, labelBytes, names.labels]] as const) {
      const want = FASHION_MNIST_SHA256[source][name]!;
      const got = crypto.createHash("sha256").update(bytes).digest("hex");
      if (got !== want) throw new DatasetError(file, "checksum", `SHA-256 of the decompressed file is ${got}, expected ${want} (the ${source} set's)`);
    }
  }
  const bad = labels.data.findIndex((l) => l >= FASHION_MNIST_CLASSES.length);
  if (bad >= 0) throw new DatasetError(labelsFile, "bad-label", `label ${labels.data[bad]} at index ${bad}; labels run 0..${FASHION_MNIST_CLASSES.length - 1}`);
  // 4) Optionally keep the first `limit`.
  let count = images.dims[0]!;
  if (options.limit !== undefined) {
    if (!Number.isInteger(options.limit) || options.limit < 1) throw new RangeError(`loadFashionMnist: limit must be a positive integer, got ${options.limit}`);
    count = Math.min(count, options.limit);
  }
  const pixelsPerImage = FASHION_MNIST_SIZE * FASHION_MNIST_SIZE;
  return {
    pixels: images.data.subarray(0, count * pixelsPerImage),
    labels: Int32Array.from(labels.data.subarray(0, count)),
    count,
    source,
    dir,
  };
}

/**
 * Loads one split of Fashion-MNIST as a (N, 28, 28) float32 tensor in [0, 1] with its labels, after
 * the checks of the module comment. Says which set it used in `source` and `description`.
 *
 * ```ts
 * const train = loadFashionMnist({ split: "train" });   // quick mode: the shipped 2,000
 * console.log(train.description);
 * train.images.dispose();
 * ```
 */
export function loadFashionMnist(options: FashionMnistOptions): FashionMnist {
  const raw = readFashionMnist(options);
  const floats = new Float32Array(raw.pixels.length);
  for (let i = 0; i < floats.length; i++) floats[i] = raw.pixels[i]! / 255;
  const images = tf.tensor3d(floats, [raw.count, FASHION_MNIST_SIZE, FASHION_MNIST_SIZE], "float32");
  const what = raw.source === "full" ? `full set, ${raw.dir}` : `shipped subset, ${path.relative(process.cwd(), raw.dir) || raw.dir}`;
  const description = `Fashion-MNIST ${options.split}: ${raw.count.toLocaleString("en-US")} images (${what})`;
  return { images, labels: raw.labels, source: raw.source, split: options.split, count: raw.count, dir: raw.dir, description };
}
