/**
 * ShapeError: the error every layer and model raises when tensors do not fit together, naming the shapes.
 * First met in notebooks/01-attention.ipynb.
 */

/** Raised when tensors passed to attention have shapes that do not fit together; names both shapes. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShapeError";
  }
}

export const shapeText = (s: readonly number[]): string => `[${s.join(", ")}]`;
