/**
 * Profiles one training step of a benchmark workload (scripts/bench-workloads.ts) on the current backend: the
 * kernels it dispatches (count and time, from tf.profile) and the median step time, once with tf.train.adam and
 * once with kernel-lib's fused Adam, so the effect of fusing the optimizer shows kernel by kernel.
 *
 *   npx tsc -b && node build/scripts/profile-step.js [--workloads vae,gan] [--steps 20] [--top 12]
 */
import { tf, useBestBackend } from "kernel-lib";
import { isWorkload, makeWorkload, WORKLOADS, WorkloadName } from "./bench-workloads";
import { commandLineOrExit, Options } from "./options";

export const USAGE = `usage: node build/scripts/profile-step.js [options]

Profiles one training step of a benchmark workload, kernel by kernel (calls and time, from tf.profile), with
tf.train.adam and with kernel-lib's fused Adam, and prints the median step time of each.

  --workloads LIST   comma-separated, from ${WORKLOADS.join(", ")} (default vae,gan)
  --steps N          timed steps for the median (default 20)
  --top N            kernels listed per table, the slowest first (default 12)
  -h, --help         print this and exit`;

interface Args {
  workloads: WorkloadName[];
  steps: number;
  top: number;
}

function parseArgs(argv: string[]): Args {
  const o = new Options(argv, ["workloads", "steps", "top"]);
  const workloads = (o.string("workloads") ?? "vae,gan").split(",").map((w) => w.trim());
  const unknown = workloads.filter((w) => !isWorkload(w));
  if (unknown.length > 0) throw new Error(`--workloads: unknown ${unknown.join(", ")}; choose from ${WORKLOADS.join(", ")}`);
  return { workloads: workloads as WorkloadName[], steps: o.number("steps", 20, { min: 1 }), top: o.number("top", 12, { min: 1 }) };
}

async function profile(name: WorkloadName, adam: "fused" | "tfjs", steps: number, top: number): Promise<void> {
  const w = makeWorkload(name, { adam });
  for (let i = 0; i < 3; i++) await w.step(); // warm up (Adam's slots, kernel setup)
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await w.step();
    times.push(performance.now() - t0);
  }
  const info = await tf.profile(() => w.step());
  const byName = new Map<string, { count: number; ms: number }>();
  for (const k of info.kernels) {
    const e = byName.get(k.name) ?? { count: 0, ms: 0 };
    e.count += 1;
    e.ms += typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    byName.set(k.name, e);
  }
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  const total = [...byName.values()].reduce((s, e) => s + e.ms, 0);
  console.log(`\n${name}, ${adam === "fused" ? "fused Adam" : "tf.train.adam"}: median step ${median.toFixed(1)} ms over ${steps} steps; ${info.kernels.length} kernel calls in one step, ${total.toFixed(1)} ms inside kernels`);
  console.log("| kernel | calls | ms |\n|---|---:|---:|");
  for (const [k, e] of [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) console.log(`| ${k} | ${e.count} | ${e.ms.toFixed(2)} |`);
  w.dispose();
}

async function main(): Promise<void> {
  const { workloads, steps, top } = commandLineOrExit("profile-step", USAGE, parseArgs);
  await useBestBackend();
  for (const name of workloads) for (const adam of ["tfjs", "fused"] as const) await profile(name, adam, steps, top);
}

if (require.main === module) main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
