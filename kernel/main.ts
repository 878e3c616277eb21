/** Entry point of the aigc-lab kernel (argv: the connection file). */
import { startKernel } from "tslab/dist/main";

startKernel({ configPath: process.argv[2] ?? "", enableFindLocal: false, jsKernel: false, globalVersion: "" });
