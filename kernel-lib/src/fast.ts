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
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { registerConvKernels } from "./native-conv";

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
const ADDON_PATH = path.join(__dirname, "..", "native", "build", "Release", "aigc_fast.node");

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

/** The parts of tfjs-backend-wasm's BackendWasm used here (its own types ship as ESM only). */
interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object): boolean;
  incRef(dataId: object): void;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** tfjs's _FusedMatMul activation names, numbered as fast.cc's `Activation`. */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, prelu: 3, elu: 4, leakyrelu: 5, sigmoid: 6 };

/** The wasm package's own kernels, saved the first time so re-registering never wraps a wrapper. */
const originals = new Map<string, tf.KernelConfig>();

function original(name: string): tf.KernelConfig {
  const k = originals.get(name);
  if (!k) throw new Error(`kernel-lib: no original wasm kernel ${name}`);
  return k;
}

function callOriginal(name: string, args: KernelArgs): tf.TensorInfo {
  return original(name).kernelFunc(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

/** Replaces a wasm kernel, keeping the original's setupFunc (it runs when the backend starts). */
function override(name: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo): void {
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

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** Float offset of a tensor in the wasm heap (malloc aligns to 8 bytes at least). */
function floatOffset(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset / 4;
}

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
function nativeMatMul(native: NativeKernels, name: string, args: KernelArgs): tf.TensorInfo {
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

/** Sum over one contiguous run of axes ([outer, reduce, inner] view) natively; else the original. */
function nativeSum(native: NativeKernels, args: KernelArgs): tf.TensorInfo {
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

function nativeTanh(native: NativeKernels, args: KernelArgs): tf.TensorInfo {
  return nativeUnary("Tanh", args, (heap, x, out, n) => native.tanh(heap, x, out, n));
}

/** fast.cc's BinaryOp numbers. */
const BINARY_OPS: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3 };

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
function nativeBinary(native: NativeKernels, name: string, args: KernelArgs): tf.TensorInfo {
  return nativeBroadcast(name, args, "float32", (heap, n, a, pa, b, pb, out) =>
    native.binary(heap, BINARY_OPS[name]!, n, a, pa.size, pa.inner, b, pb.size, pb.inner, out / 4),
  );
}

/** fast.cc's comparison numbers. */
const COMPARE_OPS: Record<string, number> = { Greater: 0, GreaterEqual: 1, Less: 2, LessEqual: 3, Equal: 4, NotEqual: 5 };

/** Comparisons of float32 tensors (LeakyRelu's and Relu's gradients use Greater) natively; else the original. */
function nativeCompare(native: NativeKernels, name: string, args: KernelArgs): tf.TensorInfo {
  return nativeBroadcast(name, args, "bool", (heap, n, a, pa, b, pb, out) =>
    native.compare(heap, COMPARE_OPS[name]!, n, a, pa.size, pa.inner, b, pb.size, pb.inner, out),
  );
}

/** Select (tf.where) with condition, t and e of one shape, float32 values, natively; else the original. */
function nativeSelect(native: NativeKernels, args: KernelArgs): tf.TensorInfo {
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
function nativeLeakyRelu(native: NativeKernels, args: KernelArgs): tf.TensorInfo {
  const alpha = Number(args.attrs?.alpha ?? 0.2);
  return nativeUnary("LeakyRelu", args, (heap, x, out, n) => native.leakyRelu(heap, x, out, n, alpha));
}

/** Pow with a scalar exponent (GELU's x^3 and its gradient's x^2) natively; else the original. */
function nativePow(native: NativeKernels, args: KernelArgs): tf.TensorInfo {
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

/**
 * Slice as copies of contiguous runs inside the wasm heap. The package's kernel first copies the
 * whole input out of the heap (readSync), which made slicing q, k, v out of a fused projection
 * cost more than the projection itself.
 */
function heapSlice(args: KernelArgs): tf.TensorInfo {
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
function sharedIdentity(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x!;
  if (x.dtype === "string") return callOriginal("Identity", args);
  (args.backend as WasmBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Swaps the last two axes with the original wasm Transpose kernel (fast, unlike transposed matMul). */
function swapLastAxes(t: tf.TensorInfo, backend: unknown): tf.TensorInfo {
  const perm = t.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return callOriginal("Transpose", { inputs: { x: t }, backend, attrs: { perm } });
}

/** Without the addon: transpose explicitly, then the plain (fast) wasm matMul. */
function repairedMatMul(name: string, args: KernelArgs): tf.TensorInfo {
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
