/**
 * What the training scripts record and load alike: the backend's short label for a checkpoint's record, and the
 * Fashion-MNIST training and test splits of one source, described on the console.
 */
import { currentBackend, FashionMnist, loadFashionMnist } from "kernel-lib";

/** The chosen backend's label without its "skipped ..." reasons, e.g. "wasm+native [SIMD, 1 thread, ...]". */
export function backendLabel(fallback = "?"): string {
  return currentBackend()?.summary.replace(/^kernel-lib backend: /, "").split(";")[0] ?? fallback;
}

/** The training split of `source` and the test split of the same source, both printed. */
export function fashionSplits(source: "subset" | "full" | "auto"): { trainSet: FashionMnist; testSet: FashionMnist } {
  const trainSet = loadFashionMnist({ split: "train", source });
  const testSet = loadFashionMnist({ split: "test", source: trainSet.source });
  console.log(trainSet.description);
  console.log(testSet.description);
  return { trainSet, testSet };
}
