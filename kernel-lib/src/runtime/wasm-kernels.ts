/**
 * Kernels the TensorFlow.js wasm backend lacks, written in TypeScript over the wasm heap.
 *
 * tfjs-backend-wasm 4.22 has no UnsortedSegmentSum, which is the gradient of `tf.gather`: without it
 * an embedding table cannot train on wasm. Its GatherV2 copies element by element (8.5 ms to gather 2,048 rows of
 * 128 floats, measured on the 2-core machine, 6-7% of a char-GPT training step), so a row-copying GatherV2
 * replaces it for batchDims 0. {@link registerWasmKernels} adds both; backend.ts calls it whenever it activates
 * the wasm backend. Taught in notebooks/00-tour.ipynb (backends).
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

/** The wasm backend's own GatherV2, kept for what the row copy does not handle (batchDims > 0). */
let wasmGather: tf.KernelFunc | null = null;

/**
 * GatherV2 with batchDims 0: `out[o, i..., r] = x[o, indices[i...], r]`, where o runs over the axes before `axis`
 * and r over those after it; each (o, index) pair is one contiguous block, copied with TypedArray.set. An index
 * outside [0, x.shape[axis]) is an error naming it, as on the cpu backend.
 */
function gatherV2(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const batchDims = Number(args.attrs?.["batchDims"] ?? 0);
  if (batchDims !== 0) return wasmGather!(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs.x!;
  const indices = args.inputs.indices!;
  const rank = x.shape.length;
  let axis = Number(args.attrs?.["axis"] ?? 0);
  if (axis < 0) axis += rank;
  if (!(axis >= 0 && axis < rank)) throw new Error(`GatherV2: axis ${args.attrs?.["axis"]} is out of range for x of rank ${rank}`);
  if (indices.dtype !== "int32") throw new Error(`GatherV2: indices must be int32, got ${indices.dtype}`);
  const size = x.shape[axis]!;
  const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], x.dtype);
  // Views only after makeOutput: its malloc can grow the wasm memory and detach older views.
  const o = backend.typedArrayFromHeap(out);
  const xs = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(indices);
  const n = ids.length;
  for (let k = 0; k < n; k++) {
    const id = ids[k]!;
    if (id < 0 || id >= size) throw new Error(`GatherV2: index ${id} (position ${k}) is not in [0, ${size - 1}]`);
  }
  for (let a = 0; a < outer; a++) {
    const src = a * size * inner;
    const dst = a * n * inner;
    for (let k = 0; k < n; k++) {
      const from = src + ids[k]! * inner;
      o.set(xs.subarray(from, from + inner), dst + k * inner);
    }
  }
  return out;
}

/**
 * Registers (or re-registers) one wasm kernel without tfjs's "already registered" warning. `setupFunc` runs when
 * the backend initialises (the one of a kernel being replaced, so that what it binds is still bound).
 */
function register(kernelName: string, kernelFunc: tf.KernelFunc, setupFunc?: tf.KernelSetupFunc): void {
  if (tf.getKernel(kernelName, "wasm")) tf.unregisterKernel(kernelName, "wasm");
  tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc, setupFunc });
}

/**
 * Adds the kernels tfjs-backend-wasm lacks (UnsortedSegmentSum, so `tf.gather` has a gradient) and the row-copy
 * GatherV2 (the wasm one stays for batchDims > 0).
 * Idempotent; backend.ts calls it when it activates wasm.
 */
export function registerWasmKernels(): void {
  register("UnsortedSegmentSum", unsortedSegmentSum as tf.KernelFunc);
  const current = tf.getKernel("GatherV2", "wasm");
  if (current && current.kernelFunc !== (gatherV2 as tf.KernelFunc)) {
    wasmGather = current.kernelFunc;
    // The wasm kernel binds its C function in its setupFunc: keep it, for the batchDims > 0 fallback.
    register("GatherV2", gatherV2 as tf.KernelFunc, current.setupFunc);
  }
}
