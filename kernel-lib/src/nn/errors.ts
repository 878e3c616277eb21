/**
 * ShapeError: the error every layer and model raises when tensors do not fit together, naming the shapes.
 * First met in notebooks/01-attention.ipynb.
 */
import * as tf from "@tensorflow/tfjs";

/** Raised when tensors passed to attention have shapes that do not fit together; names both shapes. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShapeError";
  }
}

export const shapeText = (s: readonly number[]): string => `[${s.join(", ")}]`;

/**
 * Throws a TypeError naming the argument when `value` is not a tf.Tensor (a plain array, say), instead of
 * the unreadable error tfjs gives deep inside an op. `where` is the function, `name` the argument.
 */
export function requireTensor(value: unknown, name: string, where: string): asserts value is tf.Tensor {
  if (value instanceof tf.Tensor) return;
  const got = Array.isArray(value) ? "a plain array (wrap it: tf.tensor(...))" : value === null ? "null" : typeof value;
  throw new TypeError(`${where}: ${name} must be a tf.Tensor, got ${got}`);
}
