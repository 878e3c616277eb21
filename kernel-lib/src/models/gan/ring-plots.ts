/**
 * Scatter plots of 2-D samples against the ring of Gaussians (notebooks/05-gan.ipynb; 06-diffusion.ipynb draws
 * its diffusion samples the same way): at most 1,000 of the points, with the ring's centres marked.
 */
import * as tf from "@tensorflow/tfjs";
import { ringCentres } from "../../data/ring";
import { Row, scatter, Spec } from "../../notebook/plot";

export interface RingScatterOptions {
  /** Legend label of the points. Default "samples". */
  label?: string;
  title?: string;
  /** Plot size in pixels. Default 220 x 220. */
  width?: number;
  height?: number;
  /** Both axes span [-extent, extent]. Default 2.6 (the ring has radius 2). */
  extent?: number;
  /** Mark the ring's centres, multiplied by `scale`. Default true, scale 1. */
  centres?: boolean;
  scale?: number;
  /** Points drawn at most. Default 1,000. */
  max?: number;
  /** Mark size. Default 8. */
  size?: number;
}

/** Rows { x, y, what } for a scatter: the first `max` points of (n, 2) samples, then the centres. */
export function ringRows(points: tf.Tensor | ArrayLike<number>, options: RingScatterOptions = {}): Row[] {
  const flat = points instanceof tf.Tensor ? points.dataSync() : points;
  if (flat.length % 2 !== 0) throw new RangeError(`ringRows: ${flat.length} numbers do not make 2-D points`);
  const label = options.label ?? "samples";
  const rows: Row[] = [];
  for (let i = 0; i < Math.min(options.max ?? 1000, flat.length / 2); i++) rows.push({ x: flat[2 * i]!, y: flat[2 * i + 1]!, what: label });
  const scale = options.scale ?? 1;
  if (options.centres ?? true) for (const [x, y] of ringCentres()) rows.push({ x: scale * x, y: scale * y, what: "centre" });
  return rows;
}

/** A Vega-Lite scatter of samples against the ring (pure: show it with showChart). */
export function ringScatter(points: tf.Tensor | ArrayLike<number>, options: RingScatterOptions = {}): Spec {
  const e = options.extent ?? 2.6;
  return scatter(ringRows(points, options), {
    title: options.title,
    width: options.width ?? 220,
    height: options.height ?? 220,
    xDomain: [-e, e],
    yDomain: [-e, e],
    color: "what",
    size: options.size ?? 8,
  });
}
