/**
 * Working on tensors in place in the wasm backend's heap: float offsets of tensors, replacing a wasm kernel
 * while keeping the original to fall back on, and the copy-free Identity and Slice kernels.
 * Part of the fast CPU route (runtime/fast.ts); taught in notebooks/00-tour.ipynb (backends).
 */
import * as tf from "@tensorflow/tfjs";

/** The parts of tfjs-backend-wasm's BackendWasm used here (its own types ship as ESM only). */
export interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object): boolean;
  incRef(dataId: object): void;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** The wasm package's own kernels, saved the first time so re-registering never wraps a wrapper. */
export const originals = new Map<string, tf.KernelConfig>();

function original(name: string): tf.KernelConfig {
  const k = originals.get(name);
  if (!k) throw new Error(`kernel-lib: no original wasm kernel ${name}`);
  return k;
}

export function callOriginal(name: string, args: KernelArgs): tf.TensorInfo {
  return original(name).kernelFunc(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

/** Replaces a wasm kernel, keeping the original's setupFunc (it runs when the backend starts). */
export function override(name: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo): void {
  const current = tf.getKernel(name, "wasm");
  if (!current) return;
  if (!originals.has(name)) originals.set(name, current);
  const orig = originals.get(name)!;
  tf.unregisterKernel(name, "wasm");
  const config: tf.KernelConfig = { kernelName: name, backendName: "wasm", kernelFunc: kernelFunc as tf.KernelFunc };
  if (orig.setupFunc) config.setupFunc = orig.setupFunc;
  if (orig.disposeFunc) config.disposeFunc = orig.disposeFunc;
  tf.registerKernel(config);
}

export const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** Float offset of a tensor in the wasm heap (malloc aligns to 8 bytes at least). */
export function floatOffset(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset / 4;
}

/**
 * Slice as copies of contiguous runs inside the wasm heap. The package's kernel first copies the
 * whole input out of the heap (readSync), which made slicing q, k, v out of a fused projection
 * cost more than the projection itself.
 */
export function heapSlice(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const x = args.inputs.x!;
  if (x.dtype === "string" || x.dtype === "complex64") return callOriginal("Slice", args);
  const attrs = args.attrs ?? {};
  const [begin, sizes] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, attrs.begin as number | number[], attrs.size as number | number[]);
  tf.slice_util.assertParamsValid(x as unknown as tf.Tensor, begin, sizes);
  const out = backend.makeOutput(sizes, x.dtype);
  const total = size(sizes);
  if (total === 0) return out;
  const bytes = x.dtype === "bool" ? 1 : 4;
  // 1) The run: the innermost axes the slice takes whole, plus the first axis it cuts.
  const rank = x.shape.length;
  let d = rank - 1;
  let run = 1;
  while (d > 0 && sizes[d] === x.shape[d]) run *= x.shape[d--]!;
  run *= sizes[d]!;
  const strides = tf.util.computeStrides(x.shape); // elements, for axes 0..rank-2
  const stride = (i: number) => (i === rank - 1 ? 1 : strides[i]!);
  // 2) Walk the outer axes (0..d-1) like an odometer, copying one run per position.
  const heap = backend.wasm.HEAPU8; // taken after makeOutput (which may grow the memory)
  const src0 = backend.dataIdMap.get(x.dataId).memoryOffset;
  let dst = backend.dataIdMap.get(out.dataId).memoryOffset;
  const idx = new Array<number>(d).fill(0);
  const runs = total / run;
  for (let r = 0; r < runs; r++) {
    let off = begin[d]! * stride(d);
    for (let i = 0; i < d; i++) off += (begin[i]! + idx[i]!) * stride(i);
    heap.copyWithin(dst, src0 + off * bytes, src0 + (off + run) * bytes);
    dst += run * bytes;
    for (let i = d - 1; i >= 0; i--) {
      if (++idx[i]! < sizes[i]!) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** Identity without a copy, as the cpu backend does it: tensors are immutable, so share the buffer. */
export function sharedIdentity(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x!;
  if (x.dtype === "string") return callOriginal("Identity", args);
  (args.backend as WasmBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
