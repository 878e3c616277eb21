/**
 * Adam and AdamW as one native pass per variable (kernel-lib/native/src/optim.cc).
 *
 * tfjs's AdamOptimizer runs about a dozen elementwise kernels per variable and step (each a pass over
 * memory, each an allocation); {@link FusedAdam} reads value, gradient and the two moments once, and
 * writes the moments in place and the new value once. Its arithmetic is tfjs's, in float32 and in
 * the same order (including the float32 running powers beta^t), so it gives tf.train.adam's numbers.
 * With `weightDecay` it is AdamW (decoupled decay, as torch.optim.AdamW): value * (1 - lr wd) before
 * the Adam step.
 *
 * The native pass runs on the wasm backend with the addon; elsewhere (cpu, WebGPU, no addon,
 * `AIGC_NATIVE=0`) the same formulas run as tfjs ops. The moments belong to the optimizer alone:
 * {@link FusedAdam.getWeights} returns copies.
 * For every lesson's trainers (their Adam steps); the optimiser itself is taught in notebooks/02-transformer.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { loadNative } from "../runtime/native";

/** A named tensor, as tf.Optimizer's weights and gradient lists use (tfjs does not export the type). */
export type NamedTensor = { name: string; tensor: tf.Tensor };

/** The addon's fused step (optim.cc documents the arguments). */
interface NativeAdam {
  adam(heap: ArrayBuffer, n: number, valueOff: number, gradOff: number, mOff: number, vOff: number, outOff: number, params: Float32Array): void;
}

/** The parts of tfjs-backend-wasm's BackendWasm used here. */
interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

export interface FusedAdamOptions {
  /** Default 0.001. */
  learningRate?: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default: the backend's epsilon (1e-7 on float32 backends), as tf.train.adam. */
  epsilon?: number;
  /** AdamW's decoupled weight decay; default 0 (plain Adam). */
  weightDecay?: number;
}

const f32 = Math.fround;

/** The native addon's fused step when the active backend is wasm with the addon, else null. */
function nativeAdam(): NativeAdam | null {
  if (tf.getBackend() !== "wasm") return null;
  const loaded = loadNative();
  if (!loaded.ok) return null;
  const n = loaded.native as unknown as Partial<NativeAdam>;
  return typeof n.adam === "function" ? (n as NativeAdam) : null;
}

/** Adam / AdamW with one fused pass per variable; a drop-in for tf.train.adam (`minimize`, `applyGradients`). */
export class FusedAdam extends tf.Optimizer {
  static get className(): string {
    return "FusedAdam";
  }

  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  /** beta^t in float32, updated after each step as tfjs's accBeta variables are. */
  private accBeta1: number;
  private accBeta2: number;
  private readonly moments = new Map<string, { m: tf.Tensor; v: tf.Tensor }>();

  constructor(options: FusedAdamOptions = {}) {
    super();
    this.learningRate = options.learningRate ?? 0.001;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? tf.backend().epsilon();
    this.weightDecay = options.weightDecay ?? 0;
    for (const [k, v] of Object.entries({ learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: this.weightDecay })) {
      if (!Number.isFinite(v) || v < 0) throw new Error(`FusedAdam: ${k} must be a finite number >= 0, got ${v}`);
    }
    if (this.beta1 >= 1 || this.beta2 >= 1) throw new Error(`FusedAdam: betas must be < 1, got ${this.beta1}, ${this.beta2}`);
    this.accBeta1 = f32(this.beta1);
    this.accBeta2 = f32(this.beta2);
  }

  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const pairs: [string, tf.Tensor | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor])
      : Object.entries(variableGradients);
    const native = nativeAdam();
    // The float32 constants exactly as tfjs's AdamOptimizer makes them (scalars of JS numbers).
    const c = {
      b1: f32(this.beta1),
      c1: f32(1 - this.beta1),
      b2: f32(this.beta2),
      c2: f32(1 - this.beta2),
      oma1: f32(1 - this.accBeta1),
      oma2: f32(1 - this.accBeta2),
      eps: f32(this.epsilon),
      negLr: f32(-this.learningRate),
      keep: f32(1 - this.learningRate * this.weightDecay),
    };
    const params = Float32Array.from([c.b1, c.c1, c.b2, c.c2, c.oma1, c.oma2, c.eps, c.negLr, c.keep]);
    for (const [name, grad] of pairs) {
      if (grad == null) continue;
      const value = tf.engine().registeredVariables[name];
      if (!value) throw new Error(`FusedAdam: no variable named ${name}`);
      if (value.dtype !== "float32" || grad.dtype !== "float32") throw new Error(`FusedAdam: ${name} must be float32, got value ${value.dtype} and gradient ${grad.dtype}`);
      if (!tf.util.arraysEqual(value.shape, grad.shape)) throw new Error(`FusedAdam: gradient [${grad.shape}] does not match variable ${name} [${value.shape}]`);
      let state = this.moments.get(name);
      if (!state) {
        state = { m: tf.keep(tf.zeros(value.shape)), v: tf.keep(tf.zeros(value.shape)) };
        this.moments.set(name, state);
      }
      if (!(native && this.nativeStep(native, value, grad, state, params))) this.opsStep(value, grad, state, c);
    }
    this.accBeta1 = f32(this.accBeta1 * f32(this.beta1));
    this.accBeta2 = f32(this.accBeta2 * f32(this.beta2));
    this.incrementIterations();
  }

  /** One native pass; false when an operand is not on the wasm heap (then the ops path runs). */
  private nativeStep(native: NativeAdam, value: tf.Variable, grad: tf.Tensor, state: { m: tf.Tensor; v: tf.Tensor }, params: Float32Array): boolean {
    const backend = tf.backend() as unknown as WasmBackend;
    const offset = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)?.memoryOffset;
    if ([value, grad, state.m, state.v].some((t) => offset(t) === undefined)) return false;
    const n = value.size;
    const outInfo = backend.makeOutput(value.shape, "float32");
    if (n > 0) {
      native.adam(backend.wasm.HEAPU8.buffer as ArrayBuffer, n, offset(value)! / 4, offset(grad)! / 4, offset(state.m)! / 4, offset(state.v)! / 4, offset(outInfo)! / 4, params);
    }
    const out = tf.engine().makeTensorFromTensorInfo(outInfo);
    value.assign(out);
    out.dispose();
    return true;
  }

  /** The same step as tfjs ops (any backend). */
  private opsStep(value: tf.Variable, grad: tf.Tensor, state: { m: tf.Tensor; v: tf.Tensor }, c: Record<string, number>): void {
    const [m, v, next] = tf.tidy(() => {
      const m = tf.add(tf.mul(state.m, c.b1!), tf.mul(grad, c.c1!));
      const v = tf.add(tf.mul(state.v, c.b2!), tf.mul(tf.square(grad), c.c2!));
      const step = tf.mul(tf.div(tf.div(m, c.oma1!), tf.add(tf.sqrt(tf.div(v, c.oma2!)), c.eps!)), c.negLr!);
      const base = this.weightDecay > 0 ? tf.mul(value, c.keep!) : value;
      return [tf.keep(m), tf.keep(v), tf.add(step, base)];
    });
    tf.dispose([state.m, state.v]);
    state.m = m;
    state.v = v;
    value.assign(next);
    next.dispose();
  }

  override dispose(): void {
    for (const { m, v } of this.moments.values()) tf.dispose([m, v]);
    this.moments.clear();
  }

  /** Iterations, then every m, then every v (as tf.train.adam), as copies. */
  override async getWeights(): Promise<NamedTensor[]> {
    const names = [...this.moments.keys()];
    const copy = async (t: tf.Tensor) => tf.tensor(await t.data(), t.shape, "float32");
    const ms = await Promise.all(names.map(async (n) => ({ name: `${n}/m`, tensor: await copy(this.moments.get(n)!.m) })));
    const vs = await Promise.all(names.map(async (n) => ({ name: `${n}/v`, tensor: await copy(this.moments.get(n)!.v) })));
    return [await this.saveIterations(), ...ms, ...vs];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    if (rest.length % 2) throw new Error(`FusedAdam.setWeights: expected m and v for each variable, got ${rest.length} tensors`);
    this.dispose();
    const half = rest.length / 2;
    for (let i = 0; i < half; i++) {
      const m = rest[i]!;
      const v = rest[half + i]!;
      const name = m.name.replace(/\/m$/, "");
      if (v.name !== `${name}/v`) throw new Error(`FusedAdam.setWeights: ${m.name} is paired with ${v.name}`);
      this.moments.set(name, { m: tf.keep(tf.tensor(await m.tensor.data(), m.tensor.shape, "float32")), v: tf.keep(tf.tensor(await v.tensor.data(), v.tensor.shape, "float32")) });
    }
    // beta^(t+1) for the next step, in float32 as the running products would give it.
    this.accBeta1 = f32(this.beta1);
    this.accBeta2 = f32(this.beta2);
    for (let t = 0; t < this.iterations; t++) {
      this.accBeta1 = f32(this.accBeta1 * f32(this.beta1));
      this.accBeta2 = f32(this.accBeta2 * f32(this.beta2));
    }
  }

  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: this.weightDecay };
  }
}

/** Adam with one fused pass per variable: tf.train.adam's numbers. */
export function fusedAdam(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon?: number): FusedAdam {
  return new FusedAdam({ learningRate, beta1, beta2, ...(epsilon === undefined ? {} : { epsilon }) });
}

/** AdamW (decoupled weight decay, as torch.optim.AdamW; default decay 0.01) with one fused pass per variable. */
export function fusedAdamW(learningRate = 0.001, weightDecay = 0.01, beta1 = 0.9, beta2 = 0.999, epsilon?: number): FusedAdam {
  return new FusedAdam({ learningRate, beta1, beta2, weightDecay, ...(epsilon === undefined ? {} : { epsilon }) });
}
