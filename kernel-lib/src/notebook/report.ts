/**
 * Headline numbers for the lesson reports (`npm start`). A lesson calls {@link reportMetric} for the few
 * numbers a reader should compare across runs (final validation loss, ELBO, modes covered); each becomes
 * one display output whose only data is `text/plain`, which every front end shows, with the number itself
 * in the output's metadata under {@link METRIC_KEY}; the report collects those into the lesson's header and
 * the index. (A MIME type of our own would be picked first by VS Code, which sorts `application/vnd.*`
 * ahead of `text/plain`, and JupyterLab would save it in every notebook.) {@link runInfo} is
 * what the report asks the kernel at the end of a lesson: seed, backend, mode and versions.
 * First used in notebooks/04-vae.ipynb (its test ELBO); every lesson with a trained model reports its numbers so.
 */
import * as tf from "@tensorflow/tfjs";
import { sendDisplay } from "./display";
import { currentBackend } from "../runtime/backend";
import { Mode, mode } from "../runtime/mode";
import { currentSeed } from "../runtime/random";

/** The key of a headline number in a display_data output's metadata (its data is text/plain only). */
export const METRIC_KEY = "aigc-lab.metric";

/** One headline number, as it travels in the output metadata under {@link METRIC_KEY}. */
export interface Metric {
  /** What was measured, e.g. "validation loss". */
  name: string;
  /** The number; a non-finite one travels as the string "NaN", "Infinity" or "-Infinity" (JSON has none). */
  value: number | string;
  /** Unit or qualifier shown after the value, e.g. "nats" or "of 8 modes". Default none. */
  unit?: string;
}

export interface MetricOptions {
  /** See {@link Metric.unit}. Default none. */
  unit?: string;
  /** Significant digits in the text/plain line. Default 6. */
  digits?: number;
}

function formatValue(value: number | string, digits: number): string {
  if (typeof value === "string") return value;
  return Number.isInteger(value) ? String(value) : Number(value.toPrecision(digits)).toString();
}

/**
 * Publishes a headline number of the lesson: `reportMetric("validation loss", 1.234)`. The report shows
 * every metric of a lesson in its header and the index; outside a kernel the line is printed. Returns the
 * metric as sent.
 */
export function reportMetric(name: string, value: number, options: MetricOptions = {}): Metric {
  if (typeof name !== "string" || name.trim() === "") throw new TypeError("reportMetric: name must be a non-empty string");
  if (typeof value !== "number") throw new TypeError(`reportMetric("${name}"): value must be a number, got ${typeof value}`);
  const metric: Metric = { name: name.trim(), value: Number.isFinite(value) ? value : String(value), ...(options.unit ? { unit: options.unit } : {}) };
  const text = `${metric.name}: ${formatValue(metric.value, options.digits ?? 6)}${metric.unit ? " " + metric.unit : ""}`;
  sendDisplay({ data: { "text/plain": text }, metadata: { [METRIC_KEY]: metric } });
  return metric;
}

/** What a lesson ran with: the report's header shows it. */
export interface RunInfo {
  /** The seed last passed to setSeed (0 when the lesson never set one). */
  seed: number;
  /** The backend useBestBackend chose, with its detail (e.g. "wasm [SIMD, 1 thread]"); null before it ran. */
  backend: string | null;
  mode: Mode;
  /** Versions of @tensorflow/tfjs and kernel-lib as loaded in the kernel. */
  versions: { tfjs: string; "kernel-lib": string };
}

/** The seed, backend, mode and library versions of this kernel, for the report header. */
export function runInfo(): RunInfo {
  const choice = currentBackend();
  const label = choice ? (/^kernel-lib backend: ([^;]+)/.exec(choice.summary)?.[1] ?? choice.name) : null;
  // Read at run time: the package file sits outside rootDir, and the installed copy is what ran.
  const pkg = require("../../package.json") as { version: string };
  return { seed: currentSeed(), backend: label, mode: mode(), versions: { tfjs: tf.version.tfjs, "kernel-lib": pkg.version } };
}
