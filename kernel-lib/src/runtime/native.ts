/**
 * Loading the native addon (kernel-lib/native, C++ built by `npm install`) and the list of its functions.
 * Taught in notebooks/00-tour.ipynb (backends).
 */
import * as path from "node:path";

/** The addon's functions (kernel-lib/native/src/fast.cc documents the arguments). */
export interface NativeKernels {
  gemm(
    heap: ArrayBuffer,
    batch: number,
    m: number,
    n: number,
    k: number,
    aOffs: Uint32Array,
    rsA: number,
    csA: number,
    bOffs: Uint32Array,
    rsB: number,
    csB: number,
    cOff: number,
    biasOffs: Uint32Array | null,
    rsBias: number,
    csBias: number,
    activation: number,
    alpha: number,
    preluOffs: Uint32Array | null,
    rsPrelu: number,
    csPrelu: number,
  ): void;
  sum(heap: ArrayBuffer, xOff: number, yOff: number, outer: number, reduce: number, inner: number): void;
  tanh(heap: ArrayBuffer, xOff: number, yOff: number, n: number): void;
  binary(heap: ArrayBuffer, op: number, n: number, aOff: number, aSize: number, aInner: number, bOff: number, bSize: number, bInner: number, outOff: number): void;
  powScalar(heap: ArrayBuffer, xOff: number, outOff: number, n: number, exponent: number): void;
  compare(heap: ArrayBuffer, op: number, n: number, aOff: number, aSize: number, aInner: number, bOff: number, bSize: number, bInner: number, outByteOff: number): void;
  select(heap: ArrayBuffer, condByteOff: number, tOff: number, eOff: number, outOff: number, n: number): void;
  leakyRelu(heap: ArrayBuffer, xOff: number, outOff: number, n: number, alpha: number): void;
  info(): { simd: "avx2" | "portable"; threads: number };
}

/** Where `npm install` puts the addon, relative to kernel-lib/dist (or kernel-lib/src under ts-node). */
const ADDON_PATH = path.join(__dirname, "..", "..", "native", "build", "Release", "aigc_fast.node");

/** The addon, or why it is not there. `AIGC_NATIVE=0` turns it off (to compare, or to debug). */
export function loadNative(): { ok: true; native: NativeKernels } | { ok: false; reason: string } {
  if (process.env.AIGC_NATIVE === "0") return { ok: false, reason: "AIGC_NATIVE=0" };
  try {
    return { ok: true, native: require(ADDON_PATH) as NativeKernels };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      ok: false,
      reason: code === "MODULE_NOT_FOUND" ? "native addon not built (npm install needs a C++ compiler)" : `native addon failed to load: ${String(e).slice(0, 120)}`,
    };
  }
}
