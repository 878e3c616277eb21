/**
 * Native sums, unary functions (Tanh, LeakyRelu, Pow), broadcast arithmetic, comparisons and Select for the
 * wasm backend; each falls back to the package's own kernel where its case is not covered.
 * Part of the fast CPU route (runtime/fast.ts); taught in notebooks/00-tour.ipynb (backends).
 */
import * as tf from "@tensorflow/tfjs";
import { NativeKernels } from "./native";
import { KernelArgs, WasmBackend, callOriginal, floatOffset, size } from "./wasm-heap";

/** Sum over one contiguous run of axes ([outer, reduce, inner] view) natively; else the original. */
export function nativeSum(native: NativeKernels, args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const x = args.inputs.x!;
  const attrs = args.attrs ?? {};
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape).sort((p, q) => p - q);
  const contiguous = axes.every((ax, i) => i === 0 || ax === axes[i - 1]! + 1);
  if (x.dtype !== "float32" || axes.length === 0 || !contiguous) return callOriginal("Sum", args);
  const first = axes[0]!;
  const last = axes[axes.length - 1]!;
  const outer = size(x.shape.slice(0, first));
  const reduce = size(x.shape.slice(first, last + 1));
  const inner = size(x.shape.slice(last + 1));
  const outShape = attrs.keepDims ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d)) : x.shape.filter((_, i) => i < first || i > last);
  const out = backend.makeOutput(outShape, "float32");
  if (outer * inner === 0) return out;
  native.sum(backend.wasm.HEAPU8.buffer as ArrayBuffer, floatOffset(backend, x), floatOffset(backend, out), outer, reduce, inner);
  return out;
}

/** Where the input x is float32: an output of its shape filled by `fill` (offsets in floats); else the original kernel's. */
function nativeUnary(name: string, args: KernelArgs, fill: (heap: ArrayBuffer, x: number, out: number, n: number) => void): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const x = args.inputs.x!;
  if (x.dtype !== "float32") return callOriginal(name, args);
  const out = backend.makeOutput(x.shape, "float32");
  const n = size(x.shape);
  if (n > 0) fill(backend.wasm.HEAPU8.buffer as ArrayBuffer, floatOffset(backend, x), floatOffset(backend, out), n);
  return out;
}

export function nativeTanh(native: NativeKernels, args: KernelArgs): tf.TensorInfo {
  return nativeUnary("Tanh", args, (heap, x, out, n) => native.tanh(heap, x, out, n));
}

/** fast.cc's BinaryOp numbers. */
export const BINARY_OPS: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3 };

/** How an operand repeats within a broadcast output: element i of the output reads operand element (i / inner) % size. */
export interface RepeatPattern {
  size: number;
  inner: number;
}

/**
 * How an operand broadcast to `outShape` repeats, as fast.cc's `Repeat`. Possible when the operand's
 * non-1 axes are one run of the output's axes (same shape, scalar, a bias [N], a mean [B, T, 1], a mask
 * [T, T] under [B, h, T, T]); null otherwise (the original kernel then handles it).
 */
export function repeatPattern(shape: number[], outShape: number[]): RepeatPattern | null {
  const padded = [...new Array<number>(outShape.length - shape.length).fill(1), ...shape];
  let size = 1;
  let inner = 1;
  let state: "before" | "in" | "after" = "before";
  for (let d = 0; d < outShape.length; d++) {
    const o = outShape[d]!;
    if (o === 1) continue;
    const matches = padded[d] === o;
    if (!matches && padded[d] !== 1) return null;
    if (matches) {
      if (state === "after") return null;
      state = "in";
      size *= o;
    } else if (state === "in") {
      state = "after";
    }
    if (state === "after") inner *= o;
  }
  return { size, inner };
}

/**
 * Where both inputs are float32 and broadcast repeat-style: the output, made and filled by `fill` (input
 * offsets in floats, the output's in bytes, as its dtype may be bool); else the original kernel's.
 */
function nativeBroadcast(
  name: string,
  args: KernelArgs,
  outDtype: "float32" | "bool",
  fill: (heap: ArrayBuffer, n: number, a: number, pa: RepeatPattern, b: number, pb: RepeatPattern, out: number) => void,
): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { a, b } = args.inputs;
  if (!a || !b || a.dtype !== "float32" || b.dtype !== "float32") return callOriginal(name, args);
  const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const pa = repeatPattern(a.shape, outShape);
  const pb = repeatPattern(b.shape, outShape);
  if (!pa || !pb) return callOriginal(name, args);
  const out = backend.makeOutput(outShape, outDtype);
  const n = size(outShape);
  if (n === 0) return out;
  fill(backend.wasm.HEAPU8.buffer as ArrayBuffer, n, floatOffset(backend, a), pa, floatOffset(backend, b), pb, backend.dataIdMap.get(out.dataId).memoryOffset);
  return out;
}

/** Add, Sub, Multiply, RealDiv on float32 with repeat-style broadcasting, natively; else the original. */
export function nativeBinary(native: NativeKernels, name: string, args: KernelArgs): tf.TensorInfo {
  return nativeBroadcast(name, args, "float32", (heap, n, a, pa, b, pb, out) =>
    native.binary(heap, BINARY_OPS[name]!, n, a, pa.size, pa.inner, b, pb.size, pb.inner, out / 4),
  );
}

/** fast.cc's comparison numbers. */
export const COMPARE_OPS: Record<string, number> = { Greater: 0, GreaterEqual: 1, Less: 2, LessEqual: 3, Equal: 4, NotEqual: 5 };

/** Comparisons of float32 tensors (LeakyRelu's and Relu's gradients use Greater) natively; else the original. */
export function nativeCompare(native: NativeKernels, name: string, args: KernelArgs): tf.TensorInfo {
  return nativeBroadcast(name, args, "bool", (heap, n, a, pa, b, pb, out) =>
    native.compare(heap, COMPARE_OPS[name]!, n, a, pa.size, pa.inner, b, pb.size, pb.inner, out),
  );
}

/** Select (tf.where) with condition, t and e of one shape, float32 values, natively; else the original. */
export function nativeSelect(native: NativeKernels, args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { condition, t, e } = args.inputs;
  const n = t ? size(t.shape) : 0;
  if (!condition || !t || !e || t.dtype !== "float32" || e.dtype !== "float32" || condition.dtype !== "bool" || size(condition.shape) !== n || size(e.shape) !== n) {
    return callOriginal("Select", args);
  }
  const out = backend.makeOutput(t.shape, "float32");
  if (n === 0) return out;
  const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
  native.select(heap, backend.dataIdMap.get(condition.dataId).memoryOffset, floatOffset(backend, t), floatOffset(backend, e), floatOffset(backend, out), n);
  return out;
}

/** LeakyRelu on float32 natively (the package's kernel ran 9x slower than its Relu); else the original. */
export function nativeLeakyRelu(native: NativeKernels, args: KernelArgs): tf.TensorInfo {
  const alpha = Number(args.attrs?.alpha ?? 0.2);
  return nativeUnary("LeakyRelu", args, (heap, x, out, n) => native.leakyRelu(heap, x, out, n, alpha));
}

/** Pow with a scalar exponent (GELU's x^3 and its gradient's x^2) natively; else the original. */
export function nativePow(native: NativeKernels, args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { a, b } = args.inputs;
  if (!a || !b || a.dtype !== "float32" || b.dtype !== "float32" || size(b.shape) !== 1) return callOriginal("Pow", args);
  const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const out = backend.makeOutput(outShape, "float32");
  const n = size(outShape);
  if (n === 0) return out;
  const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
  const exponent = new Float32Array(heap, backend.dataIdMap.get(b.dataId).memoryOffset, 1)[0]!;
  native.powScalar(heap, floatOffset(backend, a), floatOffset(backend, out), n, exponent);
  return out;
}
