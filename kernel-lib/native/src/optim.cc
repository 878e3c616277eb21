// Fused optimizer steps (kernel-lib/src/fused-adam.ts): Adam and AdamW as one pass over each
// variable's value, gradient and moments, instead of the dozen elementwise kernels (each a pass over
// memory) tfjs's AdamOptimizer runs per variable.

#include "aigc.h"

namespace aigc {

// adam(heap, n, valueOff, gradOff, mOff, vOff, outOff, params): with params a Float32Array
// [beta1, 1 - beta1, beta2, 1 - beta2, 1 - beta1^t, 1 - beta2^t, epsilon, -learningRate, keep]:
//   m = m beta1 + g (1 - beta1);  v = v beta2 + g^2 (1 - beta2)          (in place)
//   out = (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon) (-lr) + value keep
// in float32 and in tfjs's AdamOptimizer's order of operations, so the numbers are tf.train.adam's;
// keep = 1 - lr weightDecay is AdamW's decoupled decay (1: plain Adam). Offsets in floats; out may be
// value itself.
napi_value Adam(napi_env env, napi_callback_info info) {
  Args g(env, info, 8);
  if (!g.ok) return g.Throw();
  size_t floats = 0;
  float* heap = g.Heap(0, &floats);
  const long n = g.Int(1);
  const size_t valueOff = static_cast<size_t>(g.Num(2)), gradOff = static_cast<size_t>(g.Num(3)), mOff = static_cast<size_t>(g.Num(4)),
               vOff = static_cast<size_t>(g.Num(5)), outOff = static_cast<size_t>(g.Num(6));
  if (!g.ok) return g.Throw();
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, g.v[7], &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_float32_array || length != 9) {
    return g.Fail("adam: params must be a Float32Array of 9"), g.Throw();
  }
  if (n < 0 || valueOff + n > floats || gradOff + n > floats || mOff + n > floats || vOff + n > floats || outOff + n > floats) {
    return g.Fail("adam out of bounds"), g.Throw();
  }
  const float* p = static_cast<const float*>(data);
  const float b1 = p[0], c1 = p[1], b2 = p[2], c2 = p[3], oma1 = p[4], oma2 = p[5], eps = p[6], negLr = p[7], keep = p[8];
  const bool decay = keep != 1.0f;
  const float* value = heap + valueOff;
  const float* grad = heap + gradOff;
  float* m = heap + mOff;
  float* v = heap + vOff;
  float* out = heap + outOff;
  ParallelRange(n, [=](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      const float gi = grad[i];
      const float mi = m[i] * b1 + gi * c1;
      const float vi = v[i] * b2 + (gi * gi) * c2;
      m[i] = mi;
      v[i] = vi;
      const float mh = mi / oma1;
      const float vh = vi / oma2;
      const float w = decay ? value[i] * keep : value[i];
      out[i] = (mh / (std::sqrt(vh) + eps)) * negLr + w;
    }
  });
  return nullptr;
}

}  // namespace aigc
