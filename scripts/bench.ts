/**
 * `npm run bench`: the workloads of scripts/bench-workloads.ts on every backend that works here, and
 * in PyTorch (scripts/bench_torch.py) when `python3 -c "import torch"` works, in the same run.
 *
 *   npm run bench                      3 rounds, about 1.5 s per backend, workload and round
 *   npm run bench -- --smoke           1 round, short: a check that everything runs
 *   npm run bench -- --rounds 5 --ms 3000 --engines wasm+native,pytorch --workloads vae,gan
 *   npm run bench -- --baseline pytorch-cuda      ratios relative to PyTorch on CUDA (GPU machines)
 *   AIGC_THREADS=1 npm run bench                   one thread each (native kernels and PyTorch): a fairer
 *                                                  comparison while other programs load the machine
 *
 * Each backend runs in its own worker process (tfjs allows one active backend per process), and the
 * rounds interleave them: round r measures every workload on every backend, in an order rotated by
 * r, so a burst of load from another process hits all of them alike. Within a round, a step shorter
 * than a tenth of the budget is timed with nodemark (which drops JIT warm-up samples and subtracts
 * its own overhead); a longer one is timed step by step. The report gives, per backend and workload,
 * the median over rounds and the spread (fastest and slowest round), and the ratio to PyTorch.
 * Output: a Markdown table on stdout and in reports/bench.md, a chart in reports/bench.html, the raw
 * numbers in reports/bench.json. No test asserts a time.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import nodemark from "nodemark";
import { renderSvg, tf, useBestBackend } from "kernel-lib";
import { isWorkload, makeWorkload, sgemmFlops, WORKLOADS, type Workload, type WorkloadName } from "./bench-workloads";
import { commandLineOrExit, OptionError, Options as CommandOptions } from "./options";

/** A backend to compare: a tfjs backend forced through AIGC_BACKEND, or PyTorch. */
interface Engine {
  id: string;
  kind: "tfjs" | "python";
  env: Record<string, string>;
}

const ENGINES: Engine[] = [
  { id: "wasm+native", kind: "tfjs", env: { AIGC_BACKEND: "wasm" } },
  { id: "wasm", kind: "tfjs", env: { AIGC_BACKEND: "wasm", AIGC_NATIVE: "0" } },
  { id: "webgpu", kind: "tfjs", env: { AIGC_BACKEND: "webgpu" } },
  { id: "tfjs-node", kind: "tfjs", env: { AIGC_BACKEND: "tfjs-node" } },
  { id: "tfjs-node-gpu", kind: "tfjs", env: { AIGC_BACKEND: "tfjs-node-gpu" } },
  { id: "tfjs-cpu", kind: "tfjs", env: { AIGC_BACKEND: "cpu" } },
  // OpenMP threads that spin between parallel regions steal the core the tfjs workers need.
  { id: "pytorch", kind: "python", env: { OMP_WAIT_POLICY: "passive" } },
  { id: "pytorch-cuda", kind: "python", env: { OMP_WAIT_POLICY: "passive", AIGC_TORCH_DEVICE: "cuda" } },
];

interface Options {
  smoke: boolean;
  rounds: number;
  ms: number;
  engines: string[];
  workloads: WorkloadName[];
  /** The engine the ratios are relative to. Default "pytorch" (CPU, OpenBLAS). */
  baseline: string;
  out: string;
}

export const USAGE = `usage: npm run bench -- [options]

Times the workloads of scripts/bench-workloads.ts on every backend that works here, and in PyTorch when
python3 has torch; writes reports/bench.md, bench.html and bench.json.

  --smoke            1 short round: a check that everything runs (the plain-JS cpu backend is left out)
  --rounds N         rounds (default 3; 1 with --smoke)
  --ms N             time budget per backend, workload and round, in ms (default 1500; 60 with --smoke)
  --engines LIST     comma-separated, from ${ENGINES.map((e) => e.id).join(", ")} (default all)
  --workloads LIST   comma-separated, from ${WORKLOADS.join(", ")} or sgemm-N (default all)
  --baseline ID      the engine the ratios are relative to (default pytorch)
  --out DIR          where the reports go (default reports)
  -h, --help         print this and exit`;

function parseOptions(argv: string[]): Options {
  const o = new CommandOptions(argv, ["rounds", "ms", "engines", "workloads", "baseline", "out"], ["smoke"]);
  const smoke = o.flag("smoke");
  // The plain-JS cpu backend takes ~13 s per char-GPT step: part of the full run, not of the smoke test.
  const defaultEngines = ENGINES.map((e) => e.id).filter((id) => !smoke || id !== "tfjs-cpu");
  const workloads = (o.string("workloads")?.split(",") ?? [...WORKLOADS]) as WorkloadName[];
  for (const w of workloads) if (!isWorkload(w)) throw new OptionError(`unknown workload ${w}; use ${WORKLOADS.join(", ")} or sgemm-N`);
  return {
    smoke,
    rounds: o.number("rounds", smoke ? 1 : 3, { min: 1 }),
    ms: o.number("ms", smoke ? 60 : 1500, { min: 1 }),
    engines: o.string("engines")?.split(",") ?? defaultEngines,
    workloads,
    baseline: o.string("baseline") ?? "pytorch",
    out: o.string("out") ?? "reports",
  };
}

// ---------------------------------------------------------------------------------------------
// Worker side: `node build/scripts/bench.js --worker` answers one JSON request per stdin line.

type Request = { op: "info" } | { op: "setup"; workload: WorkloadName; warmup: number } | { op: "measure"; workload: WorkloadName; ms: number };

/** One round's timing: nodemark's mean of many steps, or each step's time when steps are slow. */
type Measurement = { method: "nodemark"; meanMs: number; margin: number; count: number } | { method: "steps"; timesMs: number[] };

async function worker(): Promise<void> {
  const workloads = new Map<WorkloadName, { w: Workload; lastMs: number }>();
  const reply = (o: object) => process.stdout.write(JSON.stringify(o) + "\n");
  for await (const line of createInterface({ input: process.stdin })) {
    const req = JSON.parse(line) as Request;
    try {
      if (req.op === "info") {
        const choice = await useBestBackend({ verbose: false });
        reply({ summary: choice.summary.replace(/^kernel-lib backend: /, "").replace(/; forced by AIGC_BACKEND$/, "") });
      } else if (req.op === "setup") {
        const w = makeWorkload(req.workload);
        let lastMs = 0;
        for (let i = 0; i < req.warmup; i++) {
          const t0 = performance.now();
          await w.step();
          lastMs = performance.now() - t0;
        }
        workloads.set(req.workload, { w, lastMs });
        reply({ ok: true, numTensors: tf.memory().numTensors });
      } else {
        const entry = workloads.get(req.workload);
        if (!entry) throw new Error(`${req.workload} is not set up`);
        let m: Measurement;
        if (entry.lastMs * 10 < req.ms) {
          const r = await nodemark((cb: (e?: unknown) => void) => void entry.w.step().then(() => cb(), cb), undefined, Math.round(req.ms));
          m = { method: "nodemark", meanMs: r.mean / 1e6, margin: r.error, count: r.count };
        } else {
          const timesMs: number[] = [];
          const start = performance.now();
          do {
            const t0 = performance.now();
            await entry.w.step();
            timesMs.push(performance.now() - t0);
          } while (performance.now() - start < req.ms);
          entry.lastMs = timesMs[timesMs.length - 1]!;
          m = { method: "steps", timesMs };
        }
        reply(m);
      }
    } catch (e) {
      reply({ error: String(e instanceof Error ? e.message : e).split("\n")[0] });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Driver side.

/** A worker process speaking the line protocol above (bench.js --worker, or bench_torch.py). */
class Worker {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: ((line: string) => void)[] = [];
  private stderr = "";

  constructor(engine: Engine, python: string) {
    const env = { ...process.env, ...engine.env };
    this.child =
      engine.kind === "python"
        ? spawn(python, [path.join(__dirname, "..", "..", "scripts", "bench_torch.py")], { env })
        : spawn(process.execPath, [__filename, "--worker"], { env });
    createInterface({ input: this.child.stdout }).on("line", (line) => this.pending.shift()?.(line));
    this.child.stderr.on("data", (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
    this.child.on("exit", () => {
      for (const p of this.pending.splice(0)) p(JSON.stringify({ error: `worker exited: ${this.stderr.trim().split("\n").pop() ?? ""}` }));
    });
  }

  request<T>(req: object): Promise<T & { error?: string }> {
    return new Promise((resolve) => {
      this.pending.push((line) => resolve(JSON.parse(line) as T & { error?: string }));
      this.child.stdin.write(JSON.stringify(req) + "\n");
    });
  }

  close(): void {
    this.child.stdin.end();
  }
}

/** One (engine, workload) cell: a time per round, in ms per step. */
interface Cell {
  rounds: number[];
  detail: string[];
  error?: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};

/**
 * A Python that can import torch: $AIGC_PYTHON, `python3` on PATH, else Debian's /usr/bin/python3
 * (python3-torch installs there, and a pyenv or venv python3 earlier on PATH would not see it).
 */
function findTorchPython(): { python: string } | { why: string } {
  let why = "python3 not found";
  for (const python of [process.env.AIGC_PYTHON, "python3", "/usr/bin/python3"]) {
    if (!python) continue;
    const r = spawnSync(python, ["-c", "import torch"], { encoding: "utf8" });
    if (r.status === 0) return { python };
    if (!r.error) why = r.stderr.trim().split("\n").pop() ?? `${python} failed`;
  }
  return { why };
}

const fmtMs = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

function loadLine(): string {
  const [a, b, c] = os.loadavg();
  return `${a!.toFixed(2)} ${b!.toFixed(2)} ${c!.toFixed(2)}`;
}

async function main(): Promise<void> {
  const opts = commandLineOrExit("bench", USAGE, parseOptions);
  const started = new Date();
  const loadBefore = loadLine();
  const engines: { engine: Engine; worker: Worker; summary: string }[] = [];
  const unavailable: string[] = [];
  for (const id of opts.engines) {
    const engine = ENGINES.find((e) => e.id === id);
    if (!engine) throw new Error(`unknown engine ${id}; use ${ENGINES.map((e) => e.id).join(", ")}`);
    let python = "";
    if (engine.kind === "python") {
      const found = findTorchPython();
      if ("why" in found) {
        unavailable.push(`pytorch (${found.why}; Debian: apt-get install python3-torch libopenblas0-pthread)`);
        continue;
      }
      python = found.python;
    }
    const worker = new Worker(engine, python);
    const info = await worker.request<{ summary: string }>({ op: "info" });
    if (info.error) {
      unavailable.push(`${id} (${info.error.replace(/^AIGC_BACKEND=\S+ was requested but it /, "")})`);
      worker.close();
      continue;
    }
    engines.push({ engine, worker, summary: info.summary });
    console.error(`bench: ${id}: ${info.summary}`);
  }
  for (const u of unavailable) console.error(`bench: skipped ${u}`);

  const cells = new Map<string, Cell>();
  const key = (e: string, w: string) => `${e}|${w}`;
  for (const { engine } of engines) for (const w of opts.workloads) cells.set(key(engine.id, w), { rounds: [], detail: [] });
  for (let round = 0; round < opts.rounds; round++) {
    for (const w of opts.workloads) {
      // Rotate the order each round so no backend always runs right after a heavy one.
      const order = engines.map((_, i) => engines[(i + round) % engines.length]!);
      for (const { engine, worker } of order) {
        const cell = cells.get(key(engine.id, w))!;
        if (cell.error) continue;
        if (round === 0) {
          const setup = await worker.request<{ ok: boolean }>({ op: "setup", workload: w, warmup: opts.smoke ? 1 : 2 });
          if (setup.error) {
            cell.error = setup.error;
            continue;
          }
        }
        const m = await worker.request<Measurement & { times_ms?: number[] }>({ op: "measure", workload: w, ms: opts.ms });
        if (m.error) {
          cell.error = m.error;
          continue;
        }
        if (m.method === "nodemark") {
          cell.rounds.push(m.meanMs);
          cell.detail.push(`nodemark ${m.count} steps ±${(m.margin * 100).toFixed(1)}%`);
        } else {
          const times = m.timesMs ?? m.times_ms ?? [];
          cell.rounds.push(median(times));
          cell.detail.push(`${times.length} step${times.length === 1 ? "" : "s"}`);
        }
        console.error(`bench: round ${round + 1}/${opts.rounds} ${w} ${engine.id}: ${fmtMs(cell.rounds[cell.rounds.length - 1]!)} ms`);
      }
    }
    // After every round, so a run stopped by a time limit still leaves its numbers.
    await report(opts, { started, loadBefore, roundsDone: round + 1, engines, unavailable, cells }, round === opts.rounds - 1);
  }
  for (const { worker } of engines) worker.close();
}

/** Writes the Markdown table (stdout when final), bench.md, bench.html and bench.json. */
async function report(
  opts: Options,
  ctx: { started: Date; loadBefore: string; roundsDone: number; engines: { engine: Engine; summary: string }[]; unavailable: string[]; cells: Map<string, Cell> },
  final: boolean,
): Promise<void> {
  const { started, loadBefore, engines, unavailable, cells } = ctx;
  const key = (e: string, w: string) => `${e}|${w}`;
  const base = opts.baseline;
  const hasTorch = engines.some((e) => e.engine.id === base);
  const baseName = base === "pytorch" ? "PyTorch" : base;
  const stat = (e: string, w: string) => {
    const c = cells.get(key(e, w));
    if (!c || c.error || c.rounds.length === 0) return null;
    return { med: median(c.rounds), lo: Math.min(...c.rounds), hi: Math.max(...c.rounds) };
  };
  const lines: string[] = [];
  lines.push(`# Benchmark, ${started.toISOString().slice(0, 16).replace("T", " ")} UTC${opts.smoke ? " (smoke run: too short to trust)" : ""}`);
  lines.push("");
  lines.push(`Machine: ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores, Node ${process.version}. Load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadLine()}.`);
  lines.push(`${ctx.roundsDone} of ${opts.rounds} interleaved round(s), about ${opts.ms} ms per backend, workload and round; each cell: median over rounds, then (fastest-slowest round).`);
  lines.push("");
  for (const { engine, summary } of engines) lines.push(`- **${engine.id}**: ${summary}`);
  for (const u of unavailable) lines.push(`- not measured: ${u}`);
  lines.push("");
  const ids = engines.map((e) => e.engine.id);
  lines.push(`| workload | ${ids.map((id) => (hasTorch && id !== base ? `${id} (x ${baseName})` : id)).join(" | ")} |`);
  lines.push(`|---|${ids.map(() => "---:").join("|")}|`);
  const chart: { workload: string; engine: string; value: number }[] = [];
  for (const w of opts.workloads) {
    const torch = hasTorch ? stat(base, w) : null;
    const row = ids.map((id) => {
      const s = stat(id, w);
      if (!s) return cells.get(key(id, w))?.error ? "error" : "-";
      let text = `${fmtMs(s.med)} ms (${fmtMs(s.lo)}-${fmtMs(s.hi)})`;
      if (w.startsWith("sgemm-")) text += `, ${(sgemmFlops(Number(w.slice(6))) / (s.med * 1e6)).toFixed(1)} GFLOP/s`;
      if (torch && id !== base) text += `, **${(s.med / torch.med).toFixed(2)}x**`;
      chart.push({ workload: w, engine: id, value: torch ? s.med / torch.med : s.med });
      return text;
    });
    lines.push(`| ${w} | ${row.join(" | ")} |`);
  }
  const errors = [...cells.entries()].filter(([, c]) => c.error);
  if (errors.length) {
    lines.push("");
    for (const [k, c] of errors) lines.push(`- error in ${k.replace("|", " / ")}: ${c.error}`);
  }
  const markdown = lines.join("\n") + "\n";
  if (final) console.log(markdown);

  fs.mkdirSync(opts.out, { recursive: true });
  fs.writeFileSync(path.join(opts.out, "bench.md"), markdown);
  fs.writeFileSync(
    path.join(opts.out, "bench.json"),
    JSON.stringify({ started, options: opts, engines: engines.map((e) => ({ id: e.engine.id, summary: e.summary })), unavailable, cells: Object.fromEntries(cells) }, null, 1),
  );
  // Points on a log axis (bars need a zero the log scale lacks), with a rule at 1 = as fast as the baseline.
  const points = {
    mark: { type: "point", filled: true, size: 70 },
    encoding: {
      y: { field: "workload", type: "nominal", sort: opts.workloads, title: null },
      x: { field: "value", type: "quantitative", scale: { type: "log" }, title: hasTorch ? `x ${baseName} (log scale)` : "ms (log scale)" },
      color: { field: "engine", type: "nominal" },
      shape: { field: "engine", type: "nominal" },
      tooltip: [{ field: "engine" }, { field: "workload" }, { field: "value", format: ".2f" }],
    },
  };
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: hasTorch ? `Step time relative to ${baseName} (1 = as fast; lower is better)` : "Step time, ms (lower is better)",
    data: { values: chart.filter((c) => c.engine !== base || !hasTorch) },
    layer: hasTorch ? [points, { mark: { type: "rule", strokeDash: [4, 3] }, encoding: { x: { datum: 1 } } }] : [points],
    width: 560,
    height: { step: 26 },
  };
  const svg = await renderSvg(spec as Parameters<typeof renderSvg>[0]);
  const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  fs.writeFileSync(
    path.join(opts.out, "bench.html"),
    `<!doctype html><meta charset="utf-8"><title>aigc-lab benchmark</title>\n<body style="font-family:sans-serif;max-width:60em;margin:2em auto">\n${svg}\n<pre>${escape(markdown)}</pre>\n</body>\n`,
  );
  if (final) console.error(`bench: wrote ${path.join(opts.out, "bench.md")}, bench.html, bench.json`);
}

if (process.argv.includes("--worker")) {
  void worker();
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
