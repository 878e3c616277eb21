/**
 * The checkpoint file format: encoding, and decoding that authenticates and validates every byte before it
 * makes a tensor. Saving and loading files (atomic writes, stale temporary files) is in checkpoint.ts.
 * Every lesson with a trained model loads one; first in notebooks/02-transformer.ipynb.
 *
 * Format 2: the 8 bytes "AIGCCKP2", a uint32 (little-endian) header length, the JSON header, the raw
 * float32/int32 weights back to back, then the 32-byte SHA-256 of everything before it (magic, length,
 * header and weights). The header lists each tensor's name, dtype, shape, byte offset and byte length, in
 * offset order, tiling the weights exactly. Format 1 ("AIGCCKPT", no trailer, a SHA-256 of the weights
 * only inside the header) is read only when asked for (`format1: true`, for scripts/upgrade-checkpoints.ts).
 */
import * as crypto from "node:crypto";
import * as tf from "@tensorflow/tfjs";

const MAGIC_V1 = Buffer.from("AIGCCKPT");
const MAGIC = Buffer.from("AIGCCKP2");
const SHA_BYTES = 32;
const DTYPES = ["float32", "int32"] as const;
type StoredDtype = (typeof DTYPES)[number];

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
  dtype: StoredDtype;
  shape: number[];
  offset: number;
  bytes: number;
}

/** Raised for a checkpoint that cannot be used: corrupt, truncated, malformed, another kind, another config. */
export class CheckpointError extends Error {
  constructor(file: string, problem: string) {
    super(`checkpoint ${file}: ${problem}`);
    this.name = "CheckpointError";
  }
}

export interface LoadOptions {
  /** Required kind; a mismatch throws. */
  kind?: string;
  /** Required config (compared as stable JSON); a mismatch throws naming the differing keys. */
  config?: unknown;
  /** Also read format 1, whose header is not authenticated (only to upgrade old files). Default false. */
  format1?: boolean;
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

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = crypto.createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};

/** Encodes a checkpoint into format-2 bytes (reads the tensors; does not dispose them). */
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
  const header = { format: 2, kind: ckpt.kind, config: ckpt.config, step: ckpt.step, extra: ckpt.extra ?? {}, tensors: entries };
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length, 0);
  const unsigned = Buffer.concat([MAGIC, len, json, ...chunks]);
  return Buffer.concat([unsigned, sha256(unsigned)]);
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const describe = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "string" ? JSON.stringify(v).slice(0, 40) : typeof v === "object" ? "an object" : String(v));

interface ValidHeader {
  kind: string;
  config: unknown;
  step: number;
  extra: Record<string, unknown>;
  tensors: TensorEntry[];
  sha256?: string;
}

/** Checks every field of a parsed header against a weights section of `bodyBytes` bytes; `bad(field, problem)` throws. */
function validateHeader(h: unknown, format: 1 | 2, bodyBytes: number, bad: (field: string, problem: string) => never): ValidHeader {
  if (!isObject(h)) bad("header", `must be a JSON object, got ${describe(h)}`);
  const allowed = ["format", "kind", "config", "step", "extra", "tensors", ...(format === 1 ? ["sha256"] : [])];
  for (const key of Object.keys(h)) if (!allowed.includes(key)) bad(`header.${key}`, "is not a field of the format");
  if (h["format"] !== format) bad("header.format", `must be ${format}, got ${describe(h["format"])}`);
  if (typeof h["kind"] !== "string" || h["kind"] === "") bad("header.kind", `must be a non-empty string, got ${describe(h["kind"])}`);
  if (!("config" in h)) bad("header.config", "is missing");
  if (!isCount(h["step"])) bad("header.step", `must be a non-negative integer, got ${describe(h["step"])}`);
  if (!isObject(h["extra"])) bad("header.extra", `must be a JSON object, got ${describe(h["extra"])}`);
  if (format === 1 && (typeof h["sha256"] !== "string" || !/^[0-9a-f]{64}$/.test(h["sha256"]))) bad("header.sha256", `must be 64 hex digits, got ${describe(h["sha256"])}`);
  const list = h["tensors"];
  if (!Array.isArray(list)) bad("header.tensors", `must be an array, got ${describe(list)}`);
  const names = new Set<string>();
  let end = 0;
  const tensors = list.map((t: unknown, i: number): TensorEntry => {
    const at = `header.tensors[${i}]`;
    if (!isObject(t)) bad(at, `must be an object, got ${describe(t)}`);
    for (const key of Object.keys(t)) if (!["name", "dtype", "shape", "offset", "bytes"].includes(key)) bad(`${at}.${key}`, "is not a field of a tensor entry");
    const { name, dtype, shape, offset, bytes } = t;
    if (typeof name !== "string" || name === "" || name === "__proto__") bad(`${at}.name`, `must be a non-empty string, got ${describe(name)}`);
    if (names.has(name)) bad(`${at}.name`, `"${name}" appears twice`);
    names.add(name);
    if (!DTYPES.includes(dtype as StoredDtype)) bad(`${at}.dtype`, `must be "float32" or "int32", got ${describe(dtype)}`);
    if (!Array.isArray(shape) || shape.length > 8) bad(`${at}.shape`, `must be an array of at most 8 sizes, got ${describe(shape)}`);
    let count = 1;
    shape.forEach((s: unknown, j: number) => {
      if (!isCount(s)) bad(`${at}.shape[${j}]`, `must be a non-negative integer, got ${describe(s)}`);
      count *= s;
      if (!Number.isSafeInteger(count * 4)) bad(`${at}.shape`, "is too large");
    });
    if (!isCount(offset)) bad(`${at}.offset`, `must be a non-negative integer, got ${describe(offset)}`);
    if (offset !== end) bad(`${at}.offset`, `is ${offset}, but the tensors must tile the weights in order and the previous one ends at byte ${end}`);
    if (!isCount(bytes)) bad(`${at}.bytes`, `must be a non-negative integer, got ${describe(bytes)}`);
    if (bytes !== count * 4) bad(`${at}.bytes`, `is ${bytes}, but shape [${shape.join(", ")}] of ${dtype} takes ${count * 4}`);
    if (offset + bytes > bodyBytes) bad(`${at}.offset`, `${offset} + ${bytes} bytes runs past the ${bodyBytes} bytes of weights`);
    end = offset + bytes;
    return { name, dtype: dtype as StoredDtype, shape: shape as number[], offset, bytes };
  });
  if (end !== bodyBytes) bad("header.tensors", `list ${end} bytes of weights, the file holds ${bodyBytes}`);
  const out: ValidHeader = { kind: h["kind"], config: h["config"], step: h["step"], extra: h["extra"], tensors };
  if (format === 1) out.sha256 = h["sha256"] as string;
  return out;
}

/** Decodes and verifies checkpoint bytes; `file` names the source in errors. Every failure is a {@link CheckpointError}. */
export function decodeCheckpoint(bytes: Buffer, file: string, options: LoadOptions = {}): Checkpoint {
  function fail(problem: string): never {
    throw new CheckpointError(file, problem);
  }
  function bad(field: string, problem: string): never {
    fail(`${field} ${problem}`);
  }
  const magic = bytes.subarray(0, 8);
  const format = magic.equals(MAGIC) ? 2 : magic.equals(MAGIC_V1) ? 1 : fail("not an aigc-lab checkpoint (bad magic bytes)");
  if (format === 1 && !options.format1) {
    fail("is format 1, whose SHA-256 does not cover its header; re-save it with node build/scripts/upgrade-checkpoints.js FILE");
  }
  const trailer = format === 2 ? SHA_BYTES : 0;
  if (bytes.length < 12 + trailer) fail(`truncated: ${bytes.length} bytes`);
  const end = bytes.length - trailer;
  if (format === 2 && !sha256(bytes.subarray(0, end)).equals(bytes.subarray(end))) fail("corrupt or truncated: the file's SHA-256 does not match its last 32 bytes");
  const len = bytes.readUInt32LE(8);
  if (12 + len > end) fail(`truncated: header length ${len} runs past the end of the file`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(12, 12 + len)));
  } catch (e) {
    fail(`corrupt header (${(e as Error).message})`);
  }
  const body = bytes.subarray(12 + len, end);
  const header = validateHeader(parsed, format, body.length, bad);
  if (format === 1 && crypto.createHash("sha256").update(body).digest("hex") !== header.sha256) fail("corrupt: the weights' SHA-256 does not match the header");
  if (options.kind !== undefined && header.kind !== options.kind) fail(`holds a "${header.kind}" model, expected "${options.kind}"`);
  if (options.config !== undefined && stableJson(header.config) !== stableJson(options.config)) {
    fail(`config does not match (${configDiff(header.config, options.config)})`);
  }
  const weights: Record<string, tf.Tensor> = {};
  try {
    for (const t of header.tensors) {
      const copy = new Uint8Array(body.subarray(t.offset, t.offset + t.bytes)).buffer;
      weights[t.name] = t.dtype === "float32" ? tf.tensor(new Float32Array(copy), t.shape, "float32") : tf.tensor(new Int32Array(copy), t.shape, "int32");
    }
  } catch (e) {
    tf.dispose(Object.values(weights));
    fail(`cannot make its tensors (${(e as Error).message})`);
  }
  return { kind: header.kind, config: header.config, step: header.step, weights, extra: header.extra };
}
