/**
 * The display bundle of a cell's last value. The "value -> bundle" rules live in kernel-lib
 * (kernel-lib/src/notebook/rich.ts: charts, tensors, images); the kernel only finds kernel-lib. It uses the copy
 * the notebook itself loaded (resolved from the kernel's working directory like the notebook's imports,
 * else from this checkout's node_modules) and only once the notebook has loaded it: a value kernel-lib
 * knows can only come from a notebook that imported it, and loading TensorFlow.js on the side of a
 * notebook that does not use it would cost a second and change its state. Otherwise, and whenever
 * kernel-lib fails, the value is shown as Node's `util.inspect` text.
 */
import { createRequire } from "node:module";
import * as path from "node:path";
import { inspect } from "node:util";

/** The data and metadata of an execute_result. */
export interface Bundle {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

interface RichModule {
  resultBundle(value: unknown): Promise<Bundle | null>;
}

/** kernel-lib's module when it is loaded in this process and has `resultBundle`; else null. */
export function loadedKernelLib(rootDir: string): RichModule | null {
  const requires = [createRequire(path.join(rootDir, "__aigc_lab_kernel__.js")), require];
  for (const req of requires) {
    let resolved: string;
    try {
      resolved = req.resolve("kernel-lib");
    } catch {
      continue;
    }
    const mod = require.cache[resolved];
    const exports = mod?.loaded ? (mod.exports as Partial<RichModule>) : undefined;
    if (exports && typeof exports.resultBundle === "function") return exports as RichModule;
  }
  return null;
}

/** Node's REPL-like text for any value. */
export function plainText(value: unknown): Bundle {
  return { data: { "text/plain": inspect(value, { depth: 4, maxArrayLength: 50, breakLength: 100 }) }, metadata: {} };
}

/**
 * The bundle for a cell's last value (never called for `undefined`, which gives no result). A failure
 * inside kernel-lib falls back to plain text and is reported through `onError`.
 */
export async function resultBundle(value: unknown, rootDir: string, onError: (e: unknown) => void): Promise<Bundle> {
  if ((typeof value === "object" && value !== null) || typeof value === "function") {
    const lib = loadedKernelLib(rootDir);
    if (lib) {
      try {
        const bundle = await lib.resultBundle(value);
        if (bundle) return bundle;
      } catch (e) {
        onError(e);
      }
    }
  }
  return plainText(value);
}
