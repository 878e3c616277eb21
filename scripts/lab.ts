/**
 * `npm run lab`: opens the lessons (notebooks/) in the Jupyter installed on this machine, JupyterLab when
 * there is one, else the classic Notebook, with this checkout's aigc-lab kernel registered first. With no
 * Jupyter installed it says how to get one and exits 1; `npm start` needs no Jupyter at all.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { DISPLAY_NAME, installKernelSpec, repoRoot } from "../kernel/kernelspec";
import { OptionError, readCommandLine } from "./options";

export const USAGE = `usage: npm run lab

Registers this checkout's aigc-lab kernel and opens notebooks/ in the Jupyter on the PATH: JupyterLab
(jupyter-lab) if there is one, else the classic Notebook (jupyter-notebook). It takes no options.

  -h, --help   print this and exit`;

/** A Jupyter front end found on the PATH. */
export interface JupyterFrontEnd {
  name: "JupyterLab" | "Jupyter Notebook";
  /** Absolute path of its launcher. */
  command: string;
}

/** What to do when no Jupyter is installed. */
export const INSTALL_HINT = `npm run lab: no Jupyter found on the PATH (looked for jupyter-lab and jupyter-notebook).
Install one, then run npm run lab again:
  pip install jupyterlab                      (JupyterLab, in a Python environment of yours)
  sudo apt-get install jupyter-notebook       (Debian/Ubuntu: the classic Notebook)
Without Jupyter, npm start still runs every lesson and writes HTML reports to reports/.`;

/** The first executable called `name` on `searchPath` (a PATH string), or null. */
export function findExecutable(name: string, searchPath: string): string | null {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return null;
}

/** JupyterLab if it is installed, else the classic Notebook, else null. */
export function findJupyter(searchPath = process.env.PATH ?? ""): JupyterFrontEnd | null {
  const lab = findExecutable("jupyter-lab", searchPath);
  if (lab) return { name: "JupyterLab", command: lab };
  const notebook = findExecutable("jupyter-notebook", searchPath);
  if (notebook) return { name: "Jupyter Notebook", command: notebook };
  return null;
}

/** Runs `npm run lab` with its arguments (none but --help); resolves to the exit code. */
export async function lab(argv: readonly string[] = []): Promise<number> {
  const cmd = readCommandLine("npm run lab", USAGE, argv, (args) => {
    if (args.length) throw new OptionError(`unexpected argument ${JSON.stringify(args[0])}: npm run lab takes no options`);
  });
  if (!("run" in cmd)) {
    if (cmd.stdout) process.stdout.write(cmd.stdout);
    if (cmd.stderr) process.stderr.write(cmd.stderr);
    return cmd.exit;
  }
  const front = findJupyter();
  if (!front) {
    console.error(INSTALL_HINT);
    return 1;
  }
  const root = repoRoot();
  const notebooks = path.join(root, "notebooks");
  const specDir = installKernelSpec();
  console.log(`npm run lab: kernel "${DISPLAY_NAME}" registered in ${specDir}`);
  console.log(`npm run lab: starting ${front.name} (${front.command}) in ${notebooks}; stop it with Ctrl-C`);
  // Jupyter serves the folder it starts in; the lessons are the only thing it should show.
  const child = spawn(front.command, [], { cwd: notebooks, stdio: "inherit" });
  // Ctrl-C reaches Jupyter too (same process group); it asks for confirmation and exits, and we follow.
  const ignore = () => {};
  process.on("SIGINT", ignore);
  return new Promise((resolve) => {
    child.on("error", (e) => {
      console.error(`npm run lab: could not start ${front.command}: ${e.message}`);
      resolve(1);
    });
    child.on("exit", (code, signal) => {
      process.off("SIGINT", ignore);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

if (require.main === module) {
  lab(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
