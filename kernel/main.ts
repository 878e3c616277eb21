/**
 * Entry point of the aigc-lab kernel: `node build/kernel/main.js <connection file>` (see kernelspec.ts).
 * The kernel serves the notebook in its working directory; kernel/server.ts has the protocol.
 */
// First the parent's pid, before the slow start-up; then kernel/converter, which must set up tslab's
// TypeScript module before anything loads tslab's converter.
import { STARTED_BY, starterGone } from "./parent";
import "./converter";
import { KernelServer, readConnectionFile } from "./server";
import { unsignedWarning } from "./wire";

async function main(argv: string[]): Promise<void> {
  const file = argv[0];
  if (!file) {
    console.error("usage: node build/kernel/main.js <connection file>");
    process.exit(2);
  }
  // Orphaned while loading? Then do not spend seconds creating a compiler nobody will use.
  if (starterGone()) process.exit(0);
  const connection = readConnectionFile(file);
  const warning = unsignedWarning(connection, file);
  if (warning) console.error(warning);
  const server = new KernelServer({ connection, parentPid: STARTED_BY });
  await server.start();
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(`aigc-lab kernel failed to start: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
