/**
 * Makes the shipped Fashion-MNIST subset: the first 2,000 training and the first 500 test images with
 * their labels, as gzipped IDX files beside this script, from Debian's `dataset-fashion-mnist` package
 * (or `$FASHION_MNIST_DIR`). Every source file is checked by kernel-lib's loader first (gzip, magic,
 * shape, length, SHA-256), so a damaged source cannot make a damaged subset.
 *
 *   apt-get install -y dataset-fashion-mnist
 *   npx tsc -b && node build/datasets/fashion-mnist/make-subset.js
 *
 * Prints the SHA-256 of each decompressed file (what the loader checks, listed in README.md and in
 * kernel-lib/src/data/fashion-mnist.ts) and writes SHA256SUMS for the .gz files (`sha256sum -c SHA256SUMS`).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { FASHION_MNIST_COUNTS, FASHION_MNIST_SIZE, fashionMnistFullDir, readFashionMnist } from "kernel-lib";

/** The folder of this script's source (build/datasets/fashion-mnist -> datasets/fashion-mnist). */
function outDir(): string {
  const repo = path.resolve(__dirname, "..", "..", "..");
  return path.join(repo, "datasets", "fashion-mnist");
}

/** An IDX file of unsigned bytes: magic 00 00 08 nd, big-endian dims, data. */
function idxBytes(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt8(0x08, 2);
  header.writeUInt8(dims.length, 3);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

function sha256(bytes: Uint8Array): string {
  return crypto.createHash("sha256").update(bytes).digest("hex");
}

function main(): void {
  const dir = outDir();
  const sums: string[] = [];
  for (const split of ["train", "test"] as const) {
    // 1) Read and check the full split, keeping the first N.
    const n = FASHION_MNIST_COUNTS.subset[split];
    const full = readFashionMnist({ split, source: "full", limit: n });
    if (full.count !== n) throw new Error(`expected ${n} ${split} images, read ${full.count}`);
    const stem = split === "train" ? "train" : "t10k";
    const labels = Uint8Array.from(full.labels);
    // 2) Write both files; gzip level 9 and Node's fixed header (mtime 0) make the output reproducible for a given zlib.
    for (const [name, raw] of [
      [`${stem}-images-idx3-ubyte.gz`, idxBytes([n, FASHION_MNIST_SIZE, FASHION_MNIST_SIZE], full.pixels)],
      [`${stem}-labels-idx1-ubyte.gz`, idxBytes([n], labels)],
    ] as const) {
      const gz = zlib.gzipSync(raw, { level: 9 });
      fs.writeFileSync(path.join(dir, name), gz);
      sums.push(`${sha256(gz)}  ${name}`);
      console.log(`${name}: ${raw.length} bytes, ${gz.length} gzipped; sha256 of the decompressed file ${sha256(raw)}`);
    }
    const perClass = Array.from({ length: 10 }, (_, c) => full.labels.filter((l) => l === c).length);
    console.log(`${split}: ${n} images, per class ${perClass.join(" ")}`);
  }
  fs.writeFileSync(path.join(dir, "SHA256SUMS"), sums.join("\n") + "\n");
  console.log(`wrote ${dir} from ${fashionMnistFullDir()}`);
}

main();
