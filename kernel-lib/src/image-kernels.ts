/**
 * Kernels the convolutional models need around their convolutions on the wasm backend.
 *
 * - SplitV (the gradient of `tf.concat`, e.g. a U-Net's skip connections): the package's kernel copied
 *   each piece out of the heap and back; here each piece is a registered Slice (with the addon,
 *   fast.ts's copy inside the heap).
 * - {@link groupNorm}: group normalization over NHWC as one native pass forward and one backward
 *   (kernel-lib/native/src/norm.cc) instead of about twenty kernels (moments over non-adjacent axes,
 *   broadcast arithmetic and their gradients). On other backends, or without the addon, the same
 *   formula as tfjs ops.
 *
 * native-conv.ts's registerConvKernels calls {@link registerImageKernels}.
 */
import * as tf from "@tensorflow/tfjs";

/** The addon's group-norm functions (norm.cc documents the arguments). */
interface NativeNorm {
  groupNormForward(heap: ArrayBuffer, n: number, hw: number, c: number, groups: number, eps: number, xOff: number, gammaOff: number, betaOff: number, yOff: number, meanOff: number, rstdOff: number): void;
  groupNormBackward(heap: ArrayBuffer, n: number, hw: number, c: number, groups: number, xOff: number, dyOff: number, gammaOff: number, meanOff: number, rstdOff: number, dxOff: number, dgammaOff: number, dbetaOff: number): void;
}

interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

const GN_FORWARD = "AigcGroupNorm";
const GN_BACKWARD = "AigcGroupNormGrad";

/** The package's SplitV, saved the first time. */
let originalSplitV: tf.KernelConfig | undefined;

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
export function groupNorm(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, eps = 1e-5): tf.Tensor4D {
  if (tf.getBackend() !== "wasm" || !tf.getKernel(GN_FORWARD, "wasm")) return groupNormOps(x, gamma, beta, groups, eps);
  normSizes(x, gamma, groups, "groupNorm");
  return nativeGroupNorm(x, gamma, beta, groups, eps);
}

/** Installs SplitV (always) and the group-norm kernels (with the addon) on wasm; idempotent. */
export function registerImageKernels(addon: object | null): void {
  const current = tf.getKernel("SplitV", "wasm");
  if (current && !originalSplitV) originalSplitV = current;
  if (current) tf.unregisterKernel("SplitV", "wasm");
  tf.registerKernel({ kernelName: "SplitV", backendName: "wasm", kernelFunc: splitV as unknown as tf.KernelFunc });
  for (const name of [GN_FORWARD, GN_BACKWARD]) if (tf.getKernel(name, "wasm")) tf.unregisterKernel(name, "wasm");
  const native = addon as Partial<NativeNorm> | null;
  if (native && typeof native.groupNormForward === "function" && typeof native.groupNormBackward === "function") {
    const n = native as NativeNorm;
    tf.registerKernel({ kernelName: GN_FORWARD, backendName: "wasm", kernelFunc: ((args: KernelArgs) => gnForward(n, args)) as unknown as tf.KernelFunc });
    tf.registerKernel({ kernelName: GN_BACKWARD, backendName: "wasm", kernelFunc: ((args: KernelArgs) => gnBackward(n, args)) as unknown as tf.KernelFunc });
  }
}
