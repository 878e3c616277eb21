/** Unit tests of kernel-lib's core: seeded randomness, checks, plots, PNG and image grids, progress, mode. */
import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import { describe, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import {
  byMode,
  checkClose,
  CheckError,
  checkFlatTensors,
  checkNoLeak,
  checkShape,
  encodePng,
  heatmap,
  histogram,
  imageGrid,
  lineChart,
  mode,
  Progress,
  renderSvg,
  inlineRows,
  Rng,
  rng,
  scatter,
  seriesChart,
  setMode,
  setSeed,
} from "kernel-lib";

describe("random", () => {
  test("the same seed gives the same stream, another seed another stream", () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const xs = Array.from({ length: 5 }, () => a.uniform());
    assert.deepEqual(xs, Array.from({ length: 5 }, () => b.uniform()));
    assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c.uniform()));
  });

  test("uniform draws lie in [0, 1) with mean near 1/2; normal draws have mean 0 and variance 1", () => {
    const r = new Rng(1);
    const u = Array.from({ length: 20000 }, () => r.uniform());
    assert.ok(u.every((x) => x >= 0 && x < 1));
    const mean = u.reduce((s, x) => s + x, 0) / u.length;
    assert.ok(Math.abs(mean - 0.5) < 0.01, `uniform mean ${mean}`);
    const z = Array.from({ length: 20000 }, () => r.normal());
    const zm = z.reduce((s, x) => s + x, 0) / z.length;
    const zv = z.reduce((s, x) => s + (x - zm) ** 2, 0) / z.length;
    assert.ok(Math.abs(zm) < 0.03 && Math.abs(zv - 1) < 0.05, `normal mean ${zm}, variance ${zv}`);
  });

  test("setSeed resets the global generator, and seeded tf draws repeat", () => {
    setSeed(3);
    const s1 = rng().seed();
    const d1 = tf.tidy(() => tf.randomNormal([4], 0, 1, "float32", s1).arraySync());
    setSeed(3);
    const s2 = rng().seed();
    const d2 = tf.tidy(() => tf.randomNormal([4], 0, 1, "float32", s2).arraySync());
    assert.equal(s1, s2);
    assert.deepEqual(d1, d2);
  });

  test("shuffle is a permutation, int stays in range, bad arguments are refused", () => {
    const r = new Rng(5);
    const p = r.permutation(50);
    assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
    assert.notDeepEqual(p, Array.from({ length: 50 }, (_, i) => i));
    for (let i = 0; i < 1000; i++) assert.ok(r.int(3) < 3);
    assert.throws(() => r.int(0), /positive integer/);
    assert.throws(() => new Rng(NaN), /finite/);
  });

  test("forked generators are independent of later draws of the parent", () => {
    const a = new Rng(11);
    const child = a.fork();
    const first = child.uniform();
    const b = new Rng(11);
    const child2 = b.fork();
    b.uniform();
    assert.equal(child2.uniform(), first);
  });
});

describe("check", () => {
  test("checkClose passes within tolerance and names expected and actual when not", () => {
    assert.equal(checkClose([1, 2, 3], [1, 2, 3.0000001]) < 1e-6, true);
    assert.throws(
      () => checkClose([1, 2, 3.1], [1, 2, 3], { name: "v" }),
      (e: Error) => e instanceof CheckError && /v: expected 3 but got 3\.1\d* at flat index 2/.test(e.message),
    );
  });

  test("checkClose: NaN never passes, shapes must match, tensors are accepted", () => {
    assert.throws(() => checkClose([NaN], [NaN]), CheckError);
    assert.throws(() => checkClose([1, 2], [[1, 2]]), /shape \[2\] differs from expected shape \[1, 2\]/);
    const t = tf.tensor2d([[1, 2]]);
    checkClose(t, [[1, 2]]);
    t.dispose();
    assert.throws(() => checkClose([[1, 2], [3]] as number[][], [[1, 2], [3, 4]]), /ragged/);
  });

  test("checkShape accepts wildcards and reports both shapes", () => {
    checkShape({ shape: [2, 3, 4] }, [2, null, 4]);
    assert.throws(() => checkShape({ shape: [2, 3] }, [2, 4], "x"), /x: expected shape \[2, 4\] but got \[2, 3\]/);
  });

  test("checkNoLeak catches a leaked tensor and passes a tidy function", async () => {
    await checkNoLeak(() => tf.tidy(() => void tf.ones([3]).add(1)));
    let leaked: tf.Tensor | null = null;
    await assert.rejects(
      checkNoLeak(() => {
        leaked = tf.ones([3]);
      }, "leaky"),
      /leaky leaked tensors: .* \(\+1\)/,
    );
    tf.dispose(leaked!);
  });

  test("checkFlatTensors catches a step that keeps one tensor per call", async () => {
    const kept: tf.Tensor[] = [];
    await assert.rejects(checkFlatTensors(() => kept.push(tf.zeros([1])), 3, "growing"), /growing: .* not flat/);
    tf.dispose(kept);
    await checkFlatTensors(() => tf.tidy(() => void tf.zeros([1]).add(1)));
  });
});

describe("plot", () => {
  test("lineChart maps fields to encodings", () => {
    const spec = lineChart([{ step: 1, loss: 2 }], { x: "step", y: "loss", title: "t" }) as Record<string, any>;
    assert.equal(spec.encoding.x.field, "step");
    assert.equal(spec.encoding.y.field, "loss");
    assert.equal(spec.title, "t");
    assert.match(spec.$schema, /vega-lite\/v5/);
  });

  test("seriesChart turns NaN into gaps (null) and colours several series", () => {
    const spec = seriesChart({ train: [1, NaN], val: [2] }) as Record<string, any>;
    assert.deepEqual(
      spec.data.values.map((r: Record<string, unknown>) => r.value),
      [1, null, 2],
    );
    assert.equal(spec.encoding.color.field, "series");
  });

  test("heatmap keeps every cell, and rejects ragged matrices and wrong label counts", () => {
    const spec = heatmap([[0, 1], [2, 3]], { xLabels: ["a", "a"] }) as Record<string, any>;
    assert.equal(spec.data.values.length, 4);
    assert.deepEqual(spec.data.values[1], { col: 1, row: 0, colLabel: "a", rowLabel: "0", value: 1 });
    assert.throws(() => heatmap([[1, 2], [3]]), /row 1 has 1 values, row 0 has 2/);
    assert.throws(() => heatmap([[1, 2]], { xLabels: ["a"] }), /1 xLabels for 2 columns/);
  });

  test("scatter and histogram build valid specs that vega renders to SVG", async () => {
    const s = scatter([{ x: 0, y: 1, c: "a" }, { x: 1, y: 0, c: "b" }], { color: "c" });
    const h = histogram([1, 2, 2, 3]);
    for (const spec of [s, h, heatmap([[0.5]]), lineChart([{ x: 0, y: 0 }, { x: 1, y: 1 }])]) {
      const svg = await renderSvg(spec);
      assert.match(svg, /^<svg[\s\S]*<\/svg>$/);
    }
  });

  test("a chart with many points gets a compact SVG of the same marks; a small one keeps its per-mark descriptions", async () => {
    const r = new Rng(3);
    const points = (n: number) => Array.from({ length: n }, () => ({ x: r.normal(), y: r.normal() }));
    const small = await renderSvg(scatter(points(50)));
    assert.equal((small.match(/aria-roledescription="circle"/g) ?? []).length, 50);
    assert.match(small, /aria-label="x: /);
    const many = scatter(points(4000));
    assert.equal(inlineRows(many), 4000);
    assert.equal(inlineRows({ hconcat: [many, scatter(points(3))], datasets: { a: [1, 2] } }), 4005);
    const svg = await renderSvg(many);
    assert.match(svg, /^<svg[\s\S]*<\/svg>$/);
    assert.doesNotMatch(svg, /aria-label="x: /);
    const marks = svg.match(/<path transform="translate\([^)]*\)" d="M[^"]*"/g) ?? [];
    assert.equal(marks.length, 4000, "every point is still drawn");
    assert.ok(marks.every((m) => /translate\(-?\d+(\.\d{1,2})?,-?\d+(\.\d{1,2})?\)/.test(m)), "positions rounded to 1/100 pixel");
    assert.ok(svg.length < 4000 * 170, `compact SVG: ${svg.length} bytes for 4,000 points`);
  });
});

describe("png and image grids", () => {
  function decode(png: Buffer): { width: number; height: number; colorType: number; rows: Buffer } {
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    const colorType = png[25]!;
    const idatLen = png.readUInt32BE(33);
    assert.equal(png.subarray(37, 41).toString(), "IDAT");
    return { width, height, colorType, rows: inflateSync(png.subarray(41, 41 + idatLen)) };
  }

  test("encodePng writes the pixels it was given", () => {
    const pixels = Uint8Array.from([0, 255, 128, 7, 9, 11]);
    const d = decode(encodePng(pixels, 3, 2, 1));
    assert.equal(d.width, 3);
    assert.equal(d.height, 2);
    assert.equal(d.colorType, 0);
    assert.deepEqual([...d.rows], [0, 0, 255, 128, 0, 7, 9, 11]);
    assert.throws(() => encodePng(pixels, 4, 2, 1), /6 bytes for a 4x2x1 image/);
  });

  test("imageGrid lays out images with gaps, clips values and checks shapes", () => {
    const imgs = tf.tensor3d([[[0, 1]], [[2, -1]], [[0.5, 0.5]]]); // (3, 1, 2)
    const g = imageGrid(imgs, { cols: 2, scale: 1, gap: 1 });
    assert.equal(g.width, 2 * 2 + 1);
    assert.equal(g.height, 2 * 1 + 1);
    const d = decode(g.png);
    // row 0: image 0 (0, 255), gap (255), image 1 (255 clipped, 0 clipped)
    assert.deepEqual([...d.rows.subarray(1, 6)], [0, 255, 255, 255, 0]);
    imgs.dispose();
    const bad = tf.zeros([2, 3, 4, 5]);
    assert.throws(() => imageGrid(bad), /expected images of shape/);
    bad.dispose();
  });
});

describe("progress", () => {
  test("the progress line shows step, metrics, rate and ETA from the clock", () => {
    let now = 0;
    const p = new Progress({ total: 100, title: "fit", now: () => now, consoleEvery: 1e9 });
    now = 10000;
    p.update(20, { loss: 0.5 });
    assert.equal(p.line(), "fit: step 20/100 (20%) | loss 0.5000 | 2.00 steps/s | ETA 0:40");
    const chart = p.chart() as Record<string, any>;
    assert.deepEqual(chart.data.values, [{ step: 20, value: 0.5, metric: "loss" }]);
    assert.throws(() => new Progress({ total: 0 }), /total must be positive/);
  });
});

describe("mode", () => {
  test("quick by default, AIGC_MODE and setMode choose, bad values are refused", () => {
    const saved = process.env.AIGC_MODE;
    delete process.env.AIGC_MODE;
    assert.equal(mode(), "quick");
    process.env.AIGC_MODE = "full";
    assert.equal(byMode({ quick: 1, full: 2 }), 2);
    process.env.AIGC_MODE = "fast";
    assert.throws(() => mode(), /AIGC_MODE="fast" is not a mode/);
    setMode("quick");
    assert.equal(mode(), "quick");
    if (saved === undefined) delete process.env.AIGC_MODE;
    else process.env.AIGC_MODE = saved;
  });
});
