/**
 * Helpers of the checkpoint tests: split a checkpoint file (format 1 or 2) into its parts and rebuild it
 * with a changed header, either keeping the stored SHA-256 (what a corrupted or tampered file looks like)
 * or recomputing it (an authentic file whose header is malformed: what only validation can catch).
 */
import * as crypto from "node:crypto";

export interface Parts {
  format: 1 | 2;
  magic: Buffer;
  header: unknown;
  body: Buffer;
  trailer: Buffer;
}

export function parts(bytes: Buffer): Parts {
  const magic = Buffer.from(bytes.subarray(0, 8));
  const format = magic.toString("latin1") === "AIGCCKP2" ? 2 : 1;
  const len = bytes.readUInt32LE(8);
  const trailerBytes = format === 2 ? 32 : 0;
  return {
    format,
    magic,
    header: JSON.parse(bytes.subarray(12, 12 + len).toString("utf8")),
    body: Buffer.from(bytes.subarray(12 + len, bytes.length - trailerBytes)),
    trailer: Buffer.from(bytes.subarray(bytes.length - trailerBytes)),
  };
}

/** Reassembles a file from parts; `resign` recomputes format 2's whole-file SHA-256 (format 1 has none). */
export function assemble(p: Parts, headerJson: string, resign: boolean): Buffer {
  const json = Buffer.from(headerJson);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length, 0);
  const unsigned = Buffer.concat([p.magic, len, json, p.body]);
  if (p.format === 1) return unsigned;
  return Buffer.concat([unsigned, resign ? crypto.createHash("sha256").update(unsigned).digest() : p.trailer]);
}

/** The file with its header replaced by `mutate(header)` (a deep copy may be changed in place and returned). */
export function withHeader(bytes: Buffer, mutate: (h: any) => unknown, resign: boolean): Buffer {
  const p = parts(bytes);
  const copy = JSON.parse(JSON.stringify(p.header));
  const out = mutate(copy);
  return assemble(p, JSON.stringify(out === undefined ? copy : out), resign);
}

/** A format-1 file (SHA-256 of the weights only, in the header) with the same contents as `bytes`. */
export function asFormat1(bytes: Buffer): Buffer {
  const p = parts(bytes);
  const h = { ...(p.header as Record<string, unknown>), format: 1, sha256: crypto.createHash("sha256").update(p.body).digest("hex") };
  return assemble({ ...p, format: 1, magic: Buffer.from("AIGCCKPT") }, JSON.stringify(h), false);
}
