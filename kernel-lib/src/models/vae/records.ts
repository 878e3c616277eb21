/**
 * The record scripts/train-vae.ts writes into a shipped VAE checkpoint (data, settings, time, backend, the test
 * numbers and the per-epoch history), read back with its fields checked, and shown the way
 * notebooks/04-vae.ipynb prints it: the command as a learner would type it, the backend in one short phrase,
 * each loss as "total = reconstruction + KL".
 */
import { learnerCommand, shortBackend } from "../../notebook/records";
import { VaeLoss } from "./losses";

/** One epoch of a shipped run: the mean terms on the training batches and on the test set (nats per image). */
export interface VaeEpochRecord {
  epoch: number;
  train: VaeLoss<number>;
  test: VaeLoss<number>;
  seconds?: number;
}

/** What a shipped VAE checkpoint records about how it was made and what it scored. */
export interface VaeRecord {
  data: { source: string; train: number; test: number };
  epochs: number;
  seconds: number;
  stepMs: number;
  backend: string;
  /** The seed of the evaluation's noise draws: re-measuring with it reproduces `test500`. */
  evalSeed: number;
  /** The negative ELBO on the whole test set, and on its first 500 images. */
  test: VaeLoss<number>;
  test500: VaeLoss<number>;
  madeBy: string;
  history: VaeEpochRecord[];
}

const isLoss = (l: unknown): l is VaeLoss<number> =>
  typeof l === "object" && l !== null && ["loss", "reconstruction", "kl"].every((k) => typeof (l as Record<string, unknown>)[k] === "number");

/**
 * A checkpoint's `extra` as a {@link VaeRecord}; throws a TypeError naming the first missing or mistyped field
 * (and `file`, when given).
 */
export function vaeRecordOf(extra: Record<string, unknown>, file = "the checkpoint"): VaeRecord {
  const bad = (field: string, want: string) => new TypeError(`${file}: its record's "${field}" should be ${want}, got ${JSON.stringify(extra[field])}`);
  for (const k of ["epochs", "seconds", "stepMs", "evalSeed"]) if (typeof extra[k] !== "number") throw bad(k, "a number");
  for (const k of ["backend", "madeBy"]) if (typeof extra[k] !== "string") throw bad(k, "a string");
  for (const k of ["test", "test500"]) if (!isLoss(extra[k])) throw bad(k, "{ loss, reconstruction, kl }");
  const data = extra["data"] as Record<string, unknown> | undefined;
  if (typeof data?.["source"] !== "string" || typeof data["train"] !== "number" || typeof data["test"] !== "number") throw bad("data", "{ source, train, test }");
  const history = extra["history"];
  if (!Array.isArray(history) || !history.every((h) => typeof h?.epoch === "number" && isLoss(h.train) && isLoss(h.test))) {
    throw bad("history", "a list of { epoch, train, test }");
  }
  return extra as unknown as VaeRecord;
}

/** "239.72 = 225.67 reconstruction + 14.04 KL" (nats per image, two decimals). */
export function formatVaeLoss(l: VaeLoss<number>): string {
  return `${l.loss.toFixed(2)} = ${l.reconstruction.toFixed(2)} reconstruction + ${l.kl.toFixed(2)} KL`;
}

/**
 * The record as the lesson prints it, three lines: the parameters and the command that made the model, the
 * training (epochs, images, time, backend), and the recorded test negative ELBO.
 */
export function vaeRecordLines(name: string, model: { parameterCount(): number }, record: VaeRecord): string[] {
  const n = (x: number) => x.toLocaleString("en-US");
  const { data } = record;
  return [
    `${name}: ${n(model.parameterCount())} parameters; made by ${learnerCommand(record.madeBy)}`,
    `  trained ${record.epochs} epochs on ${n(data.train)} ${data.source} images in ${record.seconds} s ` +
      `(${record.stepMs} ms/step, ${shortBackend(record.backend)})`,
    `  RECORDED when trained, all ${n(data.test)} test images: ${formatVaeLoss(record.test)}`,
  ];
}
