/**
 * The `aigc-lab` kernelspec: where Jupyter looks for it, and how this checkout registers and removes it.
 * Registration only writes files, so it works whether or not Jupyter is installed.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const KERNEL_NAME = "aigc-lab";
export const DISPLAY_NAME = "TypeScript (aigc-lab)";

export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode?: "signal" | "message";
  env?: Record<string, string>;
  metadata?: Record<string, unknown>;
}

/** The repository root (the folder holding this project's package.json). */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, "utf8")).name === "aigc-lab") return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the aigc-lab checkout above ${__dirname}`);
    dir = up;
  }
}

/** Jupyter's per-user data directory, as jupyter_core computes it on Linux and macOS. */
export function userDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  const home = env.HOME || os.homedir();
  if (process.platform === "darwin") return path.join(home, "Library", "Jupyter");
  if (process.platform === "win32") return path.join(env.APPDATA || path.join(home, "AppData", "Roaming"), "jupyter");
  return path.join(env.XDG_DATA_HOME || path.join(home, ".local", "share"), "jupyter");
}

/** The folders Jupyter searches for kernelspecs, in its order. */
export function kernelSearchPath(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs = [
    ...(env.JUPYTER_PATH ? env.JUPYTER_PATH.split(path.delimiter).filter(Boolean) : []),
    userDataDir(env),
    path.join(process.env.VIRTUAL_ENV ?? "/usr", "share", "jupyter"),
    "/usr/local/share/jupyter",
    "/usr/share/jupyter",
  ];
  return [...new Set(dirs)].map((d) => path.join(d, "kernels"));
}

/** The spec this checkout registers: our kernel, started with this Node from this checkout's build. */
export function specForThisCheckout(root = repoRoot()): KernelSpec {
  return {
    argv: [process.execPath, path.join(root, "build", "kernel", "main.js"), "{connection_file}"],
    display_name: DISPLAY_NAME,
    language: "typescript",
    interrupt_mode: "signal",
    metadata: { checkout: root },
  };
}

/** Writes the kernelspec into the user's Jupyter data directory and returns its folder. */
export function installKernelSpec(env: NodeJS.ProcessEnv = process.env, spec = specForThisCheckout()): string {
  const dir = path.join(userDataDir(env), "kernels", KERNEL_NAME);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `kernel.json.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(spec, null, 2) + "\n");
  fs.renameSync(tmp, path.join(dir, "kernel.json"));
  return dir;
}

/** Removes the user's aigc-lab kernelspec; returns the folder removed, or null if there was none. */
export function removeKernelSpec(env: NodeJS.ProcessEnv = process.env): string | null {
  const dir = path.join(userDataDir(env), "kernels", KERNEL_NAME);
  if (!fs.existsSync(dir)) return null;
  fs.rmSync(dir, { recursive: true, force: true });
  return dir;
}

/** Finds a kernelspec by name along Jupyter's search path; throws a clear error when it is not registered. */
export function findKernelSpec(name = KERNEL_NAME, env: NodeJS.ProcessEnv = process.env): { dir: string; spec: KernelSpec } {
  const searched = kernelSearchPath(env);
  for (const base of searched) {
    const file = path.join(base, name, "kernel.json");
    if (fs.existsSync(file)) {
      let spec: KernelSpec;
      try {
        spec = JSON.parse(fs.readFileSync(file, "utf8"));
      } catch (e) {
        throw new Error(`kernelspec ${file} is not valid JSON: ${(e as Error).message}`);
      }
      if (!Array.isArray(spec.argv) || spec.argv.length === 0) throw new Error(`kernelspec ${file} has no argv`);
      return { dir: path.dirname(file), spec };
    }
  }
  throw new Error(`kernelspec "${name}" is not registered (searched ${searched.join(", ")}); run: npm run kernel:install`);
}

/**
 * The spec to run a notebook with: the registered one, except that an aigc-lab kernel registered by
 * another checkout (its metadata.checkout names another folder) is replaced by this checkout's, with a
 * notice through `warn`: running this checkout's notebooks on another checkout's code would test the
 * wrong thing, or fail when that folder is gone.
 */
export function kernelSpecForRun(name = KERNEL_NAME, env: NodeJS.ProcessEnv = process.env, warn: (line: string) => void = (l) => console.warn(l)): KernelSpec {
  const found = findKernelSpec(name, env);
  const checkout = found.spec.metadata?.["checkout"];
  const here = repoRoot();
  if (name === KERNEL_NAME && typeof checkout === "string" && path.resolve(checkout) !== here) {
    warn(
      `aigc-lab: the registered kernel "${KERNEL_NAME}" (${found.dir}) runs the checkout ${checkout}; running this checkout's kernel (${here}) instead. ` +
        "`npm run kernel:install` registers this checkout for Jupyter.",
    );
    return specForThisCheckout(here);
  }
  return found.spec;
}

/** `node build/kernel/kernelspec.js install|remove|show`. */
function cli(argv: string[]): void {
  const cmd = argv[0] ?? "show";
  if (cmd === "install") {
    const dir = installKernelSpec();
    console.log(`aigc-lab: registered Jupyter kernel "${DISPLAY_NAME}" in ${dir}`);
  } else if (cmd === "remove") {
    const dir = removeKernelSpec();
    console.log(dir ? `aigc-lab: removed kernel ${dir}` : `aigc-lab: no kernel "${KERNEL_NAME}" in ${userDataDir()}`);
  } else if (cmd === "show") {
    const { dir, spec } = findKernelSpec();
    console.log(`${dir}\n${JSON.stringify(spec, null, 2)}`);
  } else {
    console.error(`usage: kernelspec install|remove|show (got "${cmd}")`);
    process.exitCode = 2;
  }
}

if (require.main === module) cli(process.argv.slice(2));
