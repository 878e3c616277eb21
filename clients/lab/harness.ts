/**
 * The Node side of the JupyterLab check: bundles clients/lab/page.ts with esbuild, starts Debian's
 * jupyter-server (/usr/bin/python3 -m jupyter_server) on the lessons folder with this checkout's aigc-lab
 * kernelspec in a private Jupyter data directory (so another checkout's registration cannot be picked),
 * serves the page from the server's own /static/ (same origin as the kernel WebSocket), and opens it in
 * Debian's Chromium under puppeteer-core.
 */
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as esbuild from "esbuild";
import puppeteer, { Browser, Page } from "puppeteer-core";
import { installKernelSpec, repoRoot } from "../../kernel/kernelspec";
import type { ServerInfo } from "./protocol";

export const PYTHON = "/usr/bin/python3";
export const CHROMIUM = "/usr/bin/chromium";

/** Why the check cannot run here, with the fix; null when Debian's jupyter-server and Chromium are installed. */
export function missingTools(): string | null {
  const missing: string[] = [];
  if (!fs.existsSync(PYTHON)) missing.push(`${PYTHON} (apt-get install -y python3)`);
  else if (!fs.existsSync("/usr/lib/python3/dist-packages/jupyter_server")) missing.push("jupyter_server for /usr/bin/python3 (apt-get install -y python3-jupyter-server)");
  if (!fs.existsSync(CHROMIUM)) missing.push(`${CHROMIUM} (apt-get install -y chromium)`);
  return missing.length ? `the JupyterLab check needs ${missing.join(" and ")}` : null;
}

/**
 * Bundles a page into `dir`: `entry` (default page.ts) as `<name>.js` (default lab), its CSS imports as
 * `<name>.css`, style.css, and index.html (or `<name>.html` for another page); returns the script's size.
 */
export async function bundlePage(dir: string, page: { entry?: string; name?: string; title?: string } = {}): Promise<number> {
  const here = path.join(repoRoot(), "clients", "lab");
  const name = page.name ?? "lab";
  fs.mkdirSync(dir, { recursive: true });
  await esbuild.build({
    entryPoints: { [name]: path.join(here, page.entry ?? "page.ts"), "lab-style": path.join(here, "style.css") },
    outdir: dir,
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "chrome120",
    minify: true,
    sourcemap: false,
    logLevel: "error",
    define: { "process.env.NODE_ENV": '"production"' },
    loader: { ".svg": "dataurl", ".woff": "dataurl", ".woff2": "dataurl", ".ttf": "dataurl", ".eot": "dataurl", ".png": "dataurl", ".gif": "dataurl" },
  });
  const title = page.title ?? "aigc-lab in JupyterLab's OutputArea";
  const css = fs.existsSync(path.join(dir, `${name}.css`)) ? `<link rel="stylesheet" href="${name}.css">` : "";
  fs.writeFileSync(
    path.join(dir, name === "lab" ? "index.html" : `${name}.html`),
    `<!doctype html><html><head><meta charset="utf-8"><title>${title.replace(/'/g, "&#39;")}</title>${css}<link rel="stylesheet" href="lab-style.css"></head><body data-jp-theme-light="true"><script src="${name}.js"></script></body></html>\n`,
  );
  return fs.statSync(path.join(dir, `${name}.js`)).size;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface JupyterServer extends ServerInfo {
  /** The server's log so far (stdout and stderr). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts jupyter-server on `rootDir` with only this checkout's kernelspec visible and `env` added to the
 * kernels' environment (e.g. AIGC_MODE=quick), serving `staticDir` under /static/.
 */
export async function startJupyterServer(rootDir: string, staticDir: string, env: Record<string, string>): Promise<JupyterServer> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-jupyter-"));
  const jupyterEnv = {
    JUPYTER_DATA_DIR: path.join(home, "data"),
    JUPYTER_CONFIG_DIR: path.join(home, "config"),
    JUPYTER_RUNTIME_DIR: path.join(home, "runtime"),
    JUPYTER_PATH: path.join(home, "data"),
    JUPYTER_PLATFORM_DIRS: "0",
  };
  installKernelSpec({ ...process.env, ...jupyterEnv });
  const port = await freePort();
  const token = randomBytes(16).toString("hex");
  const args = [
    "-m",
    "jupyter_server",
    "--no-browser",
    "--ServerApp.ip=127.0.0.1",
    `--ServerApp.port=${port}`,
    "--ServerApp.port_retries=0",
    `--ServerApp.token=${token}`,
    `--ServerApp.root_dir=${rootDir}`,
    "--ServerApp.extra_static_paths",
    staticDir,
    // Only the aigc-lab kernelspec: the Debian python3 kernel must not be what a session falls back to.
    "--KernelSpecManager.allowed_kernelspecs",
    "aigc-lab",
    // CI runs as root; jupyter-server refuses that unless told.
    ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
  ];
  const child: ChildProcess = spawn(PYTHON, args, { cwd: rootDir, env: { ...process.env, ...jupyterEnv, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const baseUrl = `http://127.0.0.1:${port}/`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    fs.rmSync(home, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`jupyter-server exited with ${child.exitCode} before answering:\n${log}`);
    try {
      const r = await fetch(`${baseUrl}api/status`, { headers: { Authorization: `token ${token}` } });
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`jupyter-server did not answer on ${baseUrl} within 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { baseUrl, token, log: () => log, stop };
}

/** Debian's Chromium, headless, with a fresh profile and nothing that reaches the network. */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "aigc-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    protocolTimeout: 900_000,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Opens a bundled page (default index.html) from the server's /static/ and waits until `window[global].ready`;
 * page-level problems go to `problems`.
 */
export async function openPage(browser: Browser, server: ServerInfo, problems: string[], options: { html?: string; global?: string } = {}): Promise<Page> {
  const tab = await browser.newPage();
  tab.on("pageerror", (e) => problems.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
  tab.on("requestfailed", (r) => {
    const error = r.failure()?.errorText ?? "";
    // Shutting a session down cancels the model poll JupyterLab keeps running on it (GET /api/sessions/<id>).
    if (error === "net::ERR_ABORTED" && new URL(r.url()).pathname.startsWith("/api/")) return;
    problems.push(`failed to load ${r.url()}: ${error}`);
  });
  await tab.setViewport({ width: 1100, height: 900 });
  const global = options.global ?? "aigcLab";
  await tab.goto(`${server.baseUrl}static/${options.html ?? "index.html"}`, { waitUntil: "load" });
  await tab.waitForFunction(`window.${global} !== undefined && window.${global}.ready === true`, { timeout: 20_000 });
  return tab;
}
