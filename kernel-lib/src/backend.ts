/**
 * Backend choice. {@link useBestBackend} tries, in order, tfjs-node-gpu (CUDA), tfjs-node (native
 * TensorFlow), WebGPU, wasm and the plain JavaScript cpu backend, and prints one line saying which it
 * chose and why each better one was skipped. `AIGC_BACKEND=wasm` (or any name below) forces one.
 * tfjs-node and tfjs-node-gpu are never dependencies of this package (their install downloads
 * libtensorflow); they are used when the user has installed them. Taught in notebooks/00-tour.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { registerWasmKernels } from "./wasm-kernels";
import { registerFastKernels } from "./fast";

/** The backends in order of preference. */
export const BACKEND_ORDER = ["tfjs-node-gpu", "tfjs-node", "webgpu", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_ORDER)[number];

export interface BackendChoice {
  /** The kernel-lib name of the backend in use. */
  name: BackendName;
  /** The name tf.getBackend() reports ("tensorflow" for tfjs-node and tfjs-node-gpu). */
  tfName: string;
  /** Why each better backend was passed over, in order. */
  skipped: { name: BackendName; reason: string }[];
  /** True when AIGC_BACKEND forced the choice. */
  forced: boolean;
  /** The one line {@link useBestBackend} printed. */
  summary: string;
}

export interface BackendOptions {
  /** Force a backend; overrides the environment. Default: `process.env.AIGC_BACKEND`, else automatic. */
  force?: string;
  /** Print the summary line. Default true. */
  verbose?: boolean;
}

type Attempt = { ok: true; tfName: string; label?: string; detail?: string } | { ok: false; reason: string };

function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0]!.slice(0, 160);
}

function isMissingModule(e: unknown, id: string): boolean {
  return e instanceof Error && (e as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" && e.message.includes(`'${id}'`);
}

async function activate(tfName: string): Promise<boolean> {
  try {
    const ok = await tf.setBackend(tfName);
    if (!ok) return false;
    await tf.ready();
    // A smoke test: some backends register but fail at their first kernel.
    const probe = tf.tidy(() => tf.sum(tf.mul(tf.tensor1d([1, 2, 3]), 2)).dataSync()[0]);
    return probe === 12;
  } catch {
    return false;
  }
}

/** Loads a tfjs-node flavour the user installed; its import registers the "tensorflow" backend. */
async function tryTfjsNode(pkg: "@tensorflow/tfjs-node-gpu" | "@tensorflow/tfjs-node"): Promise<Attempt> {
  try {
    require(pkg);
  } catch (e) {
    if (isMissingModule(e, pkg)) return { ok: false, reason: "not installed" };
    return { ok: false, reason: `failed to load: ${errorText(e)}` };
  }
  if (!tf.findBackend("tensorflow")) {
    return { ok: false, reason: "loaded, but registered no backend with this @tensorflow/tfjs (versions differ?)" };
  }
  return (await activate("tensorflow")) ? { ok: true, tfName: "tensorflow" } : { ok: false, reason: "failed its smoke test" };
}

async function tryWebGpu(): Promise<Attempt> {
  // Optional: the `webgpu` npm package (Dawn) gives Node a navigator.gpu; tfjs-backend-webgpu drives it.
  let dawn: { create(flags: string[]): unknown; globals?: Record<string, unknown> };
  let webgpuBackend: { WebGPUBackend: new (device: unknown, info?: unknown) => tf.KernelBackend };
  try {
    dawn = require("webgpu");
  } catch (e) {
    return { ok: false, reason: isMissingModule(e, "webgpu") ? "not installed (npm package webgpu)" : `failed to load: ${errorText(e)}` };
  }
  try {
    webgpuBackend = require("@tensorflow/tfjs-backend-webgpu");
  } catch (e) {
    return { ok: false, reason: `@tensorflow/tfjs-backend-webgpu ${isMissingModule(e, "@tensorflow/tfjs-backend-webgpu") ? "not installed" : "failed to load: " + errorText(e)}` };
  }
  try {
    if (dawn.globals) Object.assign(globalThis, dawn.globals);
    const flags = process.env.AIGC_WEBGPU_FLAGS ? process.env.AIGC_WEBGPU_FLAGS.split(",") : [];
    const gpu = dawn.create(flags) as {
      requestAdapter(o?: object): Promise<null | { info?: unknown; requestDevice(o?: object): Promise<unknown> }>;
    };
    const adapter = (await gpu.requestAdapter()) ?? (await gpu.requestAdapter({ featureLevel: "compatibility" }));
    if (!adapter) return { ok: false, reason: "no GPU adapter found" };
    const device = await adapter.requestDevice();
    tf.registerBackend("webgpu-dawn", () => new webgpuBackend.WebGPUBackend(device, adapter.info), 1);
    return (await activate("webgpu-dawn")) ? { ok: true, tfName: "webgpu-dawn" } : { ok: false, reason: "failed its smoke test" };
  } catch (e) {
    return { ok: false, reason: `failed to start: ${errorText(e)}` };
  }
}

async function tryWasm(): Promise<Attempt> {
  try {
    require("@tensorflow/tfjs-backend-wasm");
  } catch (e) {
    return { ok: false, reason: `failed to load: ${errorText(e)}` };
  }
  // Before activation, so the smoke test and every later op already see the added kernels.
  registerWasmKernels();
  const fast = registerFastKernels();
  if (!(await activate("wasm"))) return { ok: false, reason: "failed to initialise" };
  const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
  const threads = tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT");
  return {
    ok: true,
    tfName: "wasm",
    label: fast.native ? "wasm+native" : "wasm",
    detail: `${simd ? "SIMD" : "no SIMD"}, ${threads ? "threads" : "1 thread"}, ${fast.detail}`,
  };
}

async function tryCpu(): Promise<Attempt> {
  return (await activate("cpu")) ? { ok: true, tfName: "cpu" } : { ok: false, reason: "failed to initialise" };
}

function attempt(name: BackendName): Promise<Attempt> {
  switch (name) {
    case "tfjs-node-gpu":
      return tryTfjsNode("@tensorflow/tfjs-node-gpu");
    case "tfjs-node":
      return tryTfjsNode("@tensorflow/tfjs-node");
    case "webgpu":
      return tryWebGpu();
    case "wasm":
      return tryWasm();
    case "cpu":
      return tryCpu();
  }
}

let current: BackendChoice | null = null;

/**
 * Picks and activates the best working backend (see the module comment) and prints one line saying
 * which and why. Calling it again returns the first choice unless a different backend is forced.
 */
export async function useBestBackend(options: BackendOptions = {}): Promise<BackendChoice> {
  const { verbose = true } = options;
  const forcedRaw = (options.force ?? process.env.AIGC_BACKEND ?? "").trim();
  if (forcedRaw && !(BACKEND_ORDER as readonly string[]).includes(forcedRaw)) {
    throw new Error(`AIGC_BACKEND="${forcedRaw}" is not a backend; use one of ${BACKEND_ORDER.join(", ")}`);
  }
  const forced = forcedRaw as BackendName | "";
  if (current && (!forced || forced === current.name)) {
    // Someone may have switched with tf.setBackend since (a test comparing with cpu does): switch back.
    if (tf.getBackend() !== current.tfName) await tf.setBackend(current.tfName);
    if (verbose) console.log(current.summary);
    return current;
  }
  const skipped: BackendChoice["skipped"] = [];
  const candidates: readonly BackendName[] = forced ? [forced] : BACKEND_ORDER;
  for (const name of candidates) {
    const result = await attempt(name);
    if (result.ok) {
      const why = forced
        ? "forced by AIGC_BACKEND"
        : skipped.length
          ? "skipped " + skipped.map((s) => `${s.name} (${s.reason})`).join(", ")
          : "the first choice";
      const detail = result.detail ? ` [${result.detail}]` : "";
      const summary = `kernel-lib backend: ${result.label ?? name}${detail}; ${why}`;
      current = { name, tfName: result.tfName, skipped, forced: !!forced, summary };
      if (verbose) console.log(summary);
      return current;
    }
    if (forced) throw new Error(`AIGC_BACKEND=${forced} was requested but it ${result.reason}`);
    skipped.push({ name, reason: result.reason });
  }
  throw new Error("no TensorFlow.js backend works: " + skipped.map((s) => `${s.name}: ${s.reason}`).join("; "));
}

/** The backend chosen by {@link useBestBackend}, or null before it ran. */
export function currentBackend(): BackendChoice | null {
  return current;
}
