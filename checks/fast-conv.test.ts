/**
 * The convolution kernels of the wasm route (kernel-lib/src/runtime/native-conv.ts, kernel-lib/native/src/conv.cc)
 * against the plain cpu backend: Conv2D, FusedConv2D, Conv2DBackpropInput (conv2dTranspose) and
 * Conv2DBackpropFilter over seeded random shapes, every stride and padding mode, batch 1 and odd sizes;
 * gradients against cpu and against finite differences; leaks; errors; the fallback without the addon.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { tf, useBestBackend, registerFastKernels } from "kernel-lib";
import { evalOutputs, Fn } from "./lib/tensors";

async function run(backend: "cpu" | "wasm", f: Fn): Promise<number[][]> {
  if (backend === "wasm") await useBestBackend({ force: "wasm", verbose: false });
  else await tf.setBackend("cpu");
  assert.equal(tf.getBackend(), backend);
  return evalOutputs(f);
}

function assertClose(actual: number[], expected: number[], what: string, tol: number): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    assert.ok(Number.isFinite(a) && Math.abs(a - e) <= tol * (1 + Math.abs(e)), `${what}[${i}]: ${a} vs ${e}`);
  }
}

/** f on wasm equals f on cpu, output by output (each backend computes its own). */
async function agree(f: Fn, what: string, tol = 1e-4): Promise<void> {
  const cpu = await run("cpu", f);
  const wasm = await run("wasm", f);
  assert.equal(wasm.length, cpu.length, `${what}: outputs`);
  assert.ok(cpu.some((c) => c.some((v) => v !== 0)), `${what}: the reference is not all zeros`);
  cpu.forEach((c, i) => assertClose(wasm[i]!, c, `${what} output ${i}`, tol));
}

/** A seeded generator (mulberry32) in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values in [-1, 1) from a seed, the same on every backend. */
function det(shape: number[], seed: number): tf.Tensor {
  const r = rng(seed);
  return tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1), shape);
}

const int = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

type Pad = "same" | "valid" | number | [[number, number], [number, number], [number, number], [number, number]];

/** One random convolution: x [n, h, w, c], filter [kh, kw, c, co], stride, padding. */
interface Case {
  x: number[];
  f: [number, number, number, number];
  stride: number;
  pad: Pad;
}

/** Seeded random cases covering strides 1 and 2 and every padding mode; batch 1 and odd sizes included. */
function cases(seed: number, count: number, big = false): Case[] {
  const r = rng(seed);
  const out: Case[] = [];
  const pads: ((k: number) => Pad)[] = [() => "same", () => "valid", (k) => Math.floor(k / 2), (k) => [[0, 0], [int(r, 0, k - 1), int(r, 0, k - 1)], [int(r, 0, k - 1), int(r, 0, k - 1)], [0, 0]]];
  for (let i = 0; i < count; i++) {
    for (const stride of [1, 2]) {
      for (const pad of pads) {
        const k = [1, 2, 3, 4, 5][int(r, 0, 4)]!;
        const n = i === 0 ? 1 : int(r, 2, big ? 6 : 3);
        const h = int(r, k, big ? 22 : 11);
        const w = int(r, k, big ? 22 : 11);
        const c = big ? int(r, 8, 24) : int(r, 1, 7);
        const co = big ? int(r, 8, 24) : int(r, 1, 9);
        out.push({ x: [n, h, w, c], f: [k, k === 2 ? 3 : k, c, co], stride, pad: pad(k) });
      }
    }
  }
  return out;
}

const describe = (c: Case) => `x [${c.x}] filter [${c.f}] stride ${c.stride} pad ${JSON.stringify(c.pad)}`;

// Explicit padding and numbers pass through tfjs's own checks as the op's `pad` argument.
const padArg = (p: Pad) => p as "same";

test("Conv2D agrees with cpu over seeded random shapes, every stride and padding mode, batch 1, odd sizes", async () => {
  for (const c of [...cases(1, 3), ...cases(2, 2, true)]) {
    await agree(() => tf.conv2d(det(c.x, 1) as tf.Tensor4D, det(c.f, 2) as tf.Tensor4D, c.stride, padArg(c.pad)), `conv2d ${describe(c)}`);
  }
  // Non-square strides, dilation 2, and a 1x1 convolution (the no-im2col path) large enough for every thread.
  await agree(() => tf.conv2d(det([2, 9, 12, 3], 3) as tf.Tensor4D, det([3, 2, 3, 5], 4) as tf.Tensor4D, [1, 2], "same"), "conv2d strides [1, 2]");
  await agree(() => tf.conv2d(det([2, 13, 11, 4], 5) as tf.Tensor4D, det([3, 3, 4, 6], 6) as tf.Tensor4D, 1, "valid", "NHWC", 2), "conv2d dilation 2");
  await agree(() => tf.conv2d(det([8, 28, 28, 16], 7) as tf.Tensor4D, det([1, 1, 16, 32], 8) as tf.Tensor4D, 1, "valid"), "pointwise conv2d");
});

test("conv2dTranspose (Conv2DBackpropInput) agrees with cpu, strides 1 and 2, same and valid", async () => {
  const r = rng(11);
  for (let i = 0; i < 4; i++) {
    for (const stride of [1, 2]) {
      for (const pad of ["same", "valid"] as const) {
        const k = int(r, 1, 5);
        const n = i === 0 ? 1 : int(r, 1, 4);
        const oh = int(r, k, 15);
        const ow = int(r, k, 15);
        const [co, ci] = [int(r, 1, 9), int(r, 1, 9)];
        const fwd = tf.backend_util.computeConv2DInfo([n, oh, ow, co], [k, k, co, ci], stride, 1, pad);
        await agree(
          () => tf.conv2dTranspose(det([n, fwd.outHeight, fwd.outWidth, ci], 12 + i) as tf.Tensor4D, det([k, k, co, ci], 13 + i) as tf.Tensor4D, [n, oh, ow, co], stride, pad),
          `conv2dTranspose to [${n}, ${oh}, ${ow}, ${co}] k ${k} stride ${stride} ${pad}`,
        );
      }
    }
  }
  // DCGAN's generator layer (batch 64, 7x7x128 to 14x14x64) and batch 1 (dx bands inside one image).
  await agree(() => tf.conv2dTranspose(det([64, 7, 7, 128], 20) as tf.Tensor4D, det([4, 4, 64, 128], 21) as tf.Tensor4D, [64, 14, 14, 64], 2, "same"), "dcgan layer");
  await agree(() => tf.conv2dTranspose(det([1, 14, 14, 32], 22) as tf.Tensor4D, det([4, 4, 3, 32], 23) as tf.Tensor4D, [1, 28, 28, 3], 2, "same"), "batch 1 to 28x28");
});

test("fused conv2d: bias and every activation agree with cpu", async () => {
  const acts = ["linear", "relu", "relu6", "elu", "leakyrelu", "sigmoid", "prelu"] as const;
  for (const activation of acts) {
    for (const biasShape of [[6], [1]]) {
      await agree(
        () =>
          tf.fused.conv2d({
            x: det([2, 9, 8, 5], 30).mul(2) as tf.Tensor4D,
            filter: det([3, 3, 5, 6], 31) as tf.Tensor4D,
            strides: 2,
            pad: "same",
            bias: det(biasShape, 32),
            activation,
            preluActivationWeights: activation === "prelu" ? det([6], 33) : undefined,
            leakyreluAlpha: 0.3,
          }),
        `fused conv2d ${activation} bias [${biasShape}]`,
      );
    }
  }
});

/** The gradients of sum(conv(x, w) * r) with respect to x and w. */
function convGrads(c: Case, seed: number): Fn {
  return () => {
    const r = det([c.x[0]!, ...tf.backend_util.computeConv2DInfo(c.x as [number, number, number, number], c.f, c.stride, 1, padArg(c.pad)).outShape.slice(1)], seed + 2);
    const g = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, padArg(c.pad)), r)));
    return g([det(c.x, seed), det(c.f, seed + 1)]);
  };
}

test("conv2d gradients (input and filter) agree with cpu over seeded random shapes", async () => {
  for (const c of [...cases(40, 2), ...cases(41, 2, true)]) await agree(convGrads(c, 42), `grads ${describe(c)}`, 2e-4);
  // Channels in multiples of 16 (the filter gradient packed straight from x), every stride and padding.
  const explicit: Pad = [[0, 0], [2, 0], [1, 2], [0, 0]];
  for (const [x, f, stride, pad] of [
    [[1, 9, 7, 16], [3, 3, 16, 5], 1, "same"],
    [[3, 10, 11, 32], [3, 3, 32, 20], 2, "same"],
    [[2, 12, 9, 48], [4, 4, 48, 7], 2, "valid"],
    [[2, 8, 8, 16], [3, 2, 16, 33], 1, explicit],
    [[4, 14, 14, 64], [3, 3, 64, 32], 1, 1],
  ] as [number[], [number, number, number, number], number, Pad][]) {
    await agree(convGrads({ x, f, stride, pad }, 43), `grads ${describe({ x, f, stride, pad })}`, 2e-4);
  }
});

test("conv2dTranspose and fused conv2d gradients agree with cpu", async () => {
  for (const [stride, pad] of [[1, "same"], [2, "same"], [2, "valid"], [1, "valid"]] as const) {
    const fwd = tf.backend_util.computeConv2DInfo([3, 10, 9, 4], [4, 4, 4, 6], stride, 1, pad);
    await agree(() => {
      const r = det([3, 10, 9, 4], 52);
      const g = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [3, 10, 9, 4], stride, pad), r)));
      return g([det([3, fwd.outHeight, fwd.outWidth, 6], 50), det([4, 4, 4, 6], 51)]);
    }, `conv2dTranspose grads stride ${stride} ${pad}`, 2e-4);
  }
  await agree(() => {
    const g = tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 2, pad: "same", bias: b, activation: "relu" }))),
    );
    return g([det([2, 8, 8, 3], 53), det([3, 3, 3, 5], 54), det([5], 55)]);
  }, "fused conv2d grads", 2e-4);
});

test("gradients on wasm match central finite differences of the wasm forward pass (tiny case)", async () => {
  await useBestBackend({ force: "wasm", verbose: false });
  const explicit: Pad = [[0, 0], [1, 0], [0, 2], [0, 0]];
  for (const [stride, pad] of [[1, "same"], [2, "valid"], [2, explicit]] as [number, Pad][]) {
    const xs = det([1, 5, 4, 2], 60);
    const ws = det([3, 3, 2, 3], 61);
    const loss = (x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.tanh(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, padArg(pad))));
    const [gx, gw] = tf.grads(loss)([xs, ws]);
    const analytic = [Array.from(gx!.dataSync()), Array.from(gw!.dataSync())];
    const base = [Array.from(xs.dataSync()), Array.from(ws.dataSync())];
    const eps = 1e-2;
    for (const which of [0, 1]) {
      const shape = which === 0 ? xs.shape : ws.shape;
      const numeric = base[which]!.map((_, i) => {
        const at = (delta: number) => {
          const v = base[which]!.slice();
          v[i]! += delta;
          return tf.tidy(() => {
            const t = tf.tensor(v, shape);
            return loss(which === 0 ? t : xs, which === 0 ? ws : t).dataSync()[0]!;
          });
        };
        return (at(eps) - at(-eps)) / (2 * eps);
      });
      assert.ok(numeric.some((v) => Math.abs(v) > 1e-2), "the finite differences are not all zero");
      assertClose(analytic[which]!, numeric, `${which === 0 ? "dx" : "dw"} stride ${stride} pad ${JSON.stringify(pad)}`, 3e-3);
    }
    tf.dispose([xs, ws, gx!, gw!]);
  }
});

test("the native kernels are installed, and a conv net trains on wasm without leaking tensors or wasm buffers", async () => {
  const choice = await useBestBackend({ force: "wasm", verbose: false });
  assert.match(choice.summary, /wasm\+native/);
  assert.ok(tf.getKernel("Conv2DBackpropFilter", "wasm"), "Conv2DBackpropFilter is registered");
  const x = det([4, 12, 12, 1], 70);
  const w1 = tf.variable(det([3, 3, 1, 8], 71).mul(0.5));
  const w2 = tf.variable(det([4, 4, 4, 8], 72).mul(0.3));
  const opt = tf.train.adam(1e-2);
  const step = () =>
    opt.minimize(() => {
      const h = tf.relu(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 2, "same")); // [4, 6, 6, 8]
      const y = tf.conv2dTranspose(h, w2 as tf.Tensor4D, [4, 12, 12, 4], 2, "same");
      return tf.mean(tf.square(tf.sub(tf.slice(y, [0, 0, 0, 0], [4, 12, 12, 1]), x))) as tf.Scalar;
    }, true)!;
  const first = step();
  const l0 = first.dataSync()[0]!;
  first.dispose();
  const tensors = tf.memory().numTensors;
  const buffers = tf.engine().backend.numDataIds();
  let last = l0;
  for (let i = 0; i < 20; i++) {
    const l = step();
    last = l.dataSync()[0]!;
    l.dispose();
  }
  assert.equal(tf.memory().numTensors, tensors, "tensors");
  assert.equal(tf.engine().backend.numDataIds(), buffers, "wasm buffers");
  assert.ok(last < l0 * 0.9, `loss fell (${l0} -> ${last})`);
  tf.dispose([x, w1, w2]);
  opt.dispose();
});

test("bad inputs give errors naming the shapes and dtypes", async () => {
  await useBestBackend({ force: "wasm", verbose: false });
  const x = det([1, 6, 6, 2], 80);
  const dy = det([1, 3, 3, 4], 81);
  assert.throws(
    () => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, { strides: 1, pad: "valid", dataFormat: "NHWC", filterShape: [3, 3, 2, 4] }),
    /Conv2DBackpropFilter: dy \[1,3,3,4\] must be \[1,4,4,4\], the output of x \[1,6,6,2\] with filter \[3,3,2,4\]/,
  );
  const xi = tf.cast(x, "int32");
  assert.throws(
    () => tf.engine().runKernel("Conv2DBackpropFilter", { x: xi, dy }, { strides: 2, pad: "same", dataFormat: "NHWC", filterShape: [3, 3, 2, 4] }),
    /Conv2DBackpropFilter on wasm: only float32 is supported, got int32 \[1,6,6,2\]/,
  );
  assert.throws(
    () => tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: det([3, 3, 2, 4], 82) }, { strides: 1, pad: "valid", dataFormat: "NHWC", inputShape: [1, 6, 6, 2] }),
    /Conv2DBackpropInput: dy \[1,3,3,4\] must be \[1,4,4,4\]/,
  );
  tf.dispose([x, dy, xi]);
});

test("without the addon (AIGC_NATIVE=0) the package's kernels and the TypeScript filter gradient agree with cpu", async () => {
  process.env.AIGC_NATIVE = "0";
  try {
    assert.equal(registerFastKernels().native, false);
    for (const c of cases(90, 1)) await agree(convGrads(c, 91), `fallback grads ${describe(c)}`, 2e-4);
    // Several im2col blocks (about 1M floats each) summed.
    const many: Case = { x: [8, 32, 32, 32], f: [3, 3, 32, 8], stride: 1, pad: "same" };
    await agree(convGrads(many, 96), `fallback grads ${describe(many)}`, 2e-4);
    await agree(() => tf.conv2dTranspose(det([2, 4, 4, 3], 92) as tf.Tensor4D, det([4, 4, 5, 3], 93) as tf.Tensor4D, [2, 8, 8, 5], 2, "same"), "fallback conv2dTranspose");
    await useBestBackend({ force: "wasm", verbose: false });
    const buffers = tf.engine().backend.numDataIds();
    tf.tidy(() => tf.grads((w: tf.Tensor) => tf.sum(tf.conv2d(det([1, 5, 5, 2], 94) as tf.Tensor4D, w as tf.Tensor4D, 1, "same")))([det([3, 3, 2, 2], 95)])[0]!.dataSync());
    assert.equal(tf.engine().backend.numDataIds(), buffers, "wasm buffers after a fallback filter gradient");
  } finally {
    delete process.env.AIGC_NATIVE;
    assert.equal(registerFastKernels().native, true);
  }
});

test("the portable (non-AVX2) row and packed micro-kernels give the AVX2 kernels' convolutions", () => {
  // A child process per SIMD choice (made once per process): forward, input and filter gradients,
  // channels in multiples of 16 (the direct filter-gradient path) and not.
  const script = `
    const { tf, useBestBackend } = require("kernel-lib");
    (async () => {
      const summary = (await useBestBackend({ force: "wasm", verbose: false })).summary;
      const v = (shape, s) => tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37 + s)), shape);
      const out = [];
      for (const [xs, fs, st] of [[[2, 11, 9, 3], [3, 3, 3, 7], 1], [[3, 10, 10, 32], [3, 3, 32, 20], 2]]) {
        const g = tf.grads((x, w) => tf.sum(tf.square(tf.conv2d(x, w, st, "same"))))([v(xs, 1), v(fs, 2)]);
        for (const t of g) out.push(...t.dataSync());
      }
      process.stdout.write(JSON.stringify({ summary, out }));
    })();`;
  const runWith = (simd: string) =>
    JSON.parse(execFileSync(process.execPath, ["-e", script], { env: { ...process.env, AIGC_NATIVE_SIMD: simd }, encoding: "utf8", maxBuffer: 1 << 26 })) as { summary: string; out: number[] };
  const portable = runWith("portable");
  const auto = runWith("auto");
  assert.match(portable.summary, /native sgemm portable/);
  assertClose(portable.out, auto.out, "conv gradients portable vs auto", 1e-4);
});
