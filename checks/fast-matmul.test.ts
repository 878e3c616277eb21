/**
 * The fast CPU route (kernel-lib/src/runtime/native-matmul.ts, kernel-lib/native) against the cpu backend: matMul
 * for every transpose flag and broadcast batch axes, fused bias and activations, gradients, Sum,
 * Tanh, wasm memory growth in the middle of a run, the portable kernel, the no-addon repair, leaks.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { tf, useBestBackend, registerFastKernels, loadNative } from "kernel-lib";
import { evalOutputs, Fn } from "./lib/tensors";


/** Runs `f` on one backend; returns every output as a flat array. */
async function run(backend: "cpu" | "wasm", f: Fn): Promise<number[][]> {
  if (backend === "wasm") await useBestBackend({ force: "wasm", verbose: false });
  else await tf.setBackend("cpu");
  assert.equal(tf.getBackend(), backend);
  return evalOutputs(f);
}

function assertClose(actual: number[], expected: number[], what: string, tol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e)) {
      assert.ok(Number.isNaN(a), `${what}[${i}]: ${a}, expected NaN`);
      continue;
    }
    assert.ok(a === e || Math.abs(a - e) <= tol * (1 + Math.abs(e)), `${what}[${i}]: ${a} vs ${e}`);
  }
}

/** f on wasm (fast kernels) equals f on cpu, or `reference` on cpu when given. */
async function agree(f: Fn, what: string, tol = 1e-4, reference: Fn = f): Promise<void> {
  const cpu = await run("cpu", reference);
  const wasm = await run("wasm", f);
  assert.equal(wasm.length, cpu.length);
  cpu.forEach((c, i) => assertClose(wasm[i]!, c, `${what} output ${i}`, tol));
}

/** Deterministic values in [-1, 1) without touching tfjs's random state. */
function det(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.37) * 0.999), shape);
}

test("the addon is built and named in the backend summary", async () => {
  const loaded = loadNative();
  assert.ok(loaded.ok, loaded.ok ? "" : loaded.reason);
  const choice = await useBestBackend({ force: "wasm", verbose: false });
  assert.match(choice.summary, /wasm\+native \[.*native sgemm (AVX2|portable) \d+ threads?\]/);
});

test("hand-computed 2x2 product, for every transpose flag", async () => {
  const [[c]] = [await run("wasm", () => tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])))];
  assert.deepEqual(c, [19, 22, 43, 50]);
  const [[ct]] = [await run("wasm", () => tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]]), true, true))];
  // A^T B^T = (B A)^T: B A = [[23, 34], [31, 46]].
  assert.deepEqual(ct, [23, 31, 34, 46]);
});

test("matMul agrees with cpu for all transpose flags, edge sizes and broadcast batch axes", async () => {
  // (M, K, N): tile edges (6x16 micro-tiles), K past one 256-deep panel, N past one 3072-wide panel.
  const sizes: [number, number, number][] = [[1, 1, 1], [7, 5, 19], [13, 300, 33], [6, 16, 16], [2, 3, 3100], [65, 17, 1]];
  for (const [m, k, n] of sizes) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        await agree(() => tf.matMul(det(ta ? [k, m] : [m, k], 1), det(tb ? [n, k] : [k, n], 2), ta, tb), `matMul ${m}x${k}x${n} ${ta} ${tb}`);
      }
    }
  }
  const batches: [number[], number[]][] = [[[4], [4]], [[2, 1], [3]], [[1], [5]], [[3, 2], [1, 2]], [[], [2]], [[2], []]];
  for (const [ba, bb] of batches) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const a = [...ba, ...(ta ? [5, 7] : [7, 5])];
        const b = [...bb, ...(tb ? [9, 5] : [5, 9])];
        // The cpu backend broadcasts only a batch of 1, so the reference broadcasts explicitly first.
        const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(ba, bb);
        await agree(
          () => tf.matMul(det(a, 3), det(b, 4), ta, tb),
          `batch [${ba}] x [${bb}] ${ta} ${tb}`,
          1e-4,
          () => tf.matMul(tf.broadcastTo(det(a, 3), [...outBatch, ...a.slice(-2)]), tf.broadcastTo(det(b, 4), [...outBatch, ...b.slice(-2)]), ta, tb),
        );
      }
    }
  }
});

test("products large enough for all threads (a shared packed panel) agree with cpu", async () => {
  // (M, K, N): rows for every thread, K over two 256-deep panels, N past one 3072-wide panel.
  const sizes: [number, number, number][] = [[200, 300, 130], [30, 20, 3100], [128, 784, 64]];
  for (const [m, k, n] of sizes) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      await agree(() => tf.matMul(det(ta ? [k, m] : [m, k], 30), det(tb ? [n, k] : [k, n], 31), ta, tb), `large ${m}x${k}x${n} ${ta} ${tb}`);
    }
  }
  await agree(() => tf.matMul(det([2, 100, 300], 32), det([300, 50], 33)), "two large matrices in a batch");
  await agree(
    () => tf.fused.matMul({ a: det([96, 200], 34), b: det([200, 70], 35), bias: det([70], 36), activation: "relu" }),
    "large fused dense with relu",
  );
  await agree(
    () => tf.fused.matMul({ a: det([96, 200], 37), b: det([200, 70], 38), bias: det([96, 70], 39), activation: "elu" }),
    "large fused dense with a 2-D bias and elu",
  );
});

test("an empty inner dimension gives zeros, an empty output gives an empty tensor", async () => {
  const [[z]] = [await run("wasm", () => tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 2])))];
  assert.deepEqual(z, [0, 0, 0, 0, 0, 0]);
  const [[e]] = [await run("wasm", () => tf.matMul(tf.zeros([0, 4]), tf.ones([4, 2])))];
  assert.deepEqual(e, []);
});

test("fused matMul: bias shapes and every activation agree with cpu", async () => {
  const acts = ["linear", "relu", "relu6", "elu", "leakyrelu", "sigmoid", "prelu"] as const;
  for (const activation of acts) {
    for (const biasShape of [[9], [1], [7, 9], [2, 1, 9]]) {
      for (const [ta, tb] of [[false, false], [true, true]] as const) {
        await agree(
          () =>
            tf.fused.matMul({
              a: det(ta ? [2, 5, 7] : [2, 7, 5], 5).mul(4),
              b: det(tb ? [9, 5] : [5, 9], 6).mul(4),
              transposeA: ta,
              transposeB: tb,
              bias: det(biasShape, 7),
              activation,
              preluActivationWeights: activation === "prelu" ? det([9], 8) : undefined,
              leakyreluAlpha: 0.3,
            }),
          `fused ${activation} bias [${biasShape}] ${ta} ${tb}`,
        );
      }
    }
  }
});

test("gradients of a fused dense layer and a batched attention product agree with cpu", async () => {
  await agree(() => {
    const x = det([6, 5], 9);
    const w = det([5, 4], 10);
    const b = det([4], 11);
    const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(tf.mul(tf.fused.matMul({ a: xx as tf.Tensor2D, b: ww as tf.Tensor2D, bias: bb, activation: "relu" }), det([6, 4], 12))),
    );
    return g([x, w, b]);
  }, "dense grads");
  await agree(() => {
    const q = det([2, 3, 8, 4], 13);
    const k = det([2, 3, 8, 4], 14);
    const v = det([2, 3, 8, 4], 15);
    const g = tf.grads((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => {
      const att = tf.softmax(tf.matMul(qq, kk, false, true).div(2));
      return tf.sum(tf.mul(tf.matMul(att, vv), det([2, 3, 8, 4], 16)));
    });
    return g([q, k, v]);
  }, "attention grads");
});

test("Sum over leading, trailing, middle and non-adjacent axes agrees with cpu", async () => {
  const x = () => det([4, 5, 6, 70], 17);
  const cases: (number | number[])[] = [0, [0, 1], 3, [2, 3], 1, [1, 2], [0, 2], [0, 1, 2, 3], -1];
  for (const axis of cases) {
    for (const keepDims of [false, true]) {
      await agree(() => tf.sum(x(), axis, keepDims), `sum axis ${JSON.stringify(axis)} keepDims ${keepDims}`);
    }
  }
  await agree(() => tf.sum(det([3000, 40], 18), 0), "sum of many rows (threaded)");
  await agree(() => tf.sum(tf.tensor2d([[1, 2], [3, 4]], [2, 2], "int32"), 0), "int32 sum (the wasm kernel)");
  const [[s]] = [await run("wasm", () => tf.sum(tf.tensor2d([[1, 2, 3], [4, 5, 6]]), 0))];
  assert.deepEqual(s, [5, 7, 9]);
});

test("Tanh agrees with cpu, including tiny, huge, infinite and NaN inputs", async () => {
  const special = [0, -0, 1e-30, -3e-4, 5e-4, 0.5, -1, 3, -7.9, 8, 20, -100, Infinity, -Infinity, NaN];
  const many = Array.from({ length: 100003 }, (_, i) => (i - 50000) / 5000);
  await agree(() => tf.tanh(tf.tensor1d([...special, ...many])), "tanh", 2e-6);
});

test("results stay right when the wasm memory grows in the middle of a run", async () => {
  await useBestBackend({ force: "wasm", verbose: false });
  const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
  const a = det([3, 4], 19);
  const b = det([4, 2], 20);
  const before = heap();
  // Outputs large enough that their allocation must grow the heap, interleaved with small products
  // whose inputs were written before the growth.
  const big: tf.Tensor[] = [];
  const small: number[][] = [];
  for (let i = 0; i < 4; i++) {
    big.push(tf.matMul(tf.ones([1, 1]), tf.ones([1, Math.ceil(before / 4 / 3)])));
    small.push(Array.from(tf.matMul(a, b, false, false).dataSync()));
  }
  assert.ok(heap() > before, `heap grew (${before} -> ${heap()})`);
  const expected = Array.from(tf.tidy(() => tf.matMul(a, b)).dataSync());
  await tf.setBackend("cpu");
  const cpu = Array.from(tf.matMul(tf.tensor(Array.from(expected), [3, 2]), tf.eye(2)).dataSync());
  for (const s of small) assertClose(s, cpu, "product after growth");
  await useBestBackend({ force: "wasm", verbose: false });
  assert.deepEqual(Array.from(big[3]!.slice([0, 0], [1, 3]).dataSync()), [1, 1, 1]);
  tf.dispose([...big, a, b]);
});

test("no tensors or wasm buffers leak over training steps", async () => {
  await useBestBackend({ force: "wasm", verbose: false });
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 16, inputShape: [8], activation: "relu" }), tf.layers.dense({ units: 3 })] });
  model.compile({ optimizer: tf.train.adam(1e-2), loss: "meanSquaredError" });
  const x = det([32, 8], 21);
  const y = det([32, 3], 22);
  await model.trainOnBatch(x, y);
  const tensors = tf.memory().numTensors;
  const buffers = tf.engine().backend.numDataIds();
  for (let i = 0; i < 5; i++) await model.trainOnBatch(x, y);
  assert.equal(tf.memory().numTensors, tensors, "tensors");
  assert.equal(tf.engine().backend.numDataIds(), buffers, "wasm buffers");
  model.dispose();
  tf.dispose([x, y]);
});

test("without the addon, the explicit-transpose repair agrees with cpu and does not leak", async () => {
  process.env.AIGC_NATIVE = "0";
  try {
    const fast = registerFastKernels();
    assert.equal(fast.native, false);
    assert.match(fast.detail, /AIGC_NATIVE=0; explicit-transpose matMul/);
    for (const [ta, tb] of [[false, true], [true, false], [true, true]] as const) {
      await agree(() => tf.matMul(det(ta ? [2, 5, 7] : [2, 7, 5], 23), det(tb ? [2, 9, 5] : [2, 5, 9], 24), ta, tb), `repaired ${ta} ${tb}`);
      await agree(
        () => tf.fused.matMul({ a: det(ta ? [5, 7] : [7, 5], 25), b: det(tb ? [9, 5] : [5, 9], 26), transposeA: ta, transposeB: tb, bias: det([9], 27), activation: "relu" }),
        `repaired fused ${ta} ${tb}`,
      );
    }
    await useBestBackend({ force: "wasm", verbose: false });
    const buffers = tf.engine().backend.numDataIds();
    tf.tidy(() => tf.matMul(det([4, 3], 28), det([5, 3], 29), false, true).dataSync());
    assert.equal(tf.engine().backend.numDataIds(), buffers, "wasm buffers after a repaired matMul");
  } finally {
    delete process.env.AIGC_NATIVE;
    assert.equal(registerFastKernels().native, true);
  }
});

test("the portable (non-AVX2) kernels agree with the AVX2 ones", () => {
  // A child process: the SIMD choice is made once per process.
  const script = `
    const { tf, useBestBackend } = require("kernel-lib");
    (async () => {
      await useBestBackend({ force: "wasm", verbose: false });
      const a = tf.tensor(Array.from({ length: 37 * 300 }, (_, i) => Math.sin(i)), [37, 300]);
      const b = tf.tensor(Array.from({ length: 300 * 45 }, (_, i) => Math.cos(i)), [45, 300]);
      const out = { summary: (await useBestBackend({ verbose: false })).summary,
        mm: Array.from(tf.matMul(a, b, false, true).dataSync()),
        th: Array.from(tf.tanh(tf.linspace(-9, 9, 70001)).dataSync()) };
      process.stdout.write(JSON.stringify(out));
    })();`;
  const runWith = (simd: string) =>
    JSON.parse(execFileSync(process.execPath, ["-e", script], { env: { ...process.env, AIGC_NATIVE_SIMD: simd }, encoding: "utf8", maxBuffer: 1 << 26 })) as {
      summary: string;
      mm: number[];
      th: number[];
    };
  const portable = runWith("portable");
  const auto = runWith("auto");
  assert.match(portable.summary, /native sgemm portable/);
  assertClose(portable.mm, auto.mm, "matMul portable vs auto", 1e-5);
  assertClose(portable.th, auto.th, "tanh portable vs auto", 1e-6);
});
