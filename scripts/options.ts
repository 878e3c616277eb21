/**
 * The command-line options of the training scripts: `--name value` pairs and bare `--flag`s. Every
 * argument is checked when the options are made (an unknown option, a missing value or a stray word is
 * an error naming it), and every value when it is read (a number that is not one, a choice not offered).
 */
export class OptionError extends Error {
  override name = "OptionError";
}

export interface NumberRule {
  /** Whole numbers only (default true). */
  integer?: boolean;
  /** The smallest value allowed (default 0). */
  min?: number;
  /** Whether the smallest value itself is allowed (default true). */
  minIncluded?: boolean;
}

export class Options {
  private readonly values = new Map<string, string>();
  private readonly present = new Set<string>();

  /**
   * @param argv the arguments after the script's name
   * @param valued the options that take a value, without their `--`
   * @param flags the options that take none
   */
  constructor(argv: readonly string[], valued: readonly string[], flags: readonly string[] = []) {
    const known = [...valued, ...flags].map((k) => `--${k}`).join(" ");
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (!arg.startsWith("--")) throw new OptionError(`unexpected argument ${JSON.stringify(arg)}; options: ${known}`);
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      if (flags.includes(name)) {
        if (eq >= 0) throw new OptionError(`--${name} takes no value`);
        this.present.add(name);
      } else if (valued.includes(name)) {
        const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
        if (value === undefined || value === "" || (eq < 0 && value.startsWith("--"))) throw new OptionError(`--${name} needs a value`);
        if (this.values.has(name)) throw new OptionError(`--${name} given twice`);
        this.values.set(name, value);
      } else {
        throw new OptionError(`unknown option --${name}; options: ${known}`);
      }
    }
  }

  /** Whether a bare flag was given. */
  flag(name: string): boolean {
    return this.present.has(name);
  }

  /** An option's text, or undefined when it was not given. */
  string(name: string): string | undefined {
    return this.values.get(name);
  }

  /** A number within the rule's range; `fallback` when not given (undefined allowed: the option is optional). */
  number(name: string, fallback: number, rule?: NumberRule): number;
  number(name: string, fallback: undefined, rule?: NumberRule): number | undefined;
  number(name: string, fallback: number | undefined, { integer = true, min = 0, minIncluded = true }: NumberRule = {}): number | undefined {
    const raw = this.values.get(name);
    if (raw === undefined) return fallback;
    const v = Number(raw);
    const inRange = minIncluded ? v >= min : v > min;
    if (!Number.isFinite(v) || !inRange || (integer && !Number.isInteger(v))) {
      const bound = min === -Infinity ? "" : ` ${minIncluded ? ">=" : ">"} ${min}`;
      throw new OptionError(`--${name} must be ${integer ? "an integer" : "a number"}${bound}, got ${JSON.stringify(raw)}`);
    }
    return v;
  }

  /** One of the offered choices. */
  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const raw = this.values.get(name) ?? fallback;
    if (!(choices as readonly string[]).includes(raw)) throw new OptionError(`--${name} must be one of ${choices.join(", ")}, got ${JSON.stringify(raw)}`);
    return raw as T;
  }

  /** A comma-separated list, each item checked by `item` (which throws on a bad one). */
  list<T>(name: string, fallback: string, item: (text: string) => T): T[] {
    const raw = this.values.get(name) ?? fallback;
    return raw.split(",").map((text) => {
      try {
        return item(text.trim());
      } catch (e) {
        throw new OptionError(`--${name}: ${JSON.stringify(text)}: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
  }
}

/** For `list`: a whole number at least `min`. */
export function integerItem(min = 0): (text: string) => number {
  return (text) => {
    const v = Number(text);
    if (text === "" || !Number.isInteger(v) || v < min) throw new Error(`not an integer >= ${min}`);
    return v;
  };
}

/** For `list`: one of the offered words. */
export function choiceItem<T extends string>(choices: readonly T[]): (text: string) => T {
  return (text) => {
    if (!(choices as readonly string[]).includes(text)) throw new Error(`not one of ${choices.join(", ")}`);
    return text as T;
  };
}

/** Whether the command line asks for the usage (`--help` or `-h`, anywhere). */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

/** What {@link readCommandLine} decided: run with the options, or print and exit with a status. */
export type CommandLine<T> = { run: T } | { exit: 0 | 1; stdout?: string; stderr?: string };

/**
 * A script's command line read with `parse` (which builds {@link Options} and reads them): `--help`/`-h`
 * gives the usage on stdout and status 0; an {@link OptionError} gives `<script>: <message>` and the usage
 * on stderr and status 1, without a stack trace. Any other error is the script's own and propagates.
 */
export function readCommandLine<T>(script: string, usage: string, argv: readonly string[], parse: (argv: string[]) => T): CommandLine<T> {
  const text = usage.trimEnd() + "\n";
  if (wantsHelp(argv)) return { exit: 0, stdout: text };
  try {
    return { run: parse([...argv]) };
  } catch (e) {
    if (e instanceof OptionError) return { exit: 1, stderr: `${script}: ${e.message}\n\n${text}` };
    throw e;
  }
}

/** {@link readCommandLine} on this process's arguments: returns the options, or prints and exits. */
export function commandLineOrExit<T>(script: string, usage: string, parse: (argv: string[]) => T, argv: readonly string[] = process.argv.slice(2)): T {
  const r = readCommandLine(script, usage, argv, parse);
  if ("run" in r) return r.run;
  // Writes to a pipe or file are synchronous on Linux, so nothing is lost by exiting right after.
  if (r.stdout) process.stdout.write(r.stdout);
  if (r.stderr) process.stderr.write(r.stderr);
  process.exit(r.exit);
}
