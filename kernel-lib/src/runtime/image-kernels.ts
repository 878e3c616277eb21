/**
 * Kernels the convolutional models need around their convolutions on the wasm backend.
 *
 * - SplitV (the gradient of `tf.concat`, e.g. a U-Net's skip connections): the package's kernel copied
 *   each piece out of the heap and back; here each piece is a registered Slice (with the addon,
 *   fast.ts's copy inside the heap).
 * - AvgPoolGrad with window = stride and 'valid' padding (a U-Net's 2x2 pooling), and
 *   ResizeNearestNeighborGrad for an exact x2 upscale: the package's kernels took 10 ms or more for a
 *   [64, 28, 28, 32] gradient; these are one pass in TypeScript over the heap. Other cases: the package's.
 * - {@link groupNormFast} (nn/group-norm.ts's groupNorm calls it): group normalization over NHWC as one native pass forward and one backward
 *   (kernel-lib/native/src/norm.cc) instead of about twenty kernels (moments over non-adjacent axes,
 *   broadcast arithmetic and their gradients). On other backends, or without the addon, the same
 *   formula as tfjs ops.
 *
 * native-conv.ts's registerConvKernels calls {@link registerImageKernels}.
 * Part of the fast CPU route (runtime/fast.ts); its speed is measured beside PyTorch by `npm run bench`; the backends
 * are taught in notebooks/00-tour.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { KernelArgs, WasmBackend } from "./wasm-heap";

/** The addon's group-norm functions (norm.cc documents the arguments). */
interface NativeNorm {
  groupNormForward(heap: ArrayBuffer, n: number, hw: number, c: number, groups: number, eps: number, xOff: number, gammaOff: number, betaOff: number, yOff: number, meanOff: number, rstdOff: number): void;
  groupNormBackward(heap: ArrayBuffer, n: number, hw: number, c: number, groups: number, xOff: number, dyOff: number, gammaOff: number, meanOff: number, rstdOff: number, dxOff: number, dgammaOff: number, dbetaOff: number): void;
}


const GN_FORWARD = "AigcGroupNorm";
const GN_BACKWARD = "AigcGroupNormGrad";

/** The package's kernels this file replaces, saved the first time. */
const originals = new Map<string, tf.KernelConfig>();

function callOriginal(name: string, args: KernelArgs): tf.TensorInfo {
  return originals.get(name)!.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

/**
 * dx[n, y, x, c] = dy[n, y / fy, x / fx, c] * scale for y < oh * fy and x < ow * fx, else 0: the gradient
 * of a k x k average pool with stride k (scale 1 / k^2, "valid") or of a nearest x2 upscale read the
 * other way (see below). Views are taken after makeOutput (which may grow the heap).
 */
function spread(backend: WasmBackend, dy: tf.TensorInfo, xShape: number[], fy: number, fx: number, scale: number): tf.TensorInfo {
  const out = backend.makeOutput(xShape, "float32");
  const o = backend.typedArrayFromHeap(out) as Float32Array;
  const d = backend.typedArrayFromHeap(dy) as Float32Array;
  const [n, h, w, c] = xShape as [number, number, number, number];
  const [, oh, ow] = dy.shape as [number, number, number, number];
  o.fill(0);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh * fy; y++) {
      const src0 = ((b * oh + Math.floor(y / fy)) * ow) * c;
      const dst0 = ((b * h + y) * w) * c;
      for (let x = 0; x < ow * fx; x++) {
        const s0 = src0 + Math.floor(x / fx) * c;
        const t0 = dst0 + x * c;
        for (let k = 0; k < c; k++) o[t0 + k] = d[s0 + k]! * scale;
      }
    }
  }
  return out;
}

/** AvgPoolGrad: one pass when the window equals the stride with 'valid' padding; else the package's. */
function avgPoolGrad(args: KernelArgs): tf.TensorInfo {
  const { dy, input } = args.inputs;
  const attrs = args.attrs ?? {};
  const pair = (v: unknown) => (Array.isArray(v) ? (v as number[]) : [Number(v), Number(v)]);
  const [kh, kw] = pair(attrs.filterSize);
  const [sh, sw] = pair(attrs.strides);
  if (!dy || !input || dy.dtype !== "float32" || input.shape.length !== 4 || attrs.pad !== "valid" || kh !== sh || kw !== sw) return callOriginal("AvgPoolGrad", args);
  const [n, h, w, c] = input.shape as [number, number, number, number];
  const expect = [n, Math.floor(h / kh!), Math.floor(w / kw!), c];
  if (dy.shape.some((d, i) => d !== expect[i])) throw new Error(`AvgPoolGrad: dy [${dy.shape}] must be [${expect}] for input [${input.shape}] and window ${kh}x${kw}`);
  return spread(args.backend as WasmBackend, dy, input.shape, kh!, kw!, 1 / (kh! * kw!));
}

/**
 * ResizeNearestNeighborGrad for an exact x2 upscale without alignCorners (with or without half-pixel
 * centers, output pixel y reads input y / 2): dx[i] = the sum of dy over its 2 x 2 block. Else the package's.
 */
function resizeNearestGrad(args: KernelArgs): tf.TensorInfo {
  const { images, dy } = args.inputs;
  const attrs = args.attrs ?? {};
  if (!images || !dy || dy.dtype !== "float32" || images.shape.length !== 4 || attrs.alignCorners) return callOriginal("ResizeNearestNeighborGrad", args);
  const [n, h, w, c] = images.shape as [number, number, number, number];
  if (dy.shape[0] !== n || dy.shape[1] !== 2 * h || dy.shape[2] !== 2 * w || dy.shape[3] !== c) return callOriginal("ResizeNearestNeighborGrad", args);
  const backend = args.backend as WasmBackend;
  const out = backend.makeOutput(images.shape, "float32");
  const o = backend.typedArrayFromHeap(out) as Float32Array;
  const d = backend.typedArrayFromHeap(dy) as Float32Array;
  const row = 2 * w * c;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      const top = ((b * 2 * h + 2 * y) * 2 * w) * c;
      const dst0 = ((b * h + y) * w) * c;
      for (let x = 0; x < w; x++) {
        const s = top + 2 * x * c;
        const t = dst0 + x * c;
        for (let k = 0; k < c; k++) o[t + k] = d[s + k]! + d[s + c + k]! + d[s + row + k]! + d[s + row + c + k]!;
      }
    }
  }
  return out;
}

const floatOffset = (backend: WasmBackend, t: tf.TensorInfo): number => backend.dataIdMap.get(t.dataId).memoryOffset / 4;

/** SplitV as one Slice kernel call per piece. */
function splitV(args: KernelArgs): tf.TensorInfo[] {
  const x = args.inputs.x!;
  const attrs = args.attrs ?? {};
  const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, attrs.numOrSizeSplits as number | number[], axis);
  const slice = tf.getKernel("Slice", "wasm")!;
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const out = slice.kernelFunc({ inputs: { x }, backend: args.backend as tf.KernelBackend, attrs: { begin: begin.slice(), size } }) as tf.TensorInfo;
    begin[axis]! += s;
    return out;
  });
}

/** Checks groupNorm's operands; returns [n, h*w, c]. */
function normSizes(x: tf.TensorInfo, gamma: tf.TensorInfo, groups: number, name: string): [number, number, number] {
  if (x.shape.length !== 4) throw new Error(`${name}: x must be rank 4 (NHWC), got [${x.shape}]`);
  const [n, h, w, c] = x.shape as [number, number, number, number];
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) throw new Error(`${name}: ${c} channels (x [${x.shape}]) do not split into ${groups} groups`);
  if (gamma.shape.length !== 1 || gamma.shape[0] !== c) throw new Error(`${name}: gamma and beta must be [${c}], got [${gamma.shape}]`);
  for (const t of [x, gamma]) if (t.dtype !== "float32") throw new Error(`${name}: float32 only, got ${t.dtype} [${t.shape}]`);
  return [n, h * w, c];
}

function gnForward(native: NativeNorm, args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackend;
  const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
  const groups = Number(args.attrs!.groups);
  const [n, hw, c] = normSizes(x!, gamma!, groups, "groupNorm");
  if (beta!.shape.length !== 1 || beta!.shape[0] !== c || beta!.dtype !== "float32") throw new Error(`groupNorm: beta must be float32 [${c}], got ${beta!.dtype} [${beta!.shape}]`);
  const y = backend.makeOutput(x!.shape, "float32");
  const mean = backend.makeOutput([n, groups], "float32");
  const rstd = backend.makeOutput([n, groups], "float32");
  native.groupNormForward(
    backend.wasm.HEAPU8.buffer as ArrayBuffer, n, hw, c, groups, Number(args.attrs!.eps),
    floatOffset(backend, x!), floatOffset(backend, gamma!), floatOffset(backend, beta!), floatOffset(backend, y), floatOffset(backend, mean), floatOffset(backend, rstd),
  );
  return [y, mean, rstd];
}

function gnBackward(native: NativeNorm, args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackend;
  const { dy, x, gamma, mean, rstd } = args.inputs as Record<string, tf.TensorInfo>;
  const groups = Number(args.attrs!.groups);
  const [n, hw, c] = normSizes(x!, gamma!, groups, "groupNorm gradient");
  const dx = backend.makeOutput(x!.shape, "float32");
  const dgamma = backend.makeOutput([c], "float32");
  const dbeta = backend.makeOutput([c], "float32");
  native.groupNormBackward(
    backend.wasm.HEAPU8.buffer as ArrayBuffer, n, hw, c, groups,
    floatOffset(backend, x!), floatOffset(backend, dy!), floatOffset(backend, gamma!), floatOffset(backend, mean!), floatOffset(backend, rstd!),
    floatOffset(backend, dx), floatOffset(backend, dgamma), floatOffset(backend, dbeta),
  );
  return [dx, dgamma, dbeta];
}

/** Group normalization as tfjs ops (any backend): the reference formula. */
export function groupNormOps(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, eps = 1e-5): tf.Tensor4D {
  normSizes(x, gamma, groups, "groupNorm");
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const g = x.reshape([n, h, w, groups, c / groups]);
    const { mean, variance } = tf.moments(g, [1, 2, 4], true);
    return tf.add(tf.mul(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, eps))).reshape([n, h, w, c]), gamma), beta) as tf.Tensor4D;
  });
}

/** The native forward pass with the native backward pass as its gradient. */
function nativeGroupNorm(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, eps: number): tf.Tensor4D {
  const f = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, gi, bi] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const [y, mean, rstd] = tf.engine().runKernel(GN_FORWARD, { x: xi!, gamma: gi!, beta: bi! }, { groups, eps }) as tf.Tensor[];
    save([xi!, gi!, mean!, rstd!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sg, sm, sr] = saved;
        return tf.engine().runKernel(GN_BACKWARD, { dy, x: sx!, gamma: sg!, mean: sm!, rstd: sr! }, { groups }) as tf.Tensor[];
      },
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  return f(x, gamma, beta) as tf.Tensor4D;
}

/**
 * Group normalization of NHWC `x`: per image and group of channels, (x - mean) / sqrt(var + eps), then
 * gamma and beta per channel (as torch.nn.functional.group_norm). Native forward and backward on
 * wasm with the addon; tfjs ops elsewhere.
 */
export function groupNormFast(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, eps = 1e-5): tf.Tensor4D {
  if (tf.getBackend() !== "wasm" || !tf.getKernel(GN_FORWARD, "wasm")) return groupNormOps(x, gamma, beta, groups, eps);
  normSizes(x, gamma, groups, "groupNorm");
  return nativeGroupNorm(x, gamma, beta, groups, eps);
}

/** Installs SplitV, AvgPoolGrad and ResizeNearestNeighborGrad (always) and the group-norm kernels (with the addon) on wasm; idempotent. */
export function registerImageKernels(addon: object | null): void {
  const replaced: [string, (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]][] = [
    ["SplitV", splitV],
    ["AvgPoolGrad", avgPoolGrad],
    ["ResizeNearestNeighborGrad", resizeNearestGrad],
  ];
  for (const [name, kernelFunc] of replaced) {
    const current = tf.getKernel(name, "wasm");
    if (!current) continue;
    if (!originals.has(name)) originals.set(name, current);
    tf.unregisterKernel(name, "wasm");
    // The package's setupFunc stays: its own kernel (still called for other cases) needs it.
    tf.registerKernel({ ...originals.get(name)!, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
  for (const name of [GN_FORWARD, GN_BACKWARD]) if (tf.getKernel(name, "wasm")) tf.unregisterKernel(name, "wasm");
  const native = addon as Partial<NativeNorm> | null;
  if (native && typeof native.groupNormForward === "function" && typeof native.groupNormBackward === "function") {
    const n = native as NativeNorm;
    tf.registerKernel({ kernelName: GN_FORWARD, backendName: "wasm", kernelFunc: ((args: KernelArgs) => gnForward(n, args)) as unknown as tf.KernelFunc });
    tf.registerKernel({ kernelName: GN_BACKWARD, backendName: "wasm", kernelFunc: ((args: KernelArgs) => gnBackward(n, args)) as unknown as tf.KernelFunc });
  }
}
