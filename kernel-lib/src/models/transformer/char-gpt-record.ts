/**
 * What a char-gpt checkpoint records about its training, and how notebooks/02-transformer.ipynb shows it: the
 * record read with its fields checked, its lines for the lesson (the command as a learner would type it, the
 * backend in short), its training curve as a chart, and the record full mode writes with a retrained model.
 */
import { lineChart, Spec } from "../../notebook/plot";
import { learnerCommand, shortBackend } from "../../notebook/records";
import { CharGPT } from "./char-gpt";
import { CharGPTTrainResult } from "./char-lm";

/** One point of a recorded curve: the steps done and the value then. */
export interface CurvePoint {
  step: number;
  value: number;
}

/** The training record of a char-gpt checkpoint (its `extra`, written by scripts/train-char-gpt.ts or lesson 02). */
export interface CharGPTRecord {
  /** Mean cross-entropy over the whole validation split when the checkpoint was made, in nats per character. */
  valLoss: number;
  /** The command (or notebook) that made it, as recorded. */
  script?: string;
  /** The backend it trained on, as recorded. */
  backend?: string;
  trainedSeconds?: number;
  secondsPerStep?: number;
  /** Curves by name: "loss" (the batch loss) and "val" (the periodic validation estimate). */
  history?: Record<string, CurvePoint[]>;
}

const finiteOrUndefined = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? x : undefined);

/** Reads a checkpoint's `extra` as a {@link CharGPTRecord}; throws a TypeError naming a missing or malformed field. */
export function charGPTRecord(extra: Record<string, unknown>): CharGPTRecord {
  const valLoss = extra["valLoss"];
  if (typeof valLoss !== "number" || !Number.isFinite(valLoss)) {
    throw new TypeError(`charGPTRecord: the record's valLoss must be a finite number, got ${JSON.stringify(valLoss)}`);
  }
  const record: CharGPTRecord = { valLoss };
  for (const key of ["script", "backend"] as const) {
    const v = extra[key];
    if (v !== undefined && typeof v !== "string") throw new TypeError(`charGPTRecord: the record's ${key} must be a string, got ${JSON.stringify(v)}`);
    if (v !== undefined) record[key] = v;
  }
  const [trainedSeconds, secondsPerStep] = [finiteOrUndefined(extra["trainedSeconds"]), finiteOrUndefined(extra["secondsPerStep"])];
  if (trainedSeconds !== undefined) record.trainedSeconds = trainedSeconds;
  if (secondsPerStep !== undefined) record.secondsPerStep = secondsPerStep;
  const history = extra["history"];
  if (history !== undefined) {
    if (typeof history !== "object" || history === null) throw new TypeError("charGPTRecord: the record's history must be an object of curves");
    for (const [name, points] of Object.entries(history)) {
      const ok = Array.isArray(points) && points.every((p) => typeof p?.step === "number" && typeof p?.value === "number");
      if (!ok) throw new TypeError(`charGPTRecord: the record's history.${name} must be a list of { step, value } numbers`);
    }
    record.history = history as Record<string, CurvePoint[]>;
  }
  return record;
}

/**
 * The lines a lesson prints about a shipped checkpoint of `steps` steps: who made it (the command through
 * {@link learnerCommand}) and on which backend ({@link shortBackend}), and how long it trained.
 */
export function describeCharGPTRecord(record: CharGPTRecord, steps: number): string[] {
  const missing = "(not recorded)";
  const fixed = (x: number | undefined, digits: number) => (x === undefined ? missing : x.toFixed(digits));
  const by = record.script === undefined ? missing : `\`${learnerCommand(record.script)}\``;
  const on = record.backend === undefined ? missing : shortBackend(record.backend);
  const minutes = record.trainedSeconds === undefined ? undefined : record.trainedSeconds / 60;
  return [
    `shipped checkpoint: ${steps} steps, made by ${by} on ${on}`,
    `  training took ${fixed(minutes, 1)} min (${fixed(record.secondsPerStep, 3)} s/step on 2 cores)`,
  ];
}

/** The recorded curves as one line chart (batch loss and validation estimate), or null when none is recorded. */
export function trainingCurveChart(record: CharGPTRecord, title = "how the shipped model trained"): Spec | null {
  if (!record.history || Object.keys(record.history).length === 0) return null;
  const label = (name: string) => (name === "loss" ? "train (batch)" : name === "val" ? "validation (8,192 chars)" : name);
  const rows = Object.entries(record.history).flatMap(([name, points]) => points.map((p) => ({ step: p.step, value: p.value, metric: label(name) })));
  return lineChart(rows, { x: "step", y: "value", color: "metric", yTitle: "cross-entropy (nats/char)", title });
}

/** At most `max` points of a curve, evenly spaced, always with the last one. */
export function thinCurve(points: CurvePoint[] = [], max = 200): CurvePoint[] {
  if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`thinCurve: max must be a positive integer, got ${max}`);
  const every = Math.ceil(points.length / max);
  return points.filter((_, i) => i % every === 0 || i === points.length - 1);
}

/** How a retrained model was made: what {@link charGPTTrainingRecord} stores beside the results. */
export interface CharGPTMade {
  /** The command or notebook that trained it. */
  script: string;
  preset: string;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  seed: number;
  backend: string;
  /** The data it trained on. Default: Pride and Prejudice, first 90% train, last 10% validation. */
  data?: string;
}

/**
 * The record a lesson saves with a model it trained: the fields of {@link CharGPTMade} (others in `made`, such as
 * a progress title, are left out), then the results, with the curves thinned to 200 points.
 */
export function charGPTTrainingRecord(model: CharGPT, result: CharGPTTrainResult, made: CharGPTMade): Record<string, unknown> {
  const { script, preset, batchSize, learningRate, weightDecay, seed, backend } = made;
  return {
    data: made.data ?? "Pride and Prejudice (datasets/austen/prideprejudice.txt.gz), first 90% train, last 10% validation",
    script,
    preset,
    batchSize,
    learningRate,
    weightDecay,
    seed,
    backend,
    partial: result.interrupted,
    valLoss: result.valLoss,
    trainLoss: result.last["loss"],
    trainedSeconds: result.seconds,
    secondsPerStep: result.secondsPerStep,
    numParams: model.numParams(),
    history: { loss: thinCurve(result.history["loss"]), val: thinCurve(result.history["val"]) },
  };
}
