/**
 * The Fashion-MNIST loader (kernel-lib/src/data/fashion-mnist.ts, data/idx.ts): the shipped subset loads with the right
 * shapes, values and checksums; damaged files (wrong magic, truncated, corrupt, mismatched, wrong shape,
 * bad labels, another data set) throw a DatasetError naming the problem and never return data.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import {
  DatasetError,
  DatasetProblem,
  FASHION_MNIST_CLASSES,
  fashionMnistSubsetDir,
  loadFashionMnist,
  parseIdx,
  readFashionMnist,
  tf,
} from "kernel-lib";

/** An IDX file of unsigned bytes with the given dimensions (data defaults to a ramp). */
function idx(dims: number[], data?: Uint8Array, typeCode = 0x08): Buffer {
  const n = dims.reduce((a, b) => a * b, 1);
  const body = data ?? Uint8Array.from({ length: n }, (_, i) => i % 256);
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt8(typeCode, 2);
  header.writeUInt8(dims.length, 3);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(body)]);
}

/** A temporary folder holding a test split's two files (raw gz bytes given). */
function splitDir(images: Buffer, labels: Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fmnist-test-"));
  fs.writeFileSync(path.join(dir, "t10k-images-idx3-ubyte.gz"), images);
  fs.writeFileSync(path.join(dir, "t10k-labels-idx1-ubyte.gz"), labels);
  return dir;
}

/** Asserts that loading the test split from `dir` throws a DatasetError with `problem`, and leaks no tensor. */
function assertProblem(dir: string, problem: DatasetProblem, verify = false): void {
  const before = tf.memory().numTensors;
  assert.throws(
    () => loadFashionMnist({ split: "test", source: "subset", dir, verify }),
    (e: unknown) => {
      assert.ok(e instanceof DatasetError, `expected a DatasetError, got ${String(e)}`);
      assert.equal(e.name, "DatasetError");
      assert.equal(e.problem, problem, e.message);
      return true;
    },
  );
  assert.equal(tf.memory().numTensors, before, "no tensor is made for a bad file");
  fs.rmSync(dir, { recursive: true, force: true });
}

const good = { images: () => zlib.gzipSync(idx([3, 28, 28])), labels: () => zlib.gzipSync(idx([3], Uint8Array.from([0, 9, 4]))) };

test("the shipped subset loads: 2,000 train and 500 test images, 28x28, in [0, 1], labels 0-9", () => {
  for (const [split, n] of [["train", 2000], ["test", 500]] as const) {
    const data = loadFashionMnist({ split, source: "subset" });
    try {
      assert.deepEqual(data.images.shape, [n, 28, 28]);
      assert.equal(data.images.dtype, "float32");
      assert.equal(data.count, n);
      assert.equal(data.labels.length, n);
      assert.equal(data.source, "subset");
      assert.match(data.description, /subset/);
      const [lo, hi] = tf.tidy(() => [data.images.min().dataSync()[0]!, data.images.max().dataSync()[0]!]);
      assert.equal(lo, 0);
      assert.equal(hi, 1);
      assert.ok(data.labels.every((l) => l >= 0 && l < FASHION_MNIST_CLASSES.length));
      // Every class is present in both splits (the subset is the data set's first images, not one class).
      assert.equal(new Set(data.labels).size, 10);
      // The first image of both Fashion-MNIST splits is an ankle boot.
      assert.equal(FASHION_MNIST_CLASSES[data.labels[0]!], "Ankle boot");
    } finally {
      data.images.dispose();
    }
  }
});

test("pixels are the file's bytes divided by 255, in row-major order", () => {
  const raw = readFashionMnist({ split: "test", source: "subset", limit: 2 });
  const data = loadFashionMnist({ split: "test", source: "subset", limit: 2 });
  try {
    assert.equal(raw.pixels.length, 2 * 784);
    const values = data.images.dataSync();
    for (const i of [0, 300, 783, 784 + 406]) assert.ok(Math.abs(values[i]! - raw.pixels[i]! / 255) < 1e-7, `pixel ${i}`);
    // Row-major: pixel (r, c) of image k is at k*784 + r*28 + c.
    const r = 14, c = 9;
    assert.ok(Math.abs(data.images.arraySync()[1]![r]![c]! - raw.pixels[784 + r * 28 + c]! / 255) < 1e-7);
  } finally {
    data.images.dispose();
  }
});

test("limit keeps the first images and their labels", () => {
  const all = readFashionMnist({ split: "train", source: "subset" });
  const few = readFashionMnist({ split: "train", source: "subset", limit: 7 });
  assert.equal(few.count, 7);
  assert.deepEqual(Array.from(few.labels), Array.from(all.labels.subarray(0, 7)));
  assert.throws(() => readFashionMnist({ split: "train", source: "subset", limit: 0 }), RangeError);
});

test("the subset is found from any working directory", () => {
  const cwd = process.cwd();
  try {
    process.chdir(os.tmpdir());
    assert.ok(fs.existsSync(path.join(fashionMnistSubsetDir(), "train-images-idx3-ubyte.gz")));
  } finally {
    process.chdir(cwd);
  }
});

test("auto uses the full set when installed and says so; full without it is a 'missing' error", () => {
  const saved = process.env.FASHION_MNIST_DIR;
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), "fmnist-empty-"));
  try {
    process.env.FASHION_MNIST_DIR = empty;
    const auto = readFashionMnist({ split: "test", source: "auto", limit: 1 });
    assert.equal(auto.source, "subset");
    assert.throws(() => readFashionMnist({ split: "test", source: "full" }), (e: unknown) => e instanceof DatasetError && e.problem === "missing");
    // A folder with the four files counts as installed (checked as the full set: 10,000 test images).
    fs.cpSync(fashionMnistSubsetDir(), empty, { recursive: true });
    assert.throws(() => readFashionMnist({ split: "test", source: "auto" }), (e: unknown) => e instanceof DatasetError && e.problem === "bad-shape");
  } finally {
    if (saved === undefined) delete process.env.FASHION_MNIST_DIR;
    else process.env.FASHION_MNIST_DIR = saved;
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

test("a well-formed synthetic pair loads with verify: false", () => {
  const dir = splitDir(good.images(), good.labels());
  const data = loadFashionMnist({ split: "test", source: "subset", dir, verify: false });
  try {
    assert.deepEqual(data.images.shape, [3, 28, 28]);
    assert.deepEqual(Array.from(data.labels), [0, 9, 4]);
    assert.ok(Math.abs(data.images.dataSync()[5]! - 5 / 255) < 1e-7);
  } finally {
    data.images.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("wrong magic number: not IDX, or another IDX type", () => {
  const notIdx = Buffer.from(idx([3, 28, 28]));
  notIdx[0] = 0x50; // "P": e.g. a PNG or text file renamed
  assertProblem(splitDir(zlib.gzipSync(notIdx), good.labels()), "bad-magic");
  assertProblem(splitDir(zlib.gzipSync(idx([3, 28, 28], undefined, 0x0d)), good.labels()), "bad-magic");
});

test("a file that is not gzip at all is corrupt", () => {
  assertProblem(splitDir(idx([3, 28, 28]), good.labels()), "corrupt");
});

test("truncated: gzip stream cut short, IDX body cut short, header cut short", () => {
  const gz = good.images();
  assertProblem(splitDir(gz.subarray(0, Math.floor(gz.length / 2)), good.labels()), "truncated");
  const full = idx([3, 28, 28]);
  assertProblem(splitDir(zlib.gzipSync(full.subarray(0, full.length - 1)), good.labels()), "truncated");
  assertProblem(splitDir(zlib.gzipSync(full.subarray(0, 10)), good.labels()), "truncated");
});

test("corrupt: damaged gzip bytes, and trailing bytes after the data", () => {
  const gz = Buffer.from(zlib.gzipSync(idx([3, 28, 28], Uint8Array.from({ length: 3 * 784 }, (_, i) => (i * 7919) % 251))));
  // Flip the CRC-32 in the gzip trailer: the data inflates, but the check fails.
  gz[gz.length - 6]! ^= 0xff;
  assertProblem(splitDir(gz, good.labels()), "corrupt");
  assertProblem(splitDir(zlib.gzipSync(Buffer.concat([idx([3, 28, 28]), Buffer.from([1, 2])])), good.labels()), "corrupt");
});

test("mismatched files: 3 images with 2 labels", () => {
  assertProblem(splitDir(good.images(), zlib.gzipSync(idx([2], Uint8Array.from([1, 2])))), "mismatch");
});

test("wrong shape: 27x28 images, 2-D labels", () => {
  assertProblem(splitDir(zlib.gzipSync(idx([3, 27, 28])), good.labels()), "bad-shape");
  assertProblem(splitDir(good.images(), zlib.gzipSync(idx([3, 1], Uint8Array.from([1, 2, 3])))), "bad-shape");
});

test("a label outside 0-9", () => {
  assertProblem(splitDir(good.images(), zlib.gzipSync(idx([3], Uint8Array.from([1, 10, 2])))), "bad-label");
});

test("verified loads reject a different image count and a changed pixel (checksum)", () => {
  // 3 images are not the subset's 500.
  assertProblem(splitDir(good.images(), good.labels()), "bad-shape", true);
  // The real subset with one pixel changed: well formed, right size, wrong data.
  const raw = readFashionMnist({ split: "test", source: "subset" });
  const pixels = Uint8Array.from(raw.pixels);
  pixels[1234] = (pixels[1234]! + 1) % 256;
  const labels = fs.readFileSync(path.join(fashionMnistSubsetDir(), "t10k-labels-idx1-ubyte.gz"));
  assertProblem(splitDir(zlib.gzipSync(idx([500, 28, 28], pixels)), labels), "checksum", true);
});

test("parseIdx returns exactly prod(dims) bytes", () => {
  const parsed = parseIdx(idx([2, 3]), "x");
  assert.deepEqual(parsed.dims, [2, 3]);
  assert.deepEqual(Array.from(parsed.data), [0, 1, 2, 3, 4, 5]);
  assert.throws(() => parseIdx(new Uint8Array([0, 0, 8]), "x"), (e: unknown) => e instanceof DatasetError && e.problem === "truncated");
  assert.throws(() => parseIdx(idx([2, 3]), "x", [2, 4]), (e: unknown) => e instanceof DatasetError && e.problem === "bad-shape");
});
