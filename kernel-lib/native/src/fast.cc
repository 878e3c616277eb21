// aigc_fast: native kernels for the TensorFlow.js wasm backend (see kernel-lib/src/fast.ts).
//
// Why: tfjs-backend-wasm runs one thread in Node and its transposed matMul is 12-25x slower than
// the plain one, so training steps spend most of their time in matMul. These kernels read and write
// tensors in place in the wasm heap (an ArrayBuffer plus float offsets), so nothing is copied.
//
// Design notes:
// - SGEMM is the BLIS scheme: pack a KC x NC panel of B and an MC x KC block of A into MR/NR-wide
//   slivers, then a 6x16 register-blocked micro-kernel. Packing reads through row/column strides,
//   which makes every transpose flag free.
// - The AVX2/FMA micro-kernel is compiled with __attribute__((target)) and chosen by a runtime CPU
//   check, so the addon loads (with a portable kernel) on CPUs without AVX2.
// - Threads wait on a condition variable, never spin: with 2 cores shared with other processes a
//   spinning pool slowed a kernel 7x. Work is split into chunks claimed from a counter, so a worker
//   that the OS does not schedule in time never delays a call.
//
// Files: aigc.h (the pool, argument parsing, SGEMM declarations), runtime.cc (the pool), sgemm.cc,
// reductions.cc, elementwise.cc, conv.cc, norm.cc,
// optim.cc;
// this file registers them.

#include "aigc.h"

namespace aigc {
namespace {

// info(): { simd: "avx2" | "portable", threads }
napi_value Info(napi_env env, napi_callback_info) {
  napi_value obj, simd, threads;
  napi_create_object(env, &obj);
  const char* s = HasAvx2() ? "avx2" : "portable";
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &simd);
  napi_create_int32(env, ThePool().Size(), &threads);
  napi_set_named_property(env, obj, "simd", simd);
  napi_set_named_property(env, obj, "threads", threads);
  return obj;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sum", nullptr, Sum, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"tanh", nullptr, Tanh, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"powScalar", nullptr, PowScalar, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"compare", nullptr, Compare, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"select", nullptr, Select, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"leakyRelu", nullptr, LeakyRelu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2d", nullptr, Conv2D, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2DBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2DBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupNormForward", nullptr, GroupNormForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupNormBackward", nullptr, GroupNormBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adam", nullptr, Adam, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}


}  // namespace
}  // namespace aigc

NAPI_MODULE(NODE_GYP_MODULE_NAME, aigc::Init)
