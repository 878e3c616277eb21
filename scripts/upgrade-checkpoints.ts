/**
 * Re-writes format-1 checkpoints (SHA-256 of the weights only) in format 2 (SHA-256 of the whole file),
 * losslessly, and proves it: the new file's weight bytes are bit-identical to the old file's, its kind,
 * config, step and extra (training command, metrics, tokenizer) are the same JSON, and it loads back to
 * tensors with the same bits. Files already in format 2 are left alone.
 *
 *   npx tsc -b && node build/scripts/upgrade-checkpoints.js            # every notebooks/checkpoints/*.ckpt
 *   node build/scripts/upgrade-checkpoints.js path/to/old.ckpt ...
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Checkpoint, decodeCheckpoint, disposeCheckpoint, encodeCheckpoint, saveCheckpoint, tf } from "kernel-lib";

const hex = (b: Uint8Array): string => crypto.createHash("sha256").update(b).digest("hex");

/** The header JSON and the weight bytes of a file (format 1: no trailer; format 2: a 32-byte trailer). */
function sections(bytes: Buffer): { header: Record<string, unknown>; body: Buffer } {
  const len = bytes.readUInt32LE(8);
  const trailer = bytes.subarray(0, 8).toString("latin1") === "AIGCCKP2" ? 32 : 0;
  return { header: JSON.parse(bytes.subarray(12, 12 + len).toString("utf8")), body: bytes.subarray(12 + len, bytes.length - trailer) };
}

const metadata = (h: Record<string, unknown>): string => JSON.stringify([h["kind"], h["config"], h["step"], h["extra"]]);

function tensorBytes(ckpt: Checkpoint): Map<string, Buffer> {
  return new Map(Object.entries(ckpt.weights).map(([name, t]) => {
    const d = t.dataSync();
    return [name, Buffer.from(d.buffer, d.byteOffset, d.byteLength)];
  }));
}

async function upgrade(file: string): Promise<void> {
  const oldBytes = fs.readFileSync(file);
  if (oldBytes.subarray(0, 8).toString("latin1") === "AIGCCKP2") {
    disposeCheckpoint(decodeCheckpoint(oldBytes, file)); // verifies it
    console.log(`${file}: already format 2, verified, left alone`);
    return;
  }
  const old = decodeCheckpoint(oldBytes, file, { format1: true }); // verifies the weights' SHA-256 and every header field
  try {
    const newBytes = await encodeCheckpoint(old);
    const before = sections(oldBytes);
    const after = sections(newBytes);
    if (!after.body.equals(before.body)) throw new Error(`${file}: the weight bytes differ after re-encoding`);
    if (metadata(after.header) !== metadata(before.header)) throw new Error(`${file}: kind, config, step or extra differ after re-encoding`);
    const reloaded = decodeCheckpoint(newBytes, file);
    try {
      const a = tensorBytes(old);
      const b = tensorBytes(reloaded);
      if (a.size !== b.size || [...a].some(([name, bytes]) => !b.get(name)?.equals(bytes))) throw new Error(`${file}: a reloaded tensor differs`);
    } finally {
      disposeCheckpoint(reloaded);
    }
    await saveCheckpoint(file, old);
    if (!fs.readFileSync(file).equals(newBytes)) throw new Error(`${file}: the written file differs from the verified bytes`);
    console.log(`${file}: format 1 -> 2; ${Object.keys(old.weights).length} tensors, ${before.body.length} weight bytes bit-identical (SHA-256 ${hex(before.body).slice(0, 16)}... before and after); kind, config, step and extra unchanged; ${oldBytes.length} -> ${newBytes.length} bytes`);
  } finally {
    disposeCheckpoint(old);
  }
}

export const USAGE = `usage: node build/scripts/upgrade-checkpoints.js [FILE.ckpt ...]

Re-writes format-1 checkpoints in format 2 (SHA-256 of the whole file), losslessly, and proves it (same weight
bits, same kind, config, step and extra). Files already in format 2 are left alone. Without files: every
notebooks/checkpoints/*.ckpt.

  --help, -h   print this and exit`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const option = args.find((a) => a.startsWith("-"));
  if (option) {
    process.stderr.write(`upgrade-checkpoints: unknown option ${option}; options: --help\n\n${USAGE}\n`);
    process.exit(1);
  }
  await tf.setBackend("cpu"); // plain typed arrays: the bytes go in and out untouched
  const dir = path.resolve(__dirname, "..", "..", "notebooks", "checkpoints");
  const files = args.length > 0 ? args : fs.readdirSync(dir).filter((f) => f.endsWith(".ckpt")).sort().map((f) => path.join(dir, f));
  for (const file of files) await upgrade(file);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
