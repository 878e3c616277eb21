/**
 * kernel-lib: the library every aigc-lab lesson imports. This file only re-exports, layer by layer (a lower
 * layer never imports a higher one; checks/layout.test.ts enforces it):
 * runtime <- nn, data, notebook, metrics <- train <- models.
 */
export * as tf from "@tensorflow/tfjs";

// runtime/: backend choice, the native route, event-loop turns, quick/full mode, seeded randomness
export * from "./runtime/backend";
export * from "./runtime/native";
export * from "./runtime/fast";
export { RepeatPattern, repeatPattern } from "./runtime/native-elementwise";
export * from "./runtime/wasm-kernels";
export * from "./runtime/native-conv";
export { groupNormOps, registerImageKernels } from "./runtime/image-kernels";
export * from "./runtime/event-loop";
export * from "./runtime/mode";
export * from "./runtime/random";

// nn/: what every model is built from
export { ShapeError } from "./nn/errors";
export * from "./nn/linear";
export * from "./nn/activations";
export { uniformInit } from "./nn/init";
export * from "./nn/conv";
export * from "./nn/layer-norm";
export * from "./nn/group-norm";
export * from "./nn/losses";
export * from "./nn/network";
export * from "./nn/mlp";
export * from "./nn/assign";

// data/: the data sets and corpora
export * from "./data/idx";
export * from "./data/fashion-mnist";
export * from "./data/text";
export * from "./data/ring";
export * from "./data/gaussian-classes";
export * from "./data/epoch-order";
export * from "./data/dates";

// notebook/: what a notebook shows
export * from "./notebook/display";
export * from "./notebook/charts";
export * from "./notebook/images";
export * from "./notebook/progress";
export * from "./notebook/plot";
export * from "./notebook/rich";
export * from "./notebook/png";
export * from "./notebook/report";
export * from "./notebook/exercise";
export * from "./notebook/check";
export * from "./notebook/records";
export * from "./notebook/format";
export { CommHandle, CommMessage, KernelComms, kernelComms, putBuffers, removeBuffers } from "./notebook/widgets/comm";
export * from "./notebook/widgets/model";
export * from "./notebook/widgets/controls";
export * from "./notebook/widgets/interact";
export * from "./notebook/lesson-checks/01-attention";
export * from "./notebook/lesson-checks/03-encoder-decoder";
export * from "./notebook/lesson-checks/04-vae";
export * from "./notebook/lesson-checks/05-gan";

// metrics/: FID, KID and class coverage of generated images, in float64
export * from "./metrics/linalg";
export * from "./metrics/fid";
export * from "./metrics/kid";
export * from "./metrics/classes";

// train/: the training loop and checkpoints
export * from "./train/train";
export * from "./train/checkpoint";
export * from "./train/fused-adam";

// models/: attention and the Transformer, the VAE, the GANs, diffusion
export * from "./models/attention";
export * from "./models/transformer/tokenizer";
export * from "./models/transformer/positional-encoding";
export * from "./models/transformer/block";
export * from "./models/transformer/char-gpt";
export * from "./models/transformer/sampling";
export * from "./models/transformer/kv-cache";
export * from "./models/transformer/char-lm";
export * from "./models/transformer/bpe";
export * from "./models/transformer/ngram";
export * from "./models/transformer/checks";
export * from "./models/transformer/char-gpt-record";
export * from "./models/transformer/attention-maps";
export * from "./models/vae/losses";
export * from "./models/vae/vae-base";
export * from "./models/vae/vae";
export * from "./models/vae/conv-vae";
export * from "./models/vae/trainer";
export * from "./models/vae/records";
export * from "./models/gan/losses";
export { ConvDiscriminator, ConvGanOptions, ConvGenerator } from "./models/gan/networks";
export * from "./models/gan/packing";
export * from "./models/gan/dcgan";
export * from "./models/gan/gan";
export * from "./models/gan/shipped";
export * from "./models/gan/presets";
export * from "./models/gan/ring-shipped";
export * from "./models/gan/ring-plots";
export * from "./models/diffusion/schedules";
export { posteriorCoefficients, predictX0, qSample, qStep, sampleTimesteps } from "./models/diffusion/forward";
export * from "./models/diffusion/time-embedding";
export * from "./models/diffusion/denoiser";
export * from "./models/diffusion/denoiser-mlp";
export * from "./models/diffusion/unet";
export * from "./models/diffusion/loss";
export * from "./models/diffusion/samplers";
export * from "./models/diffusion/guidance";
export * from "./models/diffusion/trainer";
export * from "./models/diffusion/records";
export * from "./models/diffusion/ring-recipes";
export * from "./models/seq2seq/vocab";
export * from "./models/cross-attention";
export * from "./models/seq2seq/encoder-decoder";
export * from "./models/seq2seq/decode";
export * from "./models/seq2seq/trainer";
export * from "./models/seq2seq/dates-task";
export * from "./models/latent/autoencoder";
export * from "./models/latent/condition";
export * from "./models/latent/latent-unet";
export * from "./models/latent/pipeline";
export * from "./models/latent/evaluate";
export * from "./models/latent/checks";
export * from "./models/latent/records";
export * from "./models/classifier/fashion-classifier";
export * from "./models/classifier/trainer";
export * from "./models/classifier/evaluate";
// models/scoring/: the six image models behind one interface, and the one FID/KID table for all of them
export * from "./models/scoring/image-models";
export * from "./models/scoring/score-table";
export * from "./models/diffusion/checks";

// models/exercises/: every lesson's exercise checks, behind one checkExercise(id, answer)
export * from "./models/exercises/predictions";
export * from "./models/exercises/check";
export * from "./models/exercises/00-tour";
export * from "./models/exercises/01-attention";
export * from "./models/exercises/02-transformer";
export * from "./models/exercises/03-encoder-decoder";
export * from "./models/exercises/04-vae";
export * from "./models/exercises/05-gan";
export * from "./models/exercises/06-diffusion";
export * from "./models/exercises/07-latent-diffusion";
