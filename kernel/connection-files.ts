/**
 * The connection files the runner (kernel/client.ts) writes for its kernels. Each holds the kernel's key,
 * so it is mode 0600, in a 0700 folder named `aigc-kernel-<runner pid>-<random>` in the temporary folder;
 * a runner killed before it could clean up leaves its folder behind, and the next runner to start removes
 * the folders whose pid no longer runs.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as net from "node:net";

/** Connection folders are `aigc-kernel-<pid of the runner>-<random>` in the temporary folder. */
const CONNECTION_DIR = /^aigc-kernel-(\d+)-[A-Za-z0-9]{6}$/;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the connection folders (each holding a kernel's key) of runners that died without cleaning up
 * (kill -9): those in `base` named with a pid that no longer runs, and owned by this user. Returns them.
 */
export function removeStaleConnectionDirs(base = os.tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(base);
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const m = CONNECTION_DIR.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    const full = path.join(base, name);
    try {
      const st = fs.lstatSync(full);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      fs.rmSync(full, { recursive: true, force: true });
      removed.push(full);
    } catch {
      // Gone already (another runner swept it), or not ours to remove.
    }
  }
  return removed;
}

/** Removes stale folders, then writes `connection` to a fresh folder of this runner; returns the file. */
export function writeConnectionFile(connection: Record<string, unknown>): string {
  removeStaleConnectionDirs();
  // mkdtemp makes the folder 0700; the pid in its name lets a later runner see when this one is gone.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `aigc-kernel-${process.pid}-`));
  const file = path.join(dir, "kernel.json");
  // It holds the key: readable by this user only, whatever the umask.
  fs.writeFileSync(file, JSON.stringify(connection), { mode: 0o600, flag: "wx" });
  return file;
}

/** A free TCP port on the loopback interface, for one of a connection file's five channels. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
