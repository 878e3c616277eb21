/**
 * Checkpoints: a model's weights, its config, the training step and any extra JSON (a tokenizer, say) in
 * ONE file, written atomically (temporary file, fsync, then rename) so a crash or an interrupt never leaves
 * a half-written checkpoint. The whole file (header and weights) carries a SHA-256 and every header field
 * is validated: a truncated, corrupt or malformed file, a wrong kind of model or a config that does not
 * match gives a CheckpointError naming what is wrong, never wrong weights (format: checkpoint-format.ts).
 * Temporary files left by a killed process are removed at the next save into the same folder.
 * Every lesson with a trained model loads one; first in notebooks/02-transformer.ipynb.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { Checkpoint, CheckpointError, decodeCheckpoint, encodeCheckpoint, LoadOptions } from "./checkpoint-format";

export { CheckpointError, decodeCheckpoint, encodeCheckpoint, stableJson } from "./checkpoint-format";
export type { Checkpoint, LoadOptions } from "./checkpoint-format";

/** The temporary files {@link saveCheckpoint} writes: `<file>.tmp-<pid>-<ms>`. */
const TEMP = /^.+\.tmp-(\d{1,10})-(\d{1,16})$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // ESRCH: no such process. EPERM (someone else's process) and anything else: assume alive.
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Removes the temporary files of checkpoint saves in `dir` whose process is dead (killed mid-save).
 * Those of this process and of live processes are kept. Returns the names removed.
 */
export function removeStaleTempFiles(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid < 1 || pid === process.pid || processAlive(pid)) continue;
    const full = path.join(dir, name);
    try {
      if (!fs.lstatSync(full).isFile()) continue;
      fs.rmSync(full);
      removed.push(name);
    } catch {
      // Gone already, or not ours to remove: leave it.
    }
  }
  return removed;
}

/**
 * Writes a checkpoint atomically: a temporary file in the same folder, fsync, then rename over `file`.
 * First removes stale temporary files of dead processes in that folder.
 */
export async function saveCheckpoint(file: string, ckpt: Checkpoint): Promise<void> {
  const bytes = await encodeCheckpoint(ckpt);
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  removeStaleTempFiles(dir);
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

/** Reads and verifies a checkpoint (see {@link decodeCheckpoint}). The caller owns the returned tensors. */
export function loadCheckpoint(file: string, options: LoadOptions = {}): Checkpoint {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(file, code === "ENOENT" ? "no such file" : `cannot be read (${(e as Error).message})`);
  }
  return decodeCheckpoint(bytes, file, options);
}

/** Disposes the tensors of a loaded checkpoint. */
export function disposeCheckpoint(ckpt: Checkpoint): void {
  tf.dispose(Object.values(ckpt.weights));
}
