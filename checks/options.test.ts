/**
 * The training scripts' command lines (scripts/options.ts): values and flags are read as given, and
 * every mistake is an error that names the option, before any training starts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";
import { repoRoot } from "../kernel/kernelspec";
import { choiceItem, integerItem, OptionError, Options, readCommandLine } from "../scripts/options";

const VALUED = ["steps", "lr", "data", "seeds", "out"];

test("options: values, flags, defaults and the --name=value form", () => {
  const o = new Options(["--steps", "300", "--lr=2e-3", "--resume", "--seeds", "0, 4,2"], VALUED, ["resume", "classes"]);
  assert.equal(o.number("steps", 10, { min: 1 }), 300);
  assert.equal(o.number("lr", 1, { integer: false }), 0.002);
  assert.equal(o.flag("resume"), true);
  assert.equal(o.flag("classes"), false);
  assert.deepEqual(o.list("seeds", "0", integerItem()), [0, 4, 2]);
  assert.equal(o.choice("data", ["ring", "fashion"], "ring"), "ring");
  assert.equal(o.string("out"), undefined);
  assert.equal(o.number("out", undefined), undefined);
});

test("options: each mistake names the option", () => {
  const bad: [string[], RegExp][] = [
    [["--stpes", "3"], /unknown option --stpes; options: --steps --lr/],
    [["--steps"], /--steps needs a value/],
    [["--steps", "--lr", "1"], /--steps needs a value/],
    [["--steps="], /--steps needs a value/],
    [["--steps", "1", "--steps", "2"], /--steps given twice/],
    [["3000"], /unexpected argument "3000"/],
    [["--resume=yes"], /--resume takes no value/],
  ];
  for (const [argv, message] of bad) assert.throws(() => new Options(argv, VALUED, ["resume"]), (e: unknown) => e instanceof OptionError && message.test(e.message), argv.join(" "));

  const read = (argv: string[], f: (o: Options) => unknown, message: RegExp) =>
    assert.throws(() => f(new Options(argv, VALUED)), (e: unknown) => e instanceof OptionError && message.test(e.message), argv.join(" "));
  read(["--steps", "ten"], (o) => o.number("steps", 1), /--steps must be an integer >= 0, got "ten"/);
  read(["--steps", "2.5"], (o) => o.number("steps", 1), /--steps must be an integer/);
  read(["--steps", "0"], (o) => o.number("steps", 1, { min: 1 }), /--steps must be an integer >= 1, got "0"/);
  read(["--lr", "0"], (o) => o.number("lr", 1, { integer: false, minIncluded: false }), /--lr must be a number > 0/);
  read(["--lr", "Infinity"], (o) => o.number("lr", 1, { integer: false }), /--lr must be a number/);
  read(["--data", "mnist"], (o) => o.choice("data", ["ring", "fashion"], "ring"), /--data must be one of ring, fashion, got "mnist"/);
  read(["--seeds", "0,x"], (o) => o.list("seeds", "0", integerItem()), /--seeds: "x": not an integer >= 0/);
  read(["--seeds", "0,,1"], (o) => o.list("seeds", "0", integerItem()), /--seeds: "": not an integer/);
  read(["--data", "ring,gauss"], (o) => o.list("data", "ring", choiceItem(["ring", "fashion"])), /--data: "gauss": not one of ring, fashion/);
  // Negative numbers are values, not options, where the rule allows them.
  assert.equal(new Options(["--steps", "-3"], VALUED).number("steps", 0, { min: -Infinity }), -3);
});

test("options: a training script with a bad option stops at once, naming it, and writes nothing", () => {
  const root = repoRoot();
  for (const [script, args, message] of [
    ["train-vae.js", ["--epochs", "many", "--out", "/nonexistent/vae.ckpt"], /--epochs must be an integer >= 1, got "many"/],
    ["train-diffusion.js", ["--data", "cifar", "--out", "/nonexistent/diffusion.ckpt"], /--data must be one of ring, gaussians, fashion, got "cifar"/],
    ["train-gan.js", ["--variants", "remedy,wgan", "--out-dir", "/nonexistent"], /--variants: "wgan": not one of remedy, plain/],
    ["train-char-gpt.js", ["--preset", "huge", "--out", "/nonexistent/gpt.ckpt"], /--preset must be one of tiny, small, base, got "huge"/],
    ["train-latent-diffusion.js", ["--channels", "32,60", "--out", "/nonexistent/ld.ckpt"], /--channels: "60": not a multiple of 8/],
  ] as const) {
    const r = spawnSync(process.execPath, [path.join(root, "build", "scripts", script), ...args], { cwd: root, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 1, `${script}: exit status ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, message, script);
  }
});

test("options: --help and -h print the usage and exit 0; a mistake prints the usage to stderr and exits 1, without a stack trace", () => {
  const usage = "usage: node build/scripts/x.js [--steps N]\n";
  assert.deepEqual(readCommandLine("x", usage, ["--help"], () => assert.fail("parsed despite --help")), { exit: 0, stdout: usage });
  assert.deepEqual(readCommandLine("x", usage, ["--steps", "3", "-h"], () => assert.fail("parsed despite -h")), { exit: 0, stdout: usage });
  assert.deepEqual(readCommandLine("x", usage, ["--steps", "3"], (argv) => new Options(argv, VALUED).number("steps", 1)), { run: 3 });
  assert.deepEqual(readCommandLine("x", usage, ["--stpes", "3"], (argv) => new Options(argv, VALUED)), {
    exit: 1,
    stderr: `x: unknown option --stpes; options: --steps --lr --data --seeds --out\n\n${usage}`,
  });
  // Errors that are not about the command line are the script's own.
  assert.throws(() => readCommandLine("x", usage, [], () => { throw new RangeError("boom"); }), RangeError);
});

/** Every script with a command line, and how its usage starts. */
const SCRIPTS: [string, string][] = [
  ["train-vae.js", "usage: node build/scripts/train-vae.js "],
  ["train-diffusion.js", "usage: node build/scripts/train-diffusion.js "],
  ["train-gan.js", "usage: node build/scripts/train-gan.js "],
  ["train-char-gpt.js", "usage: node build/scripts/train-char-gpt.js "],
  ["train-latent-diffusion.js", "usage: node build/scripts/train-latent-diffusion.js "],
  ["compare-latent-diffusion.js", "usage: node build/scripts/compare-latent-diffusion.js "],
  ["score-images.js", "usage: node build/scripts/score-images.js "],
  ["bench.js", "usage: npm run bench -- "],
  ["train-classifier.js", "usage: node build/scripts/train-classifier.js "],
  ["train-seq2seq.js", "usage: node build/scripts/train-seq2seq.js "],
  ["ablate-char-gpt.js", "usage: node build/scripts/ablate-char-gpt.js "],
  ["compare-bpe.js", "usage: node build/scripts/compare-bpe.js "],
  ["kv-cache-speed.js", "usage: node build/scripts/kv-cache-speed.js "],
  ["profile-step.js", "usage: node build/scripts/profile-step.js "],
  ["upgrade-checkpoints.js", "usage: node build/scripts/upgrade-checkpoints.js "],
];

test("options: every training script and npm run bench answer --help and -h with a usage naming each of their options, on stdout, status 0", () => {
  const root = repoRoot();
  for (const [script, usage] of SCRIPTS) {
    const file = path.join(root, "build", "scripts", script);
    for (const flag of ["--help", "-h"]) {
      const r = spawnSync(process.execPath, [file, flag], { cwd: root, encoding: "utf8", timeout: 60_000 });
      assert.equal(r.status, 0, `${script} ${flag}: exit status ${r.status}\n${r.stderr}`);
      assert.equal(r.stderr, "", `${script} ${flag}: wrote to stderr`);
      assert.ok(r.stdout.startsWith(usage), `${script} ${flag}: ${JSON.stringify(r.stdout.slice(0, 80))}`);
    }
    // The options the script accepts, as its own error message lists them, are all in the usage.
    const bad = spawnSync(process.execPath, [file, "--no-such-option"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    assert.equal(bad.status, 1, `${script}: a bad option must exit 1`);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, `${script}: a bad option printed a stack trace`);
    const known = /options: ((?:--[\w-]+ ?)+)/.exec(bad.stderr)?.[1]?.trim().split(" ") ?? [];
    assert.ok(known.length > 0, `${script}: no option list in ${JSON.stringify(bad.stderr)}`);
    const help = spawnSync(process.execPath, [file, "--help"], { cwd: root, encoding: "utf8", timeout: 60_000 }).stdout;
    for (const option of known) assert.match(help, new RegExp(`^\\s+${option}\\b`, "m"), `${script}: --help does not describe ${option}`);
  }
});

test("options: npm start and npm run lab answer --help with their usage and status 0; lab takes nothing else", () => {
  const root = repoRoot();
  for (const [script, usage] of [["start.js", "usage: npm start "], ["lab.js", "usage: npm run lab\n"]] as const) {
    const r = spawnSync(process.execPath, [path.join(root, "build", "scripts", script), "--help"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, `${script} --help: exit status ${r.status}\n${r.stderr}`);
    assert.ok(r.stdout.startsWith(usage), `${script} --help: ${JSON.stringify(r.stdout.slice(0, 80))}`);
  }
  const bad = spawnSync(process.execPath, [path.join(root, "build", "scripts", "lab.js"), "--port", "8888"], { cwd: root, encoding: "utf8", timeout: 60_000 });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /npm run lab: unexpected argument "--port": npm run lab takes no options/);
});
