/**
 * matMul and the fused dense layer (_FusedMatMul) on the native SGEMM, with broadcast batches and bias /
 * activation epilogues; without the addon, matMul with transpose flags repaired by transposing first.
 * Part of the fast CPU route (runtime/fast.ts); taught in notebooks/00-tour.ipynb (backends).
 */
import * as tf from "@tensorflow/tfjs";
import { NativeKernels } from "./native";
import { KernelArgs, WasmBackend, callOriginal, floatOffset, size } from "./wasm-heap";

/** tfjs's _FusedMatMul activation names, numbered as fast.cc's `Activation`. */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, prelu: 3, elu: 4, leakyrelu: 5, sigmoid: 6 };

/**
 * Strides (in elements) of `shape`, aligned to the right of `outShape`, with 0 on broadcast axes:
 * the element of a broadcast operand at out index (i_0..i_n) is at sum(i_d * stride_d).
 */
function broadcastStrides(shape: number[], outShape: number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let stride = 1;
  for (let d = shape.length - 1, o = outShape.length - 1; d >= 0; d--, o--) {
    strides[o] = shape[d] === 1 && outShape[o] !== 1 ? 0 : stride;
    stride *= shape[d]!;
  }
  return strides;
}

/** Per-batch float offsets of an operand: base + sum over batch axes of index * stride. */
function batchOffsets(base: number, batchStrides: number[], outBatch: number[]): Uint32Array {
  const total = size(outBatch);
  const offs = new Uint32Array(total);
  const idx = new Array<number>(outBatch.length).fill(0);
  for (let b = 0; b < total; b++) {
    let off = base;
    for (let d = 0; d < idx.length; d++) off += idx[d]! * batchStrides[d]!;
    offs[b] = off;
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d]! < outBatch[d]!) break;
      idx[d] = 0;
    }
  }
  return offs;
}

/** A [.., M, N]-broadcast operand (bias, prelu weights) as per-batch offsets and row/column strides. */
function epilogueOperand(backend: WasmBackend, t: tf.TensorInfo | undefined, outShape: number[]) {
  if (!t) return { offs: null, rs: 0, cs: 0 };
  if (t.shape.length > outShape.length) throw new Error(`_FusedMatMul: operand [${t.shape}] has more axes than the output [${outShape}]`);
  const strides = broadcastStrides(t.shape, outShape);
  const r = outShape.length;
  return {
    offs: batchOffsets(floatOffset(backend, t), strides.slice(0, r - 2), outShape.slice(0, r - 2)),
    rs: strides[r - 2]!,
    cs: strides[r - 1]!,
  };
}

/**
 * C = act(op(A) op(B) + bias) on the native SGEMM, for any transpose flags and broadcast batch axes.
 * Falls back to the original wasm kernel for non-float32 inputs (which it rejects with its own error).
 */
export function nativeMatMul(native: NativeKernels, name: string, args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { a, b, bias, preluActivationWeights } = args.inputs;
  const attrs = args.attrs ?? {};
  if (!a || !b || a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2) {
    return callOriginal(name, args);
  }
  const transposeA = !!attrs.transposeA;
  const transposeB = !!attrs.transposeB;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const ka = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (ka !== kb) {
    throw new Error(`Error in matMul: inner shapes (${ka}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  }
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const outShape = [...outBatch, m, n];
  const activation = String(attrs.activation ?? "linear");
  const act = ACTIVATIONS[activation];
  if (act === undefined) throw new Error(`_FusedMatMul: unknown activation ${activation}`);
  // 1) Allocate first: malloc may grow the wasm memory, and every offset and view is taken after.
  const out = backend.makeOutput(outShape, "float32");
  if (size(outShape) === 0) return out;
  const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
  // 2) Row/column strides of the stored matrices: a transpose is only a change of strides.
  const aOffs = batchOffsets(floatOffset(backend, a), broadcastStrides(a.shape.slice(0, -2), outBatch).map((s) => s * m * ka), outBatch);
  const bOffs = batchOffsets(floatOffset(backend, b), broadcastStrides(b.shape.slice(0, -2), outBatch).map((s) => s * ka * n), outBatch);
  const biasOp = epilogueOperand(backend, bias, outShape);
  const preluOp = epilogueOperand(backend, preluActivationWeights, outShape);
  // 3) One native call for all batches (it splits them over its threads).
  native.gemm(
    heap,
    aOffs.length,
    m,
    n,
    ka,
    aOffs,
    transposeA ? 1 : ka,
    transposeA ? m : 1,
    bOffs,
    transposeB ? 1 : n,
    transposeB ? ka : 1,
    floatOffset(backend, out),
    biasOp.offs,
    biasOp.rs,
    biasOp.cs,
    act,
    Number(attrs.leakyreluAlpha ?? 0.2),
    preluOp.offs,
    preluOp.rs,
    preluOp.cs,
  );
  return out;
}

/** Swaps the last two axes with the original wasm Transpose kernel (fast, unlike transposed matMul). */
function swapLastAxes(t: tf.TensorInfo, backend: unknown): tf.TensorInfo {
  const perm = t.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return callOriginal("Transpose", { inputs: { x: t }, backend, attrs: { perm } });
}

/** Without the addon: transpose explicitly, then the plain (fast) wasm matMul. */
export function repairedMatMul(name: string, args: KernelArgs): tf.TensorInfo {
  const attrs = args.attrs ?? {};
  const { a, b } = args.inputs;
  if (!a || !b || (!attrs.transposeA && !attrs.transposeB) || a.dtype !== "float32" || b.dtype !== "float32") {
    return callOriginal(name, args);
  }
  const backend = args.backend as WasmBackend;
  const temps: tf.TensorInfo[] = [];
  const at = attrs.transposeA ? swapLastAxes(a, backend) : a;
  const bt = attrs.transposeB ? swapLastAxes(b, backend) : b;
  if (at !== a) temps.push(at);
  if (bt !== b) temps.push(bt);
  try {
    return callOriginal(name, { ...args, inputs: { ...args.inputs, a: at, b: bt }, attrs: { ...attrs, transposeA: false, transposeB: false } });
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}
