/** Numbers as a lesson prints them. Used by notebooks/01-attention.ipynb. */

/** A matrix as one line of rows, `[0.5761, 0.2119] [0.2119, 0.5761]`, each value to `digits` decimals; NaN shows as NaN. */
export function formatRows(matrix: ArrayLike<number>[], digits = 4): string {
  if (!Number.isInteger(digits) || digits < 0 || digits > 20) throw new RangeError(`formatRows: digits must be an integer from 0 to 20, got ${digits}`);
  return Array.from(matrix, (row) => `[${Array.from(row, (v) => (Number.isNaN(v) ? "NaN" : v.toFixed(digits))).join(", ")}]`).join(" ");
}
