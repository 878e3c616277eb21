/**
 * Checkpoints: a model's weights, its config, the training step and any extra JSON (a tokenizer, say) in
 * ONE file, written atomically (temporary file, fsync, then rename) so a crash or an interrupt never leaves
 * a half-written checkpoint. The file carries a SHA-256 of its contents: a truncated or corrupt file, a
 * wrong kind of model or a config that does not match gives a clear error, never wrong weights.
 *
 * Layout: the 8 bytes "AIGCCKPT", a uint32 (little-endian) header length, the JSON header, then the raw
 * float32/int32 weights back to back. The header lists each tensor's name, dtype, shape and byte offset.
 * Every lesson with a trained model loads one; first in notebooks/02-transformer.ipynb.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";

const MAGIC = Buffer.from("AIGCCKPT");

export interface Checkpoint {
  /** What model this is ("char-gpt", "vae", ...); loading checks it. */
  kind: string;
  /** The model's config; loading can require it to equal the caller's. */
  config: unknown;
  /** Training steps taken when it was saved. */
  step: number;
  /** Named weights. */
  weights: Record<string, tf.Tensor>;
  /** Any other JSON to keep (tokenizer vocabulary, metrics, data set name). */
  extra?: Record<string, unknown>;
}

interface TensorEntry {
  name: string;
  dtype: "float32" | "int32";
  shape: number[];
  offset: number;
  bytes: number;
}

interface Header {
  format: 1;
  kind: string;
  config: unknown;
  step: number;
  extra: Record<string, unknown>;
  tensors: TensorEntry[];
  /** SHA-256 (hex) of the weight bytes. */
  sha256: string;
}

/** Raised for a checkpoint that cannot be used: corrupt, truncated, another kind, another config. */
export class CheckpointError extends Error {
  constructor(file: string, problem: string) {
    super(`checkpoint ${file}: ${problem}`);
    this.name = "CheckpointError";
  }
}

/** Stable JSON (sorted keys) so equal configs compare equal whatever their key order. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(obj[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Encodes a checkpoint into bytes (reads the tensors; does not dispose them). */
export async function encodeCheckpoint(ckpt: Checkpoint): Promise<Buffer> {
  const entries: TensorEntry[] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const name of Object.keys(ckpt.weights).sort()) {
    const t = ckpt.weights[name]!;
    if (t.dtype !== "float32" && t.dtype !== "int32") throw new TypeError(`checkpoint: weight "${name}" has dtype ${t.dtype}; only float32 and int32 are stored`);
    const data = await t.data();
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    entries.push({ name, dtype: t.dtype, shape: t.shape, offset, bytes: buf.length });
    chunks.push(Buffer.from(buf));
    offset += buf.length;
  }
  const body = Buffer.concat(chunks);
  const header: Header = {
    format: 1,
    kind: ckpt.kind,
    config: ckpt.config,
    step: ckpt.step,
    extra: ckpt.extra ?? {},
    tensors: entries,
    sha256: crypto.createHash("sha256").update(body).digest("hex"),
  };
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length, 0);
  return Buffer.concat([MAGIC, len, json, body]);
}

/** Writes a checkpoint atomically: a temporary file in the same folder, fsync, then rename over `file`. */
export async function saveCheckpoint(file: string, ckpt: Checkpoint): Promise<void> {
  const bytes = await encodeCheckpoint(ckpt);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    const fd = fs.openSync(tmp, "w");
    try {
      fs.writeSync(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export interface LoadOptions {
  /** Required kind; a mismatch throws. */
  kind?: string;
  /** Required config (compared as stable JSON); a mismatch throws naming the differing keys. */
  config?: unknown;
}

function configDiff(a: unknown, b: unknown): string {
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort();
    const diffs = keys.filter((k) => stableJson(ao[k]) !== stableJson(bo[k])).map((k) => `${k}: checkpoint ${stableJson(ao[k])}, expected ${stableJson(bo[k])}`);
    return diffs.join("; ");
  }
  return `checkpoint ${stableJson(a)}, expected ${stableJson(b)}`;
}

/** Decodes and verifies checkpoint bytes; `file` names the source in errors. */
export function decodeCheckpoint(bytes: Buffer, file: string, options: LoadOptions = {}): Checkpoint {
  if (bytes.length < 12 || !bytes.subarray(0, 8).equals(MAGIC)) throw new CheckpointError(file, "not an aigc-lab checkpoint (bad magic bytes)");
  const len = bytes.readUInt32LE(8);
  if (12 + len > bytes.length) throw new CheckpointError(file, `truncated: header says ${len} bytes, file has ${bytes.length - 12}`);
  let header: Header;
  try {
    header = JSON.parse(bytes.subarray(12, 12 + len).toString("utf8"));
  } catch (e) {
    throw new CheckpointError(file, `corrupt header (${(e as Error).message})`);
  }
  if (header.format !== 1 || !Array.isArray(header.tensors)) throw new CheckpointError(file, `unknown format ${String(header.format)}`);
  const body = bytes.subarray(12 + len);
  const expectedBytes = header.tensors.reduce((s, t) => s + t.bytes, 0);
  if (body.length !== expectedBytes) throw new CheckpointError(file, `truncated or padded: ${body.length} bytes of weights, header lists ${expectedBytes}`);
  const sha = crypto.createHash("sha256").update(body).digest("hex");
  if (sha !== header.sha256) throw new CheckpointError(file, "corrupt: the weights' SHA-256 does not match the header");
  if (options.kind !== undefined && header.kind !== options.kind) throw new CheckpointError(file, `holds a "${header.kind}" model, expected "${options.kind}"`);
  if (options.config !== undefined && stableJson(header.config) !== stableJson(options.config)) {
    throw new CheckpointError(file, `config does not match (${configDiff(header.config, options.config)})`);
  }
  const weights: Record<string, tf.Tensor> = {};
  for (const t of header.tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count * 4 !== t.bytes) throw new CheckpointError(file, `tensor "${t.name}" has shape [${t.shape.join(", ")}] but ${t.bytes} bytes`);
    const slice = body.subarray(t.offset, t.offset + t.bytes);
    const copy = new Uint8Array(slice).buffer;
    weights[t.name] = t.dtype === "float32" ? tf.tensor(new Float32Array(copy), t.shape, "float32") : tf.tensor(new Int32Array(copy), t.shape, "int32");
  }
  return { kind: header.kind, config: header.config, step: header.step, weights, extra: header.extra };
}

/** Reads and verifies a checkpoint (see {@link decodeCheckpoint}). The caller owns the returned tensors. */
export function loadCheckpoint(file: string, options: LoadOptions = {}): Checkpoint {
  if (!fs.existsSync(file)) throw new CheckpointError(file, "no such file");
  return decodeCheckpoint(fs.readFileSync(file), file, options);
}

/** Disposes the tensors of a loaded checkpoint. */
export function disposeCheckpoint(ckpt: Checkpoint): void {
  tf.dispose(Object.values(ckpt.weights));
}
