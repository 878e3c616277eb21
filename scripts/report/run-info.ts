/**
 * Asks a kernel, after a lesson's cells, what kernel-lib ran with (seed, backend, mode, versions): one
 * extra execute whose output never enters the notebook. Only a kernel-lib the lesson already loaded is
 * asked, so a lesson that never imported it reports nothing rather than a fresh module's defaults.
 */
import type { KernelClient } from "../../kernel/client";

/** kernel-lib's RunInfo (kernel-lib/src/notebook/report.ts), as it comes back over the wire. */
export interface KernelRunInfo {
  seed: number;
  backend: string | null;
  mode: string;
  versions: Record<string, string>;
}

const MARKER = "AIGC_RUN_INFO ";

// Written for any CommonJS TypeScript kernel: the cell finds kernel-lib among the loaded modules.
const QUERY = `{
  const id = Object.keys(require.cache).find((k) => /[\\\\/]kernel-lib[\\\\/]dist[\\\\/]index\\.js$/.test(k));
  const lib = id ? require(id) : null;
  console.log(${JSON.stringify(MARKER)} + JSON.stringify(lib && typeof lib.runInfo === "function" ? lib.runInfo() : null));
}`;

function parse(text: string): KernelRunInfo | null {
  const line = text.split("\n").find((l) => l.startsWith(MARKER));
  if (!line) return null;
  const value = JSON.parse(line.slice(MARKER.length)) as KernelRunInfo | null;
  return value && typeof value.seed === "number" ? value : null;
}

/** The lesson's run info, or null when kernel-lib was not loaded or the kernel did not answer. */
export async function queryRunInfo(kernel: KernelClient, timeoutMs = 10000): Promise<KernelRunInfo | null> {
  // A kernel may abort requests that arrive just after an error (plain tslab answers "abort" for 200 ms): retry.
  for (let attempt = 0; attempt < 3; attempt++) {
    const result = await kernel.execute(QUERY, { timeoutMs });
    if (result.status === "ok") {
      const stdout = result.outputs.map((o) => (o.output_type === "stream" && o.name === "stdout" ? o.text : "")).join("");
      return parse(stdout);
    }
    if (result.status !== "abort" && result.status !== "aborted") return null;
    await new Promise((r) => setTimeout(r, 300));
  }
  return null;
}
