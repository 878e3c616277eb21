/**
 * A small real sequence-to-sequence task: dates written in English words to ISO 8601 ("the twenty-third of
 * march, nineteen ninety-four" -> "1994-03-23"). Every pair is generated from a seed by {@link datePairs}, in
 * several phrasings, so the data set is reproducible and its answers are checked by construction;
 * datasets/dates/make-dates.ts writes the shipped split with its checksums. Taught in
 * notebooks/03-encoder-decoder.ipynb.
 */
import * as path from "node:path";
import { Rng } from "../runtime/random";
import { CorpusError, datasetsDir, loadGzipText } from "./text";

const ONES = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"];
const TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
const ORDINAL_ONES = ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth"];
const ORDINAL_TENS = ["", "", "twentieth", "thirtieth"];
export const MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];

/** 1..99 in words ("forty-two"). */
export function numberWords(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 99) throw new RangeError(`numberWords: ${n} is not an integer in 1..99`);
  if (n < 20) return ONES[n]!;
  return TENS[Math.floor(n / 10)]! + (n % 10 ? `-${ONES[n % 10]}` : "");
}

/** 1..31 as an ordinal in words ("twenty-third"). */
export function ordinalWords(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 31) throw new RangeError(`ordinalWords: ${n} is not a day of the month`);
  if (n < 20) return ORDINAL_ONES[n]!;
  return n % 10 ? `${TENS[Math.floor(n / 10)]}-${ORDINAL_ONES[n % 10]}` : ORDINAL_TENS[n / 10]!;
}

/** A year 1900..2099 in words, as people say it: "nineteen ninety-four", "nineteen oh five", "two thousand", "two thousand and seven", "twenty twenty-one". */
export function yearWords(y: number, r: Rng): string {
  if (!Number.isInteger(y) || y < 1900 || y > 2099) throw new RangeError(`yearWords: ${y} is outside 1900..2099`);
  const hi = Math.floor(y / 100);
  const lo = y % 100;
  if (hi === 20 && lo < 10) return lo === 0 ? "two thousand" : `two thousand and ${ONES[lo]}`;
  if (hi === 20 && lo >= 10 && r.uniform() < 0.3) return `two thousand and ${numberWords(lo)}`;
  if (lo === 0) return `${numberWords(hi)} hundred`;
  return `${numberWords(hi)} ${lo < 10 ? `oh ${ONES[lo]}` : numberWords(lo)}`;
}

/** One example: the words and the ISO date. */
export interface DatePair {
  words: string;
  iso: string;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * `n` seeded (words, ISO) pairs, dates uniform over 1900-01-01..2099-12-31, in one of four phrasings each; dates in
 * `exclude` (ISO strings) are skipped, so a training set can leave out every date of the test set.
 */
export function datePairs(n: number, seed: number, exclude: ReadonlySet<string> = new Set()): DatePair[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`datePairs: n must be a non-negative integer, got ${n}`);
  const r = new Rng(seed);
  const out: DatePair[] = [];
  while (out.length < n) {
    const year = 1900 + r.int(200);
    const month = 1 + r.int(12);
    const day = 1 + r.int(daysIn(year, month));
    const y = yearWords(year, r);
    const m = MONTHS[month - 1]!;
    const d = ordinalWords(day);
    const phrasing = r.int(4);
    const words = [`the ${d} of ${m}, ${y}`, `${m} the ${d}, ${y}`, `${d} ${m} ${y}`, `${m} ${d} ${y}`][phrasing]!;
    const iso = `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
    if (!exclude.has(iso)) out.push({ words, iso });
  }
  return out;
}

/** The shipped splits (datasets/dates/, written by datasets/dates/make-dates.ts): size and seed of each. */
export const DATE_SPLITS = { test: { n: 2000, seed: 1 }, val: { n: 1000, seed: 2 }, train: { n: 20000, seed: 3 } } as const;

/** The three splits, each leaving out the dates of the ones before it (test, then val, then train). */
export function makeDateSplits(): Record<keyof typeof DATE_SPLITS, DatePair[]> {
  const test = datePairs(DATE_SPLITS.test.n, DATE_SPLITS.test.seed);
  const seen = new Set(test.map((p) => p.iso));
  const val = datePairs(DATE_SPLITS.val.n, DATE_SPLITS.val.seed, seen);
  val.forEach((p) => seen.add(p.iso));
  const train = datePairs(DATE_SPLITS.train.n, DATE_SPLITS.train.seed, seen);
  return { train, val, test };
}

/** The shipped files and the SHA-256 of each (datasets/dates/SHA256SUMS). */
export const DATE_FILES: Record<keyof typeof DATE_SPLITS, { file: string; sha256: string }> = {
  train: { file: "dates/dates-train.tsv.gz", sha256: "78524134c702ac90a365833594b291e4523f85955bd984b00779614e82b87124" },
  val: { file: "dates/dates-val.tsv.gz", sha256: "a9412a43bebcf6f26d9b07ec20b75410f9d73df7caa63f5289f6ded7ca52bb8f" },
  test: { file: "dates/dates-test.tsv.gz", sha256: "ba20936819afc0de560b219941605d17ecfff2f790272df1f20361187bc43d00" },
};

/**
 * One shipped split, checksum verified, every line checked: "words<TAB>YYYY-MM-DD" with a real calendar date and
 * the number of pairs the split should have. A bad line is a CorpusError naming the file and the line.
 */
export function loadDates(split: keyof typeof DATE_SPLITS, dir: string = datasetsDir()): DatePair[] {
  const spec = DATE_FILES[split];
  if (!spec) throw new RangeError(`loadDates: no split "${String(split)}"; use train, val or test`);
  const file = path.join(dir, spec.file);
  const lines = loadGzipText(file, spec.sha256).split("\n");
  if (lines.pop() !== "") throw new CorpusError(`${file}: does not end with a newline`);
  const pairs = lines.map((line, i) => {
    const m = /^([a-z ,-]+)\t(\d{4})-(\d{2})-(\d{2})$/.exec(line);
    const [y, mo, d] = m ? [Number(m[2]), Number(m[3]), Number(m[4])] : [0, 0, 0];
    if (!m || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo)) throw new CorpusError(`${file}: line ${i + 1} is not "words<TAB>a real YYYY-MM-DD": ${JSON.stringify(line)}`);
    return { words: m[1]!, iso: `${m[2]}-${m[3]}-${m[4]}` };
  });
  if (pairs.length !== DATE_SPLITS[split].n) throw new CorpusError(`${file}: ${pairs.length} pairs, expected ${DATE_SPLITS[split].n}`);
  return pairs;
}
