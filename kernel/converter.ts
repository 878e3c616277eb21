/**
 * The TypeScript converter the kernel and the notebook type-check share: tslab's converter (its bundled
 * TypeScript 5.0.4, cells chained through declaration output) with the project's strict compiler
 * options switched on, and optionally inline source maps so runtime errors can be mapped back to cell
 * lines (see kernel/sourcemap.ts).
 */
import { createRequire } from "node:module";
import type * as TS from "@tslab/typescript-for-tslab";
import type { Converter, Diagnostic } from "tslab/dist/converter";

type Ts = typeof TS;

/** Hooks the kernel may set on the TypeScript module tslab sees; see {@link tslabTs}. */
export interface TsHooks {
  /** Merged into the compiler options tslab passes to `createWatchCompilerHost` (i.e. into every new converter). */
  compilerOptions: TS.CompilerOptions | null;
  /** Replaces `transpileModule`, which tslab calls to turn each emitted ES module into CommonJS. */
  transpileModule: ((input: string, options: TS.TranspileOptions, original: Ts["transpileModule"]) => TS.TranspileOutput) | null;
}

/** The current hooks (null: tslab's own behaviour). */
export const tsHooks: TsHooks = { compilerOptions: null, transpileModule: null };

function installTsWrapper(): { ts: Ts; converter: typeof import("tslab/dist/converter") } {
  const converterPath = require.resolve("tslab/dist/converter");
  if (require.cache[converterPath]) {
    // tslab would already hold the unwrapped TypeScript module; options patched later would not reach it.
    throw new Error("kernel/converter must be loaded before tslab's converter (tslab/dist/converter is already loaded)");
  }
  const tsPath = createRequire(converterPath).resolve("@tslab/typescript-for-tslab");
  const real: Ts = require(tsPath);
  // TypeScript's bundle exports non-configurable getters, so its functions cannot be reassigned. tslab
  // copies the module's own properties when it loads it, so we hand it a stand-in with the same
  // properties, two of which consult tsHooks.
  const wrapper: Record<string, unknown> = {};
  for (const key of Object.keys(real)) {
    Object.defineProperty(wrapper, key, { enumerable: true, configurable: true, get: () => (real as unknown as Record<string, unknown>)[key] });
  }
  const createWatchCompilerHost = (...args: unknown[]): unknown => {
    // The overload tslab uses: (rootFiles, compilerOptions, system, createProgram, reportDiagnostic, reportWatchStatus).
    if (tsHooks.compilerOptions && Array.isArray(args[0]) && args[1] && typeof args[1] === "object") {
      args[1] = { ...(args[1] as TS.CompilerOptions), ...tsHooks.compilerOptions };
    }
    return (real.createWatchCompilerHost as (...a: unknown[]) => unknown)(...args);
  };
  const transpileModule = (input: string, options: TS.TranspileOptions): TS.TranspileOutput =>
    tsHooks.transpileModule ? tsHooks.transpileModule(input, options, real.transpileModule) : real.transpileModule(input, options);
  Object.defineProperty(wrapper, "createWatchCompilerHost", { enumerable: true, value: createWatchCompilerHost });
  Object.defineProperty(wrapper, "transpileModule", { enumerable: true, value: transpileModule });
  require.cache[tsPath]!.exports = wrapper;
  return { ts: real, converter: require(converterPath) };
}

const installed = installTsWrapper();

/** The TypeScript module tslab compiles with (its bundled 5.0.4), for its version and sys. */
export const tslabTs: Ts = installed.ts;

/** tslab's converter module, loaded after the TypeScript stand-in was installed. */
export const tslabConverter: typeof import("tslab/dist/converter") = installed.converter;

/**
 * Compiler options added to tslab's fixed set: the strict family of tsconfig.base.json. Not
 * `noUnusedLocals`/`noUnusedParameters`: tslab exports every top-level name of a cell (so later cells
 * see it), which leaves only locals inside functions to flag, and in exploratory cells that is noise.
 */
export const NOTEBOOK_COMPILER_OPTIONS: Readonly<TS.CompilerOptions> = Object.freeze({
  strict: true,
  noImplicitAny: true,
  strictNullChecks: true,
  strictFunctionTypes: true,
  strictBindCallApply: true,
  strictPropertyInitialization: true,
  noImplicitThis: true,
  useUnknownInCatchVariables: true,
  alwaysStrict: true,
  noImplicitOverride: true,
  noFallthroughCasesInSwitch: true,
});

/** Options of {@link createNotebookConverter}. */
export interface NotebookConverterOptions {
  /**
   * The root directory: where imports resolve from and which local `.ts` files may be imported.
   * Default: the process's working directory (the kernel runs in the notebook's folder).
   */
  cwd?: string;
  /** Emit inline source maps (the kernel maps runtime errors to cell lines). Default false. */
  sourceMaps?: boolean;
  /** A converter for browser code (adds the DOM libs). Default false. */
  browser?: boolean;
}

/**
 * Creates tslab's converter with the project's strict options. tslab hard-codes its compiler options
 * inside `createConverter`; for the duration of that one call {@link tsHooks} merges
 * {@link NOTEBOOK_COMPILER_OPTIONS} into what it passes to `createWatchCompilerHost`.
 */
export function createNotebookConverter(options: NotebookConverterOptions = {}): Converter {
  const originalCwd = tslabTs.sys.getCurrentDirectory;
  const cwd = options.cwd;
  tsHooks.compilerOptions = { ...NOTEBOOK_COMPILER_OPTIONS, ...(options.sourceMaps ? { inlineSourceMap: true } : {}) };
  try {
    // tslab reads the root directory once, from ts.sys, at the start of createConverter.
    if (cwd) tslabTs.sys.getCurrentDirectory = () => cwd;
    return tslabConverter.createConverter({ isJS: false, isBrowser: options.browser ?? false });
  } finally {
    tsHooks.compilerOptions = null;
    tslabTs.sys.getCurrentDirectory = originalCwd;
  }
}

/** A diagnostic in a chain of notebook cells. */
export interface CellDiagnostic {
  /** 1-based index among the code cells. */
  codeCell: number;
  /** 1-based line and column inside the cell (or inside `fileName` when the error is in an imported file). */
  line: number;
  column: number;
  message: string;
  /** TypeScript's error code (2322 for "Type ... is not assignable"). */
  code: number;
  /** Set when the diagnostic is in a local file the cell imports, not in the cell. */
  fileName?: string;
}

/** Turns tslab's diagnostics (0-based positions relative to the cell) into {@link CellDiagnostic}s. */
export function cellDiagnostics(codeCell: number, diagnostics: Diagnostic[]): CellDiagnostic[] {
  return diagnostics.map((d) => ({
    codeCell,
    line: d.start.line + 1,
    column: d.start.character + 1,
    message: d.messageText,
    code: d.code,
    ...(d.fileName ? { fileName: d.fileName } : {}),
  }));
}

/** Options of {@link typeCheckCells}. */
export interface TypeCheckOptions {
  /** 1-based code-cell numbers that may fail (tagged raises-exception); the chain continues past them. */
  expectErrors?: ReadonlySet<number>;
  /**
   * Start at this 0-based cell with these declarations, taken from an earlier check of the same leading
   * cells (saves re-checking them). Default: the first cell, no declarations.
   */
  start?: { index: number; prevDecl: string };
  /** Called with the declarations in force before each cell that is checked (0-based index). */
  onCell?: (index: number, prevDecl: string) => void;
}

/**
 * Type-checks code cells in order without running them, the way the kernel chains them: each cell is
 * compiled against the declarations of the cells before it. Stops at the first cell with errors (later
 * cells would only repeat them) and returns its diagnostics; an empty list means every cell compiles.
 */
export function typeCheckCells(converter: Converter, cells: string[], options: TypeCheckOptions = {}): CellDiagnostic[] {
  const expectErrors = options.expectErrors ?? new Set<number>();
  let prevDecl = options.start?.prevDecl ?? "";
  for (let i = options.start?.index ?? 0; i < cells.length; i++) {
    options.onCell?.(i, prevDecl);
    const result = converter.convert(prevDecl, cells[i]!);
    if (result.diagnostics.length > 0) {
      if (expectErrors.has(i + 1)) continue;
      return cellDiagnostics(i + 1, result.diagnostics);
    }
    // As tslab's executor does: the declaration output already carries the earlier cells' declarations.
    prevDecl = result.declOutput || "";
  }
  return [];
}
