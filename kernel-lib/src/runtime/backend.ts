/**
 * Backend choice. {@link useBestBackend} tries, in order, tfjs-node-gpu (CUDA), tfjs-node (native
 * TensorFlow), WebGPU, wasm and the plain JavaScript cpu backend, and prints one line saying which it
 * chose and why each better one was skipped. `AIGC_BACKEND=wasm` (or any name below) forces one.
 * tfjs-node and tfjs-node-gpu are never dependencies of this package (their install downloads
 * libtensorflow); they are used when the user has installed them. Taught in notebooks/00-tour.ipynb.
 */
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { registerFastKernels } from "./fast";
import { registerWasmKernels } from "./wasm-kernels";

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
    // A smoke test: some backends register but fail at their first kernel. Read asynchronously:
    // WebGPU in Node cannot read synchronously (its dataSync needs a canvas).
    const t = tf.tidy(() => tf.sum(tf.mul(tf.tensor1d([1, 2, 3]), 2)));
    const probe = (await t.data())[0];
    t.dispose();
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

/** Software rasterisers: WebGPU on them runs on the CPU, slower than wasm+native. */
const SOFTWARE_GPU = /llvmpipe|lavapipe|softpipe|swiftshader/i;

type GpuAdapter = {
  info: { device?: string; description?: string; vendor?: string };
  limits: Record<string, number>;
  features: Set<string>;
  requestDevice(descriptor?: object): Promise<unknown>;
};
type Gpu = { requestAdapter(options?: object): Promise<GpuAdapter | null> };
type Dawn = { create(flags: string[]): Gpu; globals: Record<string, unknown> };

/** A GPU device node (Linux): without one, Dawn can only find software adapters. */
function hasGpuDeviceNode(): boolean {
  if (process.platform !== "linux") return true;
  const fs = require("node:fs") as typeof import("node:fs");
  const list = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);
  return list("/dev/dri").some((f) => f.startsWith("renderD")) || list("/dev").some((f) => /^nvidia\d+$/.test(f));
}

/**
 * WebGPU through the npm `webgpu` package (Dawn's prebuilt dawn.node) and tfjs-backend-webgpu.
 * Real GPUs come through Dawn's default backend (Vulkan, Metal, D3D12). Mesa's llvmpipe gives an
 * adapter only through OpenGL ES in compatibility mode on a surfaceless EGL display; as it runs on
 * the CPU, slower than wasm+native, it is used only when forced (AIGC_BACKEND=webgpu).
 */
async function tryWebGpu(forced: boolean): Promise<Attempt> {
  if (!forced && !hasGpuDeviceNode()) return { ok: false, reason: "no GPU device (/dev/dri/renderD*, /dev/nvidia*)" };
  let dawn: Dawn;
  let webgpuBackend: { WebGPUBackend: new (device: unknown, info?: unknown) => tf.KernelBackend };
  try {
    // The package's index.js is an ES module (not require()-able in Node 20); its binary is plain.
    const dir = path.dirname(require.resolve("webgpu/package.json"));
    const platform = process.platform === "darwin" ? "darwin-universal" : `${process.platform}-${process.arch}`;
    dawn = require(path.join(dir, "dist", platform, "dawn.node")) as Dawn;
  } catch (e) {
    return { ok: false, reason: isMissingModule(e, "webgpu/package.json") ? "not installed (npm package webgpu)" : `failed to load: ${errorText(e)}` };
  }
  try {
    webgpuBackend = require("@tensorflow/tfjs-backend-webgpu");
  } catch (e) {
    return { ok: false, reason: `@tensorflow/tfjs-backend-webgpu ${isMissingModule(e, "@tensorflow/tfjs-backend-webgpu") ? "not installed" : "failed to load: " + errorText(e)}` };
  }
  try {
    const extra = process.env.AIGC_WEBGPU_FLAGS ? process.env.AIGC_WEBGPU_FLAGS.split(",") : [];
    // 1) Dawn's default backend: a real GPU.
    let gpu = dawn.create(extra);
    // (Skipped without a device node unless forced: it only prints Vulkan loader errors then.)
    let adapter = forced || hasGpuDeviceNode() ? await gpu.requestAdapter({ powerPreference: "high-performance" }) : null;
    // 2) OpenGL ES on a headless EGL display, in compatibility mode: what Mesa's llvmpipe offers.
    if (!adapter) {
      process.env.EGL_PLATFORM ??= "surfaceless";
      gpu = dawn.create(["backend=opengles", ...extra]);
      adapter = await gpu.requestAdapter({ featureLevel: "compatibility" });
    }
    if (!adapter) return { ok: false, reason: "no GPU adapter found" };
    const name = [adapter.info.device, adapter.info.description].filter(Boolean).join(", ") || "unknown adapter";
    const software = SOFTWARE_GPU.test(`${adapter.info.device} ${adapter.info.description}`);
    if (software && !forced) return { ok: false, reason: `only a software adapter (${name}), slower than the CPU backends` };
    // The limits tfjs-backend-webgpu asks for when it creates its own device: large tensors need them.
    const want = ["maxComputeWorkgroupStorageSize", "maxComputeWorkgroupsPerDimension", "maxStorageBufferBindingSize", "maxBufferSize", "maxComputeWorkgroupSizeX", "maxComputeInvocationsPerWorkgroup"];
    const requiredLimits = Object.fromEntries(want.filter((k) => adapter!.limits[k] !== undefined).map((k) => [k, adapter!.limits[k]]));
    const requiredFeatures = adapter.features.has("timestamp-query") ? ["timestamp-query"] : [];
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
    // tfjs-backend-webgpu uses the browser globals (GPUBufferUsage, GPUMapMode, ...) that Dawn provides.
    for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
    // It also checks navigator.gpu, which Node 20 lacks; and its kernels are registered
    // under the name "webgpu", so the backend must be registered under that name too.
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (!g.navigator) Object.defineProperty(globalThis, "navigator", { value: {}, configurable: true, writable: true });
    if (!g.navigator!.gpu) Object.defineProperty(g.navigator, "gpu", { value: gpu, configurable: true });
    if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
    tf.registerBackend("webgpu", () => new webgpuBackend.WebGPUBackend(device, adapter!.info), 1);
    return (await activate("webgpu"))
      ? { ok: true, tfName: "webgpu", detail: `${name}${software ? ", software" : ""}` }
      : { ok: false, reason: "failed its smoke test" };
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

function attempt(name: BackendName, forced: boolean): Promise<Attempt> {
  switch (name) {
    case "tfjs-node-gpu":
      return tryTfjsNode("@tensorflow/tfjs-node-gpu");
    case "tfjs-node":
      return tryTfjsNode("@tensorflow/tfjs-node");
    case "webgpu":
      return tryWebGpu(forced);
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
    const result = await attempt(name, !!forced);
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
