/**
 * Image grids: a batch of images tiled into one PNG output. Taught in notebooks/00-tour.ipynb.
 */
import * as tf from "@tensorflow/tfjs";
import { sendDisplay } from "./display";
import { encodePng } from "./png";

export interface ImageGridOptions {
  /** Images per row. Default: ceil(sqrt(N)). */
  cols?: number;
  /** Each pixel becomes scale x scale pixels (nearest neighbour). Default 2. */
  scale?: number;
  /** Gap between images in output pixels. Default 2. */
  gap?: number;
  /** Value range mapped to black..white. Default [0, 1]; values outside are clipped. */
  range?: [number, number];
}

export interface ImageGrid {
  png: Buffer;
  width: number;
  height: number;
  count: number;
}

/**
 * Lays images out on a grid and encodes it as PNG. `images` is [N, H, W], [N, H, W, 1] or [N, H, W, 3]
 * (a single [H, W] or [H, W, C] image is also accepted). The tensor is not disposed.
 */
export function imageGrid(images: tf.Tensor, options: ImageGridOptions = {}): ImageGrid {
  let shape = images.shape;
  if (shape.length === 2) shape = [1, shape[0]!, shape[1]!, 1];
  else if (shape.length === 3 && (shape[2] === 1 || shape[2] === 3) && shape[0]! > 4) shape = [1, ...shape];
  else if (shape.length === 3) shape = [...shape, 1];
  if (shape.length !== 4 || (shape[3] !== 1 && shape[3] !== 3)) {
    throw new RangeError(`imageGrid: expected images of shape [N, H, W], [N, H, W, 1] or [N, H, W, 3], got [${images.shape.join(", ")}]`);
  }
  const [n, h, w, c] = shape as [number, number, number, 1 | 3];
  if (n === 0) throw new RangeError("imageGrid: no images to show");
  const { scale = 2, gap = 2, range = [0, 1] } = options;
  const cols = Math.min(n, options.cols ?? Math.ceil(Math.sqrt(n)));
  const rows = Math.ceil(n / cols);
  const width = cols * w * scale + (cols - 1) * gap;
  const height = rows * h * scale + (rows - 1) * gap;
  const values = images.dataSync();
  const out = new Uint8Array(width * height * c).fill(255);
  const [lo, hi] = range;
  const span = hi - lo || 1;
  for (let k = 0; k < n; k++) {
    const ox = (k % cols) * (w * scale + gap);
    const oy = Math.floor(k / cols) * (h * scale + gap);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++) {
          const v = values[((k * h + y) * w + x) * c + ch]!;
          const byte = Number.isNaN(v) ? 0 : Math.round(255 * Math.min(1, Math.max(0, (v - lo) / span)));
          for (let dy = 0; dy < scale; dy++) {
            const row = (oy + y * scale + dy) * width;
            for (let dx = 0; dx < scale; dx++) out[(row + ox + x * scale + dx) * c + ch] = byte;
          }
        }
      }
    }
  }
  return { png: encodePng(out, width, height, c), width, height, count: n };
}

/** Shows an image grid (see {@link imageGrid}) as a PNG output, with an optional caption in text/plain. */
export function showImages(images: tf.Tensor, options: ImageGridOptions & { caption?: string; displayId?: string; update?: boolean } = {}): void {
  const grid = imageGrid(images, options);
  const caption = options.caption ?? `${grid.count} image${grid.count === 1 ? "" : "s"}`;
  sendDisplay(
    {
      data: { "image/png": grid.png.toString("base64"), "text/plain": `[image grid: ${caption}, ${grid.width}x${grid.height} px]` },
      metadata: { "image/png": { width: grid.width, height: grid.height } },
      ...(options.displayId ? { transient: { display_id: options.displayId } } : {}),
    },
    options.update ?? false,
  );
}
