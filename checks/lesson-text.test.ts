/**
 * Lessons carry no messages meant for developers (issue 17, section 5): no lock files, no scratch paths of the
 * machine the checkpoints were made on, in any cell's source. The rule is shown failing on a made-up cell.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { repoRoot } from "../kernel/kernelspec";

const DEVELOPER_ONLY: [RegExp, string][] = [
  [/\bflock\b/, "a lock-file command (flock)"],
  [/\/tmp\//, "a scratch path under /tmp/"],
  [/\/work\//, "a path of the development machine (/work/)"],
];

/** What in the cells' sources is meant for developers: "cell N: <what>" per finding. */
export function developerMessages(cells: { source: string | string[] }[]): string[] {
  const found: string[] = [];
  cells.forEach((c, i) => {
    const text = Array.isArray(c.source) ? c.source.join("") : c.source;
    for (const [re, what] of DEVELOPER_ONLY) if (re.test(text)) found.push(`cell ${i + 1}: ${what}`);
  });
  return found;
}

test("the rule finds developer messages in a made-up notebook", () => {
  assert.deepEqual(developerMessages([{ source: "ok" }, { source: ["make it with ", "flock /tmp/aigc-train.lock node x.js"] }]), [
    "cell 2: a lock-file command (flock)",
    "cell 2: a scratch path under /tmp/",
  ]);
});

const dir = path.join(repoRoot(), "notebooks");
for (const file of fs.readdirSync(dir).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort()) {
  test(`${file} has no messages meant for developers`, () => {
    const nb = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as { cells: { source: string | string[] }[] };
    assert.deepEqual(developerMessages(nb.cells), []);
  });
}
