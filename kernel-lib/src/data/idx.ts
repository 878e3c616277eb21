/**
 * Reading gzipped IDX files (the MNIST family's format) with every problem named: DatasetError.
 * Used by the Fashion-MNIST loader (notebooks/04-vae.ipynb on).
 */
import * as fs from "node:fs";
import * as zlib from "node:zlib";

/** What went wrong with a data file. */
export type DatasetProblem = "missing" | "truncated" | "corrupt" | "bad-magic" | "bad-shape" | "bad-label" | "checksum" | "mismatch";

/** Raised for a data file that cannot be used; `problem` says why, `file` which file. */
export class DatasetError extends Error {
  readonly problem: DatasetProblem;
  readonly file: string;
  constructor(file: string, problem: DatasetProblem, detail: string) {
    super(`${file}: ${problem}: ${detail}`);
    this.name = "DatasetError";
    this.problem = problem;
    this.file = file;
  }
}

/** A parsed IDX file: its dimensions and its unsigned bytes (row-major). */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** IDX type code 0x08: unsigned bytes, the only type Fashion-MNIST uses. */
const IDX_UBYTE = 0x08;

/**
 * Parses the bytes of an (uncompressed) IDX file of unsigned bytes: magic `00 00 08 nd`, then `nd`
 * big-endian uint32 dimensions, then exactly prod(dims) bytes. `expectDims` (null = any size) pins the
 * rank and sizes. `file` names the source in errors.
 */
export function parseIdx(bytes: Uint8Array, file: string, expectDims?: (number | null)[]): IdxArray {
  if (bytes.length < 4) throw new DatasetError(file, "truncated", `${bytes.length} bytes, shorter than the 4-byte IDX magic number`);
  // 1) The magic number: two zero bytes, the type code, the number of dimensions.
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DatasetError(file, "bad-magic", `starts ${hex(bytes.subarray(0, 4))}, not an IDX file (expected 00 00 08 0n)`);
  }
  if (bytes[2] !== IDX_UBYTE) throw new DatasetError(file, "bad-magic", `IDX type code 0x${hex(bytes.subarray(2, 3))}, expected 0x08 (unsigned byte)`);
  const nd = bytes[3]!;
  if (expectDims && nd !== expectDims.length) throw new DatasetError(file, "bad-shape", `${nd} dimensions, expected ${expectDims.length}`);
  if (nd === 0) throw new DatasetError(file, "bad-shape", "0 dimensions");
  const headerBytes = 4 + 4 * nd;
  if (bytes.length < headerBytes) throw new DatasetError(file, "truncated", `${bytes.length} bytes, shorter than its ${headerBytes}-byte header`);
  // 2) The dimensions, big-endian uint32.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: nd }, (_, i) => view.getUint32(4 + 4 * i, false));
  if (expectDims) {
    expectDims.forEach((d, i) => {
      if (d !== null && dims[i] !== d) throw new DatasetError(file, "bad-shape", `dimensions [${dims.join(", ")}], expected [${expectDims.map((e) => e ?? "*").join(", ")}]`);
    });
  }
  // 3) The length: exactly the product of the dimensions, no more, no less.
  const expected = dims.reduce((a, b) => a * b, 1);
  const body = bytes.length - headerBytes;
  if (body < expected) throw new DatasetError(file, "truncated", `${body} data bytes, dimensions [${dims.join(", ")}] need ${expected}`);
  if (body > expected) throw new DatasetError(file, "corrupt", `${body - expected} bytes after the ${expected} its dimensions [${dims.join(", ")}] describe`);
  return { dims, data: bytes.subarray(headerBytes) };
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** Decompresses a gzip file, naming truncation and corruption as such. */
export function gunzipFile(file: string): Uint8Array {
  if (!fs.existsSync(file)) throw new DatasetError(file, "missing", "no such file");
  const raw = fs.readFileSync(file);
  if (raw.length < 2 || raw[0] !== 0x1f || raw[1] !== 0x8b) throw new DatasetError(file, "corrupt", "not a gzip file (bad gzip magic bytes)");
  try {
    return new Uint8Array(zlib.gunzipSync(raw));
  } catch (e) {
    const msg = (e as Error).message;
    // zlib says "unexpected end of file" when the stream stops early; anything else is damage.
    const problem: DatasetProblem = /unexpected end/i.test(msg) ? "truncated" : "corrupt";
    throw new DatasetError(file, problem, `gzip: ${msg}`);
  }
}
