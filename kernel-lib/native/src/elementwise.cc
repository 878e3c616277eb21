// Elementwise kernels: tanh, the broadcast binary ops and comparisons, pow, select, leakyRelu.
#include "aigc.h"

namespace aigc {

// Rational tanh (Eigen's float approximation: a 13/6 odd/even polynomial pair on [-7.9, 7.9]),
// within a few ulp of tanhf; about 20x faster than a libm call per element.
inline float TanhApprox(float x) {
  const float clamp = 7.90531110763549805f;
  float v = std::min(std::max(x, -clamp), clamp);
  if (std::fabs(x) < 0.0004f) return x;
  const float x2 = v * v;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * v;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return p / q;
}

void TanhRange(const float* x, float* y, long lo, long hi) {
  for (long i = lo; i < hi; i++) y[i] = TanhApprox(x[i]);
}

#ifdef AIGC_X86
__attribute__((target("avx2,fma"))) void TanhRangeAvx2(const float* x, float* y, long lo, long hi) {
  long i = lo;
  for (; i + 8 <= hi; i += 8) {
    const __m256 xv = _mm256_loadu_ps(x + i);
    const __m256 clamp = _mm256_set1_ps(7.90531110763549805f);
    const __m256 v = _mm256_min_ps(_mm256_max_ps(xv, _mm256_sub_ps(_mm256_setzero_ps(), clamp)), clamp);
    const __m256 x2 = _mm256_mul_ps(v, v);
    __m256 p = _mm256_set1_ps(-2.76076847742355e-16f);
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.00018790482477e-13f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-8.60467152213735e-11f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(5.12229709037114e-08f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(1.48572235717979e-05f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(6.37261928875436e-04f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(4.89352455891786e-03f));
    p = _mm256_mul_ps(p, v);
    __m256 q = _mm256_set1_ps(1.19825839466702e-06f);
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(1.18534705686654e-04f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(2.26843463243900e-03f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(4.89352518554385e-03f));
    const __m256 r = _mm256_div_ps(p, q);
    // Tiny inputs: tanh(x) = x to float precision (also keeps -0 and subnormals exact).
    const __m256 absx = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), xv);
    const __m256 small = _mm256_cmp_ps(absx, _mm256_set1_ps(0.0004f), _CMP_LT_OQ);
    __m256 out = _mm256_blendv_ps(r, xv, small);
    // NaN in, NaN out (min/max above would have replaced it with the clamp).
    const __m256 nan = _mm256_cmp_ps(xv, xv, _CMP_UNORD_Q);
    out = _mm256_blendv_ps(out, xv, nan);
    _mm256_storeu_ps(y + i, out);
  }
  TanhRange(x, y, i, hi);
}
#endif

// tanh(heap, xOff, yOff, n)
napi_value Tanh(napi_env env, napi_callback_info info) {
  Args g(env, info, 4);
  if (!g.ok) return g.Throw();
  size_t floats = 0;
  float* heap = g.Heap(0, &floats);
  const size_t xOff = static_cast<size_t>(g.Num(1)), yOff = static_cast<size_t>(g.Num(2));
  const long n = g.Int(3);
  if (!g.ok) return g.Throw();
  if (n < 0 || xOff + n > floats || yOff + n > floats) return g.Fail("tanh out of bounds"), g.Throw();
  const float* x = heap + xOff;
  float* y = heap + yOff;
  auto range = [&](long lo, long hi) {
#ifdef AIGC_X86
    if (HasAvx2()) return TanhRangeAvx2(x, y, lo, hi);
#endif
    TanhRange(x, y, lo, hi);
  };
  Pool& pool = ThePool();
  if (pool.Size() == 1 || n < 65536) {
    range(0, n);
  } else {
    const int chunks = 4 * pool.Size();
    pool.Run(chunks, [&](int c) {
      int lo, hi;
      Split(static_cast<int>(n), chunks, c, 16, &lo, &hi);
      range(lo, hi);
    });
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Elementwise binary ops with the broadcasts training uses. Each operand is seen as `size` values
// repeated: index(i) = (i / inner) % size. Same shape: size = n, inner = 1. Scalar: size = 1.
// A bias [N] over [M, N]: size = N, inner = 1. A mean [B, T, 1] over [B, T, d]: size = B*T, inner = d.
// The output is walked in runs along which each operand is either contiguous or constant, so the
// inner loops are plain vector loops.

enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };

struct Repeat {
  const float* p;
  long size;
  long inner;
};

template <int OP>
inline float Apply(float a, float b) {
  if (OP == kAdd) return a + b;
  if (OP == kSub) return a - b;
  if (OP == kMul) return a * b;
  return a / b;
}

// How many elements from i on the operand stays contiguous (true) or constant (false).
inline long RunOf(const Repeat& r, long i, bool* contiguous) {
  if (r.inner == 1 && r.size > 1) {
    *contiguous = true;
    return r.size - i % r.size;
  }
  *contiguous = false;
  return r.size == 1 ? LONG_MAX : r.inner - i % r.inner;
}

inline const float* At(const Repeat& r, long i) { return r.p + (i / r.inner) % r.size; }

template <int OP>
void BinaryRange(const Repeat& a, const Repeat& b, float* out, long lo, long hi) {
  long i = lo;
  while (i < hi) {
    bool ca, cb;
    const long ra = RunOf(a, i, &ca), rb = RunOf(b, i, &cb);
    const long len = std::min(std::min(ra, rb), hi - i);
    const float* pa = At(a, i);
    const float* pb = At(b, i);
    float* po = out + i;
    if (ca && cb) {
      for (long j = 0; j < len; j++) po[j] = Apply<OP>(pa[j], pb[j]);
    } else if (ca) {
      const float vb = *pb;
      for (long j = 0; j < len; j++) po[j] = Apply<OP>(pa[j], vb);
    } else if (cb) {
      const float va = *pa;
      for (long j = 0; j < len; j++) po[j] = Apply<OP>(va, pb[j]);
    } else {
      const float v = Apply<OP>(*pa, *pb);
      for (long j = 0; j < len; j++) po[j] = v;
    }
    i += len;
  }
}
// The arguments of binary() and compare(): (heap, op, n, aOff, aSize, aInner, bOff, bSize, bInner, outOff),
// checked: op in [0, maxOp], both operands inside the heap, and n outputs of `outBytes` bytes each from
// outOff (counted in outputs) inside it. `name` goes into the error.
struct BroadcastCall {
  float* heap = nullptr;
  int op = 0;
  long n = 0;
  Repeat a{}, b{};
  size_t out = 0;

  bool Parse(Args& g, const char* name, int maxOp, size_t outBytes) {
    size_t floats = 0;
    heap = g.Heap(0, &floats);
    op = static_cast<int>(g.Int(1));
    n = g.Int(2);
    const size_t aOff = static_cast<size_t>(g.Num(3));
    const long aSize = g.Int(4), aInner = g.Int(5);
    const size_t bOff = static_cast<size_t>(g.Num(6));
    const long bSize = g.Int(7), bInner = g.Int(8);
    out = static_cast<size_t>(g.Num(9));
    if (!g.ok) return false;
    if (op < 0 || op > maxOp || n < 0 || aSize < 1 || bSize < 1 || aInner < 1 || bInner < 1 || aOff + aSize > floats ||
        bOff + bSize > floats || out + n > floats * sizeof(float) / outBytes) {
      return g.Fail(std::string(name) + ": bad arguments"), false;
    }
    a = Repeat{heap + aOff, aSize, aInner};
    b = Repeat{heap + bOff, bSize, bInner};
    return true;
  }
};

// The arguments of an elementwise kernel with one scalar parameter: (heap, xOff, outOff, n, scalar),
// checked to lie inside the heap; `name` goes into the error.
struct ScalarUnary {
  const float* x = nullptr;
  float* y = nullptr;
  long n = 0;
  float scalar = 0;

  bool Parse(Args& g, const char* name) {
    size_t floats = 0;
    float* heap = g.Heap(0, &floats);
    const size_t xOff = static_cast<size_t>(g.Num(1)), outOff = static_cast<size_t>(g.Num(2));
    n = g.Int(3);
    scalar = static_cast<float>(g.Num(4));
    if (!g.ok) return false;
    if (n < 0 || xOff + n > floats || outOff + n > floats) return g.Fail(std::string(name) + " out of bounds"), false;
    x = heap + xOff;
    y = heap + outOff;
    return true;
  }
};

// binary(heap, op, n, aOff, aSize, aInner, bOff, bSize, bInner, outOff)
napi_value Binary(napi_env env, napi_callback_info info) {
  Args g(env, info, 10);
  BroadcastCall c;
  if (!g.ok || !c.Parse(g, "binary", kDiv, sizeof(float))) return g.Throw();
  const Repeat &a = c.a, &b = c.b;
  float* out = c.heap + c.out;
  ParallelRange(c.n, [&](long lo, long hi) {
    switch (c.op) {
      case kAdd: return BinaryRange<kAdd>(a, b, out, lo, hi);
      case kSub: return BinaryRange<kSub>(a, b, out, lo, hi);
      case kMul: return BinaryRange<kMul>(a, b, out, lo, hi);
      default: return BinaryRange<kDiv>(a, b, out, lo, hi);
    }
  });
  return nullptr;
}

// powScalar(heap, xOff, outOff, n, exponent): small integer exponents by multiplication (what
// tf.pow(x, 2 or 3) in GELU and its gradient use), others by std::pow.
napi_value PowScalar(napi_env env, napi_callback_info info) {
  Args g(env, info, 5);
  ScalarUnary u;
  if (!g.ok || !u.Parse(g, "pow")) return g.Throw();
  const float e = u.scalar;
  ParallelRange(u.n, [x0 = u.x, y0 = u.y, e](long lo, long hi) {
    const float* __restrict x = x0;
    float* __restrict y = y0;
    if (e == 0.0f) {
      for (long i = lo; i < hi; i++) y[i] = 1.0f;
    } else if (e == 1.0f) {
      for (long i = lo; i < hi; i++) y[i] = x[i];
    } else if (e == 2.0f) {
      for (long i = lo; i < hi; i++) y[i] = x[i] * x[i];
    } else if (e == 3.0f) {
      for (long i = lo; i < hi; i++) y[i] = x[i] * x[i] * x[i];
    } else if (e == 4.0f) {
      for (long i = lo; i < hi; i++) {
        const float sq = x[i] * x[i];
        y[i] = sq * sq;
      }
    } else {
      for (long i = lo; i < hi; i++) y[i] = std::pow(x[i], e);
    }
  });
  return nullptr;
}

// compare(heap, op, n, aOff, aSize, aInner, bOff, bSize, bInner, outByteOff): bool (one byte)
// results of Greater, GreaterEqual, Less, LessEqual, Equal, NotEqual with the broadcasts of Binary.
template <int OP>
inline uint8_t CompareOp(float a, float b) {
  switch (OP) {
    case 0: return a > b;
    case 1: return a >= b;
    case 2: return a < b;
    case 3: return a <= b;
    case 4: return a == b;
    default: return a != b;
  }
}

template <int OP>
void CompareRange(const Repeat& a, const Repeat& b, uint8_t* out, long lo, long hi) {
  for (long i = lo; i < hi;) {
    bool ca, cb;
    const long len = std::min(std::min(RunOf(a, i, &ca), RunOf(b, i, &cb)), hi - i);
    const float* pa = At(a, i);
    const float* pb = At(b, i);
    for (long j = 0; j < len; j++) out[i + j] = CompareOp<OP>(ca ? pa[j] : *pa, cb ? pb[j] : *pb);
    i += len;
  }
}

napi_value Compare(napi_env env, napi_callback_info info) {
  Args g(env, info, 10);
  BroadcastCall c;
  if (!g.ok || !c.Parse(g, "compare", 5, 1)) return g.Throw();
  const Repeat &a = c.a, &b = c.b;
  uint8_t* out = reinterpret_cast<uint8_t*>(c.heap) + c.out;
  ParallelRange(c.n, [&](long lo, long hi) {
    switch (c.op) {
      case 0: return CompareRange<0>(a, b, out, lo, hi);
      case 1: return CompareRange<1>(a, b, out, lo, hi);
      case 2: return CompareRange<2>(a, b, out, lo, hi);
      case 3: return CompareRange<3>(a, b, out, lo, hi);
      case 4: return CompareRange<4>(a, b, out, lo, hi);
      default: return CompareRange<5>(a, b, out, lo, hi);
    }
  });
  return nullptr;
}

// select(heap, condByteOff, tOff, eOff, outOff, n): out = cond ? t : e, all of one shape.
napi_value Select(napi_env env, napi_callback_info info) {
  Args g(env, info, 6);
  if (!g.ok) return g.Throw();
  size_t floats = 0;
  float* heap = g.Heap(0, &floats);
  const size_t cByte = static_cast<size_t>(g.Num(1)), tOff = static_cast<size_t>(g.Num(2)), eOff = static_cast<size_t>(g.Num(3)),
               outOff = static_cast<size_t>(g.Num(4));
  const long n = g.Int(5);
  if (!g.ok) return g.Throw();
  if (n < 0 || cByte + n > floats * sizeof(float) || tOff + n > floats || eOff + n > floats || outOff + n > floats) {
    return g.Fail("select out of bounds"), g.Throw();
  }
  const uint8_t* c = reinterpret_cast<const uint8_t*>(heap) + cByte;
  const float* t = heap + tOff;
  const float* e = heap + eOff;
  float* out = heap + outOff;
  ParallelRange(n, [c, t, e, out](long lo, long hi) {
    const uint8_t* __restrict cs = c;
    const float* __restrict ts = t;
    const float* __restrict es = e;
    float* __restrict os = out;
    // Both loads first, then a select: lets the compiler use a blend instead of a branch.
    for (long i = lo; i < hi; i++) {
      const float tv = ts[i], ev = es[i];
      os[i] = cs[i] ? tv : ev;
    }
  });
  return nullptr;
}

// leakyRelu(heap, xOff, outOff, n, alpha)
napi_value LeakyRelu(napi_env env, napi_callback_info info) {
  Args g(env, info, 5);
  ScalarUnary u;
  if (!g.ok || !u.Parse(g, "leakyRelu")) return g.Throw();
  ParallelRange(u.n, [x = u.x, y = u.y, alpha = u.scalar](long lo, long hi) {
    // Written without a branch: a data-dependent branch cost 5 ns an element on random signs.
    // (max/min keep NaN and -0 exactly as `x < 0 ? alpha x : x` does.)
    const float* __restrict xs = x;
    float* __restrict ys = y;
    for (long i = lo; i < hi; i++) ys[i] = std::max(xs[i], 0.0f) + alpha * std::min(xs[i], 0.0f);
  });
  return nullptr;
}

}  // namespace aigc
