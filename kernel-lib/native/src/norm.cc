// Group normalization over NHWC (kernel-lib/src/image-kernels.ts): the forward pass, which also keeps
// each group's mean and 1/sqrt(var + eps) for the backward pass, and the backward pass giving dx,
// dgamma and dbeta. Statistics are summed in double. Images are spread over the pool; per-image
// partial dgamma/dbeta are added in image order, so results do not depend on scheduling.

#include "aigc.h"

namespace aigc {
namespace {

struct NormGeo {
  long n, hw, c, groups;
  long cg() const { return c / groups; }
};

bool ParseNorm(Args& g, NormGeo* geo) {
  geo->n = g.Int(1);
  geo->hw = g.Int(2);
  geo->c = g.Int(3);
  geo->groups = g.Int(4);
  if (!g.ok) return false;
  if (geo->n < 0 || geo->hw < 0 || geo->c < 1 || geo->groups < 1 || geo->c % geo->groups != 0) {
    return g.Fail("groupNorm: bad sizes (channels must split into the groups)"), false;
  }
  return true;
}

// Runs f(image) for every image, on the pool when there is enough work.
void ForImages(long n, long perImage, const std::function<void(long)>& f) {
  Pool& pool = ThePool();
  if (pool.Size() == 1 || n < 2 || n * perImage < 65536) {
    for (long i = 0; i < n; i++) f(i);
    return;
  }
  pool.Run(static_cast<int>(n), [&](int i) { f(i); });
}

}  // namespace

// groupNormForward(heap, n, hw, c, groups, eps, xOff, gammaOff, betaOff, yOff, meanOff, rstdOff):
// y = (x - mean) rstd gamma + beta per (image, group); mean and rstd are [n, groups].
napi_value GroupNormForward(napi_env env, napi_callback_info info) {
  Args g(env, info, 12);
  NormGeo e{};
  if (!g.ok || !ParseNorm(g, &e)) return g.Throw();
  size_t floats = 0;
  float* heap = g.Heap(0, &floats);
  const double eps = g.Num(5);
  const size_t xOff = static_cast<size_t>(g.Num(6)), gOff = static_cast<size_t>(g.Num(7)), bOff = static_cast<size_t>(g.Num(8)),
               yOff = static_cast<size_t>(g.Num(9)), mOff = static_cast<size_t>(g.Num(10)), rOff = static_cast<size_t>(g.Num(11));
  if (!g.ok) return g.Throw();
  const size_t total = static_cast<size_t>(e.n * e.hw * e.c), stats = static_cast<size_t>(e.n * e.groups);
  if (xOff + total > floats || yOff + total > floats || gOff + e.c > floats || bOff + e.c > floats || mOff + stats > floats || rOff + stats > floats) {
    return g.Fail("groupNormForward out of bounds"), g.Throw();
  }
  const long cg = e.cg();
  ForImages(e.n, e.hw * e.c, [&](long i) {
    const float* x = heap + xOff + i * e.hw * e.c;
    float* y = heap + yOff + i * e.hw * e.c;
    std::vector<double> sum(e.groups, 0.0), sq(e.groups, 0.0);
    for (long p = 0; p < e.hw; p++) {
      const float* row = x + p * e.c;
      for (long gr = 0; gr < e.groups; gr++) {
        double s = 0, q = 0;
        for (long j = 0; j < cg; j++) {
          const double v = row[gr * cg + j];
          s += v;
          q += v * v;
        }
        sum[gr] += s;
        sq[gr] += q;
      }
    }
    const double count = static_cast<double>(e.hw * cg);
    std::vector<float> scale(e.c), shift(e.c);
    for (long gr = 0; gr < e.groups; gr++) {
      const double mean = count > 0 ? sum[gr] / count : 0.0;
      const double var = count > 0 ? std::max(0.0, sq[gr] / count - mean * mean) : 0.0;
      const float rstd = static_cast<float>(1.0 / std::sqrt(var + eps));
      heap[mOff + i * e.groups + gr] = static_cast<float>(mean);
      heap[rOff + i * e.groups + gr] = rstd;
      for (long j = 0; j < cg; j++) {
        const long ch = gr * cg + j;
        scale[ch] = rstd * heap[gOff + ch];
        shift[ch] = heap[bOff + ch] - static_cast<float>(mean) * scale[ch];
      }
    }
    for (long p = 0; p < e.hw; p++) {
      const float* __restrict row = x + p * e.c;
      float* __restrict out = y + p * e.c;
      for (long ch = 0; ch < e.c; ch++) out[ch] = row[ch] * scale[ch] + shift[ch];
    }
  });
  return nullptr;
}

// groupNormBackward(heap, n, hw, c, groups, xOff, dyOff, gammaOff, meanOff, rstdOff, dxOff, dgammaOff, dbetaOff):
// with xhat = (x - mean) rstd and g = dy gamma, per (image, group):
//   dx = rstd (g - mean(g) - xhat mean(g xhat));  dgamma = sum dy xhat;  dbeta = sum dy.
napi_value GroupNormBackward(napi_env env, napi_callback_info info) {
  Args g(env, info, 13);
  NormGeo e{};
  if (!g.ok || !ParseNorm(g, &e)) return g.Throw();
  size_t floats = 0;
  float* heap = g.Heap(0, &floats);
  const size_t xOff = static_cast<size_t>(g.Num(5)), dyOff = static_cast<size_t>(g.Num(6)), gOff = static_cast<size_t>(g.Num(7)),
               mOff = static_cast<size_t>(g.Num(8)), rOff = static_cast<size_t>(g.Num(9)), dxOff = static_cast<size_t>(g.Num(10)),
               dgOff = static_cast<size_t>(g.Num(11)), dbOff = static_cast<size_t>(g.Num(12));
  if (!g.ok) return g.Throw();
  const size_t total = static_cast<size_t>(e.n * e.hw * e.c), stats = static_cast<size_t>(e.n * e.groups);
  if (xOff + total > floats || dyOff + total > floats || dxOff + total > floats || gOff + e.c > floats || mOff + stats > floats ||
      rOff + stats > floats || dgOff + e.c > floats || dbOff + e.c > floats) {
    return g.Fail("groupNormBackward out of bounds"), g.Throw();
  }
  const long cg = e.cg();
  const float* gamma = heap + gOff;
  // Per-image partial sums of dy xhat and dy, per channel (double), added in image order at the end.
  std::vector<double> pg(static_cast<size_t>(e.n * e.c)), pb(static_cast<size_t>(e.n * e.c));
  ForImages(e.n, e.hw * e.c, [&](long i) {
    const float* x = heap + xOff + i * e.hw * e.c;
    const float* dy = heap + dyOff + i * e.hw * e.c;
    float* dx = heap + dxOff + i * e.hw * e.c;
    const float* mean = heap + mOff + i * e.groups;
    const float* rstd = heap + rOff + i * e.groups;
    double* dgam = pg.data() + i * e.c;
    double* dbet = pb.data() + i * e.c;
    // Per channel: sum dy and sum dy x; the group sums follow from them.
    std::vector<double> sdy(e.c, 0.0), sdyx(e.c, 0.0);
    for (long p = 0; p < e.hw; p++) {
      const float* xr = x + p * e.c;
      const float* dr = dy + p * e.c;
      for (long ch = 0; ch < e.c; ch++) {
        sdy[ch] += dr[ch];
        sdyx[ch] += static_cast<double>(dr[ch]) * xr[ch];
      }
    }
    std::vector<float> a(e.c), b(e.c);  // dx = a[ch] dy + b[ch] x + c[group]
    std::vector<float> cgrp(e.groups);
    const double count = static_cast<double>(e.hw * cg);
    for (long gr = 0; gr < e.groups; gr++) {
      const double mu = mean[gr], rs = rstd[gr];
      double sg = 0, sgx = 0;  // sum g, sum g xhat over the group
      for (long j = 0; j < cg; j++) {
        const long ch = gr * cg + j;
        const double xhatSum = (sdyx[ch] - mu * sdy[ch]) * rs;  // sum dy xhat
        dgam[ch] = xhatSum;
        dbet[ch] = sdy[ch];
        sg += sdy[ch] * gamma[ch];
        sgx += xhatSum * gamma[ch];
      }
      const double mg = count > 0 ? sg / count : 0.0, mgx = count > 0 ? sgx / count : 0.0;
      // dx = rs (dy gamma - mg - (x - mu) rs mgx) = (rs gamma) dy + (-rs^2 mgx) x + rs (mu rs mgx - mg)
      for (long j = 0; j < cg; j++) {
        const long ch = gr * cg + j;
        a[ch] = static_cast<float>(rs * gamma[ch]);
        b[ch] = static_cast<float>(-rs * rs * mgx);
      }
      cgrp[gr] = static_cast<float>(rs * (mu * rs * mgx - mg));
    }
    std::vector<float> cch(e.c);
    for (long ch = 0; ch < e.c; ch++) cch[ch] = cgrp[ch / cg];
    for (long p = 0; p < e.hw; p++) {
      const float* __restrict xr = x + p * e.c;
      const float* __restrict dr = dy + p * e.c;
      float* __restrict out = dx + p * e.c;
      for (long ch = 0; ch < e.c; ch++) out[ch] = a[ch] * dr[ch] + b[ch] * xr[ch] + cch[ch];
    }
  });
  for (long ch = 0; ch < e.c; ch++) {
    double sg = 0, sb = 0;
    for (long i = 0; i < e.n; i++) {
      sg += pg[i * e.c + ch];
      sb += pb[i * e.c + ch];
    }
    heap[dgOff + ch] = static_cast<float>(sg);
    heap[dbOff + ch] = static_cast<float>(sb);
  }
  return nullptr;
}

}  // namespace aigc
