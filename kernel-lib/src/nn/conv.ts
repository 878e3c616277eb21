/**
 * Convolution helpers that train on the wasm backend: a convolution as patches and a matrix product,
 * space-to-depth and nearest-neighbour upsampling. Used by the convolutional GAN (notebooks/05-gan.ipynb).
 */
import * as tf from "@tensorflow/tfjs";
import { affine } from "./linear";

/**
 * A stride-1 2-D convolution of x (B, H, W, Cin) with a (k, k, Cin, Cout) kernel and zero padding `pad` on
 * each side, written as patches times a matrix (im2col): the k² shifted views of the padded input, side by
 * side, times the kernel flattened to (k·k·Cin, Cout). Built from pad, slice, concat and {@link affine}
 * because tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel: tf.conv2d cannot train there. Only
 * rank-4 tensors: wasm slices of rank 5 and more are thousands of times slower. Same values as tf.conv2d
 * (checks/gan.test.ts).
 */
export function conv2dPatches(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D, pad: number): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const [k, k2, cin, cout] = kernel.shape;
  if (k !== k2 || cin !== C) throw new RangeError(`conv2dPatches: kernel [${kernel.shape}] does not fit input [${x.shape}]`);
  const outH = H + 2 * pad - k + 1;
  const outW = W + 2 * pad - k + 1;
  return tf.tidy(() => {
    // 1) Pad, then take the k² shifted (B, outH, outW, C) windows, in the kernel's (row, column) order.
    const padded = pad > 0 ? tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) : x;
    const views: tf.Tensor4D[] = [];
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) views.push(tf.slice(padded, [0, i, j, 0], [B, outH, outW, C]));
    // 2) Each output pixel's patch, ordered (kernel row, kernel column, channel) like the flattened kernel.
    const patches = tf.reshape(tf.concat(views, 3), [B * outH * outW, k * k * C]) as tf.Tensor2D; // (B·outH·outW, k·k·C)
    const out = affine(patches, tf.reshape(kernel, [k * k * cin, cout]) as tf.Tensor2D, bias); // (B·outH·outW, Cout)
    return tf.reshape(out, [B, outH, outW, cout]);
  });
}

/**
 * Space-to-depth: each 2x2 block of pixels becomes one pixel with 4x the channels, (B, H, W, C) ->
 * (B, H/2, W/2, 4C), channels ordered (block row, block column, channel). A 2x2 stride-1 convolution after
 * it is exactly a 4x4 stride-2 convolution before it (with the kernel regrouped), so D downsamples with
 * rank-4 ops only (checks/gan.test.ts shows the equivalence).
 */
export function spaceToDepth2x(x: tf.Tensor4D): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  if (H % 2 !== 0 || W % 2 !== 0) throw new RangeError(`spaceToDepth2x: height and width must be even, got [${x.shape}]`);
  return tf.tidy(() => {
    const rows = tf.reshape(x, [B * (H / 2), 2, W / 2, 2 * C]); // (B·H/2, row in block, W/2, (column in block, C))
    return tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [B, H / 2, W / 2, 4 * C]);
  });
}

/** Doubles height and width by repeating each pixel (nearest-neighbour upsampling), (B, H, W, C) -> (B, 2H, 2W, C). */
export function upsample2x(x: tf.Tensor4D): tf.Tensor4D {
  const [, H, W] = x.shape;
  // At an integer scale, nearest-neighbour resizing copies each pixel into a 2x2 block; wasm has its gradient.
  return tf.image.resizeNearestNeighbor(x, [2 * H, 2 * W]);
}
