/** kernel-lib: the library every aigc-lab lesson imports. This file only re-exports. */
export * as tf from "@tensorflow/tfjs";
export * from "./backend";
export * from "./random";
export * from "./check";
export * from "./plot";
export * from "./display";
export * from "./png";
export * from "./mode";
export * from "./checkpoint";
export * from "./train";
export * from "./exercise";
export * from "./report";
export * from "./fashion-mnist";
export * from "./wasm-kernels";
export * from "./fast";
