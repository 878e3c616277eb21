/**
 * Convolution kernels for the wasm backend, so `tf.conv2d`, `tf.conv2dTranspose`, `tf.fused.conv2d`
 * (what tf.layers.conv2d calls) and their gradients run and train there.
 *
 * tfjs-backend-wasm 4.22 has Conv2D, FusedConv2D and Conv2DBackpropInput (XNNPACK, one thread) but no
 * Conv2DBackpropFilter, so the gradient of any convolution's filter fails on wasm. With the native
 * addon (kernel-lib/native/src/conv.cc: im2col + the packed SGEMM on the addon's threads, in place on
 * the wasm heap) all four run natively, NHWC, float32, any stride, dilation and padding ('same',
 * 'valid', a number, explicit). Without it the package's own three stay and Conv2DBackpropFilter is
 * added in plain TypeScript (correct, slow). Other data formats and dtypes: the package's kernel, or
 * an error naming the shapes when it has none.
 *
 * fast.ts's registerFastKernels calls {@link registerConvKernels} (which also installs image-kernels.ts's).
 * Part of the fast CPU route (runtime/fast.ts); its speed is measured beside PyTorch by `npm run bench`; the backends
 * are taught in notebooks/00-tour.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { KernelArgs, WasmBackend } from "./wasm-heap";
import { registerImageKernels } from "./image-kernels";

/** The addon's convolution functions (kernel-lib/native/src/conv.cc documents the arguments). */
export interface NativeConv {
  conv2d(
    heap: ArrayBuffer,
    geo: Int32Array,
    xOff: number,
    wOff: number,
    yOff: number,
    biasOff: number,
    biasStride: number,
    activation: number,
    alpha: number,
    preluOff: number,
    preluStride: number,
  ): void;
  conv2dBackpropInput(heap: ArrayBuffer, geo: Int32Array, dyOff: number, wOff: number, dxOff: number): void;
  conv2dBackpropFilter(heap: ArrayBuffer, geo: Int32Array, xOff: number, dyOff: number, dwOff: number): void;
}

type Pad = "same" | "valid" | number | tf.backend_util.ExplicitPadding;
type Rounding = "floor" | "round" | "ceil" | undefined;
type Shape4 = [number, number, number, number];

/** tfjs's fused activation names, numbered as the addon's `Activation` (aigc.h). */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, prelu: 3, elu: 4, leakyrelu: 5, sigmoid: 6 };

/** The package's kernels, saved the first time so re-registering never wraps a wrapper. */
const originals = new Map<string, tf.KernelConfig>();

/** The kernels this file replaces (when the package has them) or adds. */
const REPLACED = ["Conv2D", "FusedConv2D", "Conv2DBackpropInput"] as const;
const ADDED = "Conv2DBackpropFilter";

function install(name: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo): void {
  const current = tf.getKernel(name, "wasm");
  if (current && !originals.has(name) && REPLACED.includes(name as (typeof REPLACED)[number])) originals.set(name, current);
  if (current) tf.unregisterKernel(name, "wasm");
  const config: tf.KernelConfig = { kernelName: name, backendName: "wasm", kernelFunc: kernelFunc as tf.KernelFunc };
  const orig = originals.get(name);
  if (orig?.setupFunc) config.setupFunc = orig.setupFunc;
  if (orig?.disposeFunc) config.disposeFunc = orig.disposeFunc;
  tf.registerKernel(config);
}

function restore(name: string): void {
  const orig = originals.get(name);
  if (!orig) return;
  tf.unregisterKernel(name, "wasm");
  tf.registerKernel(orig);
}

/** The package's kernel, or a clear error when it has none for these inputs. */
function callOriginal(name: string, args: KernelArgs, why: string): tf.TensorInfo {
  const orig = originals.get(name);
  if (!orig) throw new Error(`${name} on wasm: ${why}`);
  return orig.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

function floatOffset(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset / 4;
}

function rank4(t: tf.TensorInfo, name: string, what: string): Shape4 {
  if (t.shape.length !== 4) throw new Error(`${name}: ${what} must be rank 4 (NHWC), got shape [${t.shape}]`);
  return t.shape as Shape4;
}

/** Why these inputs cannot take the native path (null when they can). */
function unsupported(attrs: tf.NamedAttrMap, ...ts: tf.TensorInfo[]): string | null {
  const bad = ts.find((t) => t.dtype !== "float32");
  if (bad) return `only float32 is supported, got ${bad.dtype} [${bad.shape}]`;
  if ((attrs.dataFormat ?? "NHWC") !== "NHWC") return `only NHWC is supported, got dataFormat ${String(attrs.dataFormat)}`;
  return null;
}

/** The forward convolution's geometry, in the order conv.cc's `Geo` reads it. */
function geometry(info: tf.backend_util.Conv2DInfo): Int32Array {
  return Int32Array.from([
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.filterHeight, info.filterWidth, info.outChannels, info.outHeight, info.outWidth,
    info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth, info.padInfo.top, info.padInfo.left,
  ]);
}

function convInfo(xShape: Shape4, filterShape: Shape4, attrs: tf.NamedAttrMap, name: string): tf.backend_util.Conv2DInfo {
  if (xShape[3] !== filterShape[2]) {
    throw new Error(`${name}: input channels ${xShape[3]} (x [${xShape}]) must match the filter's in-channels ${filterShape[2]} (filter [${filterShape}])`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides as number | [number, number],
    (attrs.dilations as number | [number, number] | undefined) ?? 1,
    attrs.pad as Pad,
    attrs.dimRoundingMode as Rounding,
    false,
    "channelsLast",
  );
}

/** A bias or PReLU weights operand of a fused conv: offset and 1 (one per channel) or 0 (one value); null: not that shape. */
function channelOperand(backend: WasmBackend, t: tf.TensorInfo | undefined, channels: number): { off: number; stride: number } | null {
  if (!t) return { off: -1, stride: 0 };
  const n = size(t.shape);
  if (t.dtype !== "float32") return null;
  if (n === 1) return { off: floatOffset(backend, t), stride: 0 };
  if (n === channels && t.shape[t.shape.length - 1] === channels) return { off: floatOffset(backend, t), stride: 1 };
  return null;
}

function nativeConv2D(native: NativeConv, name: "Conv2D" | "FusedConv2D", args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x, filter, bias, preluActivationWeights } = args.inputs;
  const attrs = args.attrs ?? {};
  if (!x || !filter) throw new Error(`${name}: x and filter are required`);
  const why = unsupported(attrs, x, filter);
  if (why) return callOriginal(name, args, why);
  const info = convInfo(rank4(x, name, "x"), rank4(filter, name, "filter"), attrs, name);
  const activation = String(attrs.activation ?? "linear");
  const act = ACTIVATIONS[activation];
  const b = channelOperand(backend, bias, info.outChannels);
  const p = channelOperand(backend, preluActivationWeights, info.outChannels);
  if (act === undefined || !b || !p) {
    return callOriginal(name, args, `activation ${activation} with bias [${bias?.shape}] and prelu weights [${preluActivationWeights?.shape}] is not supported`);
  }
  const out = backend.makeOutput(info.outShape, "float32");
  if (size(info.outShape) === 0) return out;
  // The heap's ArrayBuffer after makeOutput (its malloc may grow the memory; offsets stay valid).
  native.conv2d(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    geometry(info),
    floatOffset(backend, x),
    floatOffset(backend, filter),
    floatOffset(backend, out),
    b.off,
    b.stride,
    act,
    Number(attrs.leakyreluAlpha ?? 0.2),
    p.off,
    p.stride,
  );
  return out;
}

function nativeBackpropInput(native: NativeConv, args: KernelArgs): tf.TensorInfo {
  const name = "Conv2DBackpropInput";
  const backend = args.backend as WasmBackend;
  const { dy, filter } = args.inputs;
  const attrs = args.attrs ?? {};
  if (!dy || !filter) throw new Error(`${name}: dy and filter are required`);
  const why = unsupported(attrs, dy, filter);
  if (why) return callOriginal(name, args, why);
  const inputShape = attrs.inputShape as Shape4;
  const info = convInfo(inputShape, rank4(filter, name, "filter"), attrs, name);
  const dyShape = rank4(dy, name, "dy");
  if (dyShape.some((d, i) => d !== info.outShape[i])) {
    throw new Error(`${name}: dy [${dyShape}] must be [${info.outShape}], the output of x [${inputShape}] with filter [${filter.shape}]`);
  }
  const out = backend.makeOutput(inputShape, "float32");
  if (size(inputShape) === 0) return out;
  native.conv2dBackpropInput(backend.wasm.HEAPU8.buffer as ArrayBuffer, geometry(info), floatOffset(backend, dy), floatOffset(backend, filter), floatOffset(backend, out));
  return out;
}

/** Checks Conv2DBackpropFilter's inputs; returns the forward convolution's geometry. */
function filterGradInfo(args: KernelArgs): { x: tf.TensorInfo; dy: tf.TensorInfo; info: tf.backend_util.Conv2DInfo; filterShape: Shape4 } {
  const name = ADDED;
  const { x, dy } = args.inputs;
  const attrs = args.attrs ?? {};
  if (!x || !dy) throw new Error(`${name}: x and dy are required`);
  const why = unsupported(attrs, x, dy);
  if (why) throw new Error(`${name} on wasm: ${why} (x [${x.shape}], dy [${dy.shape}])`);
  const filterShape = attrs.filterShape as Shape4;
  const info = convInfo(rank4(x, name, "x"), filterShape, attrs, name);
  const dyShape = rank4(dy, name, "dy");
  if (dyShape.some((d, i) => d !== info.outShape[i])) {
    throw new Error(`${name}: dy [${dyShape}] must be [${info.outShape}], the output of x [${x.shape}] with filter [${filterShape}]`);
  }
  return { x, dy, info, filterShape };
}

function nativeBackpropFilter(native: NativeConv, args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x, dy, info, filterShape } = filterGradInfo(args);
  const out = backend.makeOutput(filterShape, "float32");
  native.conv2dBackpropFilter(backend.wasm.HEAPU8.buffer as ArrayBuffer, geometry(info), floatOffset(backend, x), floatOffset(backend, dy), floatOffset(backend, out));
  return out;
}

/**
 * Conv2DBackpropFilter without the addon: dW [K x CO] = im2col(x)^T dy, in blocks of output pixels
 * (im2col written in TypeScript into the heap, the product by the registered BatchMatMul, i.e. the
 * package's matMul after fast.ts's explicit transpose), summed in float64.
 */
function plainBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend & { disposeData(dataId: object): boolean };
  const { x, dy, info, filterShape } = filterGradInfo(args);
  const [KH, KW, C, CO] = filterShape;
  const { batchSize: N, inHeight: H, inWidth: W, outHeight: OH, outWidth: OW, strideHeight: SH, strideWidth: SW } = info;
  const { dilationHeight: DH, dilationWidth: DW } = info;
  const { top, left } = info.padInfo;
  const K = KH * KW * C;
  const M = N * OH * OW;
  const acc = new Float64Array(K * CO);
  const matMul = tf.getKernel("BatchMatMul", "wasm")!;
  const block = Math.max(1, Math.min(M, Math.floor(1_000_000 / K))); // about 4 MB of im2col per product
  for (let r0 = 0; r0 < M; r0 += block) {
    const rows = Math.min(block, M - r0);
    const cols = backend.makeOutput([1, rows, K], "float32");
    const dyBlock = backend.makeOutput([1, rows, CO], "float32");
    // Views after the allocations (which may grow the heap).
    const xs = backend.typedArrayFromHeap(x);
    const cv = backend.typedArrayFromHeap(cols) as Float32Array;
    (backend.typedArrayFromHeap(dyBlock) as Float32Array).set(backend.typedArrayFromHeap(dy).subarray(r0 * CO, (r0 + rows) * CO));
    cv.fill(0);
    for (let r = 0; r < rows; r++) {
      const p = r0 + r;
      const n = Math.floor(p / (OH * OW));
      const oh = Math.floor((p % (OH * OW)) / OW);
      const ow = p % OW;
      for (let i = 0; i < KH; i++) {
        const ih = oh * SH - top + i * DH;
        if (ih < 0 || ih >= H) continue;
        for (let j = 0; j < KW; j++) {
          const iw = ow * SW - left + j * DW;
          if (iw < 0 || iw >= W) continue;
          const src = ((n * H + ih) * W + iw) * C;
          cv.set(xs.subarray(src, src + C), r * K + (i * KW + j) * C);
        }
      }
    }
    const prod = matMul.kernelFunc({ inputs: { a: cols, b: dyBlock }, backend: backend as unknown as tf.KernelBackend, attrs: { transposeA: true, transposeB: false } }) as tf.TensorInfo;
    const pv = backend.typedArrayFromHeap(prod);
    for (let i = 0; i < K * CO; i++) acc[i]! += pv[i]!;
    for (const t of [cols, dyBlock, prod]) backend.disposeData(t.dataId);
  }
  const out = backend.makeOutput(filterShape, "float32");
  (backend.typedArrayFromHeap(out) as Float32Array).set(acc);
  return out;
}

/**
 * Installs the convolution kernels on the wasm backend: native ones when `addon` (the loaded
 * aigc_fast module) has them, else the package's own plus a TypeScript Conv2DBackpropFilter.
 * Idempotent; returns true when the native kernels were installed.
 */
export function registerConvKernels(addon: object | null): boolean {
  registerImageKernels(addon);
  const native = addon as Partial<NativeConv> | null;
  if (native && typeof native.conv2d === "function" && typeof native.conv2dBackpropInput === "function" && typeof native.conv2dBackpropFilter === "function") {
    const n = native as NativeConv;
    install("Conv2D", (args) => nativeConv2D(n, "Conv2D", args));
    install("FusedConv2D", (args) => nativeConv2D(n, "FusedConv2D", args));
    install("Conv2DBackpropInput", (args) => nativeBackpropInput(n, args));
    install(ADDED, (args) => nativeBackpropFilter(n, args));
    return true;
  }
  for (const name of REPLACED) restore(name);
  install(ADDED, plainBackpropFilter);
  return false;
}
