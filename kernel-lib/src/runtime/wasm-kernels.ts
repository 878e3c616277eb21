/**
 * Kernels the TensorFlow.js wasm backend lacks, written in TypeScript over the wasm heap.
 *
 * tfjs-backend-wasm 4.22 has no UnsortedSegmentSum, which is the gradient of `tf.gather`: without it
 * an embedding table cannot train on wasm. {@link registerWasmKernels} adds it; backend.ts calls it
 * whenever it activates the wasm backend. Taught in notebooks/00-tour.ipynb (backends).
 */
import * as tf from "@tensorflow/tfjs";

/** The part of tfjs-backend-wasm's BackendWasm these kernels use (the package's own types are ESM). */
export interface WasmBackendLike {
  /** Allocates an output tensor on the wasm heap (may grow the memory, so take views afterwards). */
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  /** A typed-array view of a tensor's bytes in the wasm heap, valid until the memory grows. */
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * UnsortedSegmentSum: `out[s, ...] = sum of x[i, ...] over i with segmentIds[i] == s`, for segment ids
 * of any rank (they index x's leading axes). Ids outside [0, numSegments) are dropped, as on the cpu
 * backend and in TensorFlow.
 */
function unsortedSegmentSum(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs.x!;
  const segmentIds = args.inputs.segmentIds!;
  const numSegments = Number(args.attrs!.numSegments);
  if (x.dtype !== "float32" && x.dtype !== "int32") {
    throw new Error(`UnsortedSegmentSum on wasm supports float32 and int32, not ${x.dtype}`);
  }
  const idShape = segmentIds.shape;
  for (let i = 0; i < idShape.length; i++) {
    if (idShape[i] !== x.shape[i]) {
      throw new Error(`UnsortedSegmentSum: segmentIds shape [${idShape}] must prefix x shape [${x.shape}]`);
    }
  }
  const innerShape = x.shape.slice(idShape.length);
  const inner = innerShape.reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  // Views only after makeOutput: its malloc can grow the wasm memory and detach older views.
  const o = backend.typedArrayFromHeap(out);
  const xs = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  o.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i]!;
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) o[dst + j]! += xs[src + j]!;
  }
  return out;
}

/** Registers (or re-registers) one wasm kernel without tfjs's "already registered" warning. */
function register(kernelName: string, kernelFunc: tf.KernelFunc): void {
  if (tf.getKernel(kernelName, "wasm")) tf.unregisterKernel(kernelName, "wasm");
  tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc });
}

/**
 * Adds the kernels tfjs-backend-wasm lacks (UnsortedSegmentSum, so `tf.gather` has a gradient).
 * Idempotent; backend.ts calls it when it activates wasm.
 */
export function registerWasmKernels(): void {
  register("UnsortedSegmentSum", unsortedSegmentSum as tf.KernelFunc);
}
