/**
 * Writes the shipped date-translation splits beside this script: dates-test.tsv.gz (2,000 pairs), dates-val.tsv.gz
 * (1,000) and dates-train.tsv.gz (20,000), each line "words<TAB>YYYY-MM-DD", made by kernel-lib's seeded generator
 * (kernel-lib/src/data/dates.ts: makeDateSplits). No date of the test split appears in val or train, and none of
 * val in train. Prints the SHA-256 of each file (what the loader checks, in DATE_FILES) and writes SHA256SUMS.
 *
 *   npx tsc -b && node build/datasets/dates/make-dates.js
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { makeDateSplits } from "kernel-lib";

const dir = path.resolve(__dirname, "..", "..", "..", "datasets", "dates");
const sums: string[] = [];
for (const [split, pairs] of Object.entries(makeDateSplits())) {
  const text = pairs.map((p) => `${p.words}\t${p.iso}\n`).join("");
  const gz = zlib.gzipSync(Buffer.from(text, "utf8"), { level: 9 });
  const file = `dates-${split}.tsv.gz`;
  const tmp = path.join(dir, `${file}.tmp-${process.pid}`);
  fs.writeFileSync(tmp, gz);
  fs.renameSync(tmp, path.join(dir, file));
  const sha = crypto.createHash("sha256").update(gz).digest("hex");
  sums.push(`${sha}  ${file}`);
  console.log(`${file}: ${pairs.length} pairs, ${gz.length} bytes, sha256 ${sha}`);
}
fs.writeFileSync(path.join(dir, "SHA256SUMS"), sums.join("\n") + "\n");
