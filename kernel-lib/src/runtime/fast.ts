/**
 * The fast CPU route: the wasm backend with its hot kernels replaced.
 *
 * With the native addon (kernel-lib/native, built by `npm install` through the root "prepare"
 * script), BatchMatMul, _FusedMatMul, Sum, Tanh, Pow, LeakyRelu, Select, the comparisons and the
 * elementwise Add/Sub/Multiply/RealDiv run as multithreaded native code that reads and writes tensors in place in the wasm heap,
 * Identity shares its input's buffer instead of copying it, and Slice copies runs inside the heap. Without it (no compiler, `AIGC_NATIVE=0`), matMul with
 * transpose flags is repaired by transposing explicitly first: wasm's transposed matMul is 12-25x
 * slower than the plain one, and every gradient uses it. backend.ts calls
 * {@link registerFastKernels} when it activates wasm. Taught in notebooks/00-tour.ipynb (backends).
 */
import * as tf from "@tensorflow/tfjs";
import { BINARY_OPS, COMPARE_OPS, nativeBinary, nativeCompare, nativeLeakyRelu, nativePow, nativeSelect, nativeSum, nativeTanh } from "./native-elementwise";
import { nativeMatMul, repairedMatMul } from "./native-matmul";
import { loadNative } from "./native";
import { registerConvKernels } from "./native-conv";
import { heapSlice, originals, override, sharedIdentity } from "./wasm-heap";

/** What {@link registerFastKernels} installed. */
export interface FastKernels {
  /** True when the native addon runs matMul and the other hot kernels. */
  native: boolean;
  /** Words for backend.ts's summary line, e.g. "native sgemm AVX2 2 threads". */
  detail: string;
}

/** Replaces the wasm backend's matMul (and, with the addon, the other hot) kernels. Idempotent. */
export function registerFastKernels(): FastKernels {
  // Transpose is only used, never replaced; record it so the repair can call it.
  const transpose = tf.getKernel("Transpose", "wasm");
  if (transpose && !originals.has("Transpose")) originals.set("Transpose", transpose);
  const loaded = loadNative();
  registerConvKernels(loaded.ok ? loaded.native : null);
  if (loaded.ok) {
    const native = loaded.native;
    override("BatchMatMul", (args) => nativeMatMul(native, "BatchMatMul", args));
    override("_FusedMatMul", (args) => nativeMatMul(native, "_FusedMatMul", args));
    override("Sum", (args) => nativeSum(native, args));
    override("Tanh", (args) => nativeTanh(native, args));
    for (const name of Object.keys(BINARY_OPS)) override(name, (args) => nativeBinary(native, name, args));
    override("Pow", (args) => nativePow(native, args));
    override("Identity", sharedIdentity);
    override("Slice", heapSlice);
    for (const name of Object.keys(COMPARE_OPS)) override(name, (args) => nativeCompare(native, name, args));
    override("Select", (args) => nativeSelect(native, args));
    override("LeakyRelu", (args) => nativeLeakyRelu(native, args));
    const info = native.info();
    return { native: true, detail: `native sgemm ${info.simd === "avx2" ? "AVX2" : "portable"} ${info.threads} thread${info.threads === 1 ? "" : "s"}` };
  }
  override("BatchMatMul", (args) => repairedMatMul("BatchMatMul", args));
  override("_FusedMatMul", (args) => repairedMatMul("_FusedMatMul", args));
  for (const name of ["Sum", "Tanh", "Pow", "Identity", "Slice", "Select", "LeakyRelu", ...Object.keys(BINARY_OPS), ...Object.keys(COMPARE_OPS)]) {
    // A previous call with the addon may have replaced these; put the package's own back.
    const orig = originals.get(name);
    if (orig) {
      tf.unregisterKernel(name, "wasm");
      tf.registerKernel(orig);
    }
  }
  return { native: false, detail: `${loaded.reason}; explicit-transpose matMul` };
}
