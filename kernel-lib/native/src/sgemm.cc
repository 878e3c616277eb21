// SGEMM, the BLIS scheme (see fast.cc's design notes), and the gemm() entry point with its fused
// bias and activation epilogue.
#include "aigc.h"

namespace aigc {

// Per-thread packing buffers, 64-byte aligned for the vector loads.
struct PackBuffers {
  float* a = nullptr;
  float* b = nullptr;
  PackBuffers() {
    a = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * MC * KC));
    b = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * KC * NC));
  }
  ~PackBuffers() {
    std::free(a);
    std::free(b);
  }
};

PackBuffers& Buffers() {
  thread_local PackBuffers buffers;
  return buffers;
}

// ---------------------------------------------------------------------------------------------
// Packing. A block: MR-row slivers, k-major inside (Ap[s*kc*MR + k*MR + r]); rows past mc are 0.

void PackA(int mc, int kc, const float* a, long rs, long cs, float* ap) {
  for (int i = 0; i < mc; i += MR) {
    const int mr = std::min(MR, mc - i);
    const float* src = a + i * rs;
    if (cs == 1) {
      for (int r = 0; r < MR; r++) {
        if (r < mr) {
          const float* row = src + r * rs;
          for (int k = 0; k < kc; k++) ap[k * MR + r] = row[k];
        } else {
          for (int k = 0; k < kc; k++) ap[k * MR + r] = 0.0f;
        }
      }
    } else {
      for (int k = 0; k < kc; k++) {
        const float* col = src + k * cs;
        for (int r = 0; r < MR; r++) ap[k * MR + r] = r < mr ? col[r * rs] : 0.0f;
      }
    }
    ap += kc * MR;
  }
}

// B panel: NR-column slivers, k-major inside (Bp[s*kc*NR + k*NR + c]); columns past nc are 0.
void PackB(int kc, int nc, const float* b, long rs, long cs, float* bp) {
  for (int j = 0; j < nc; j += NR) {
    const int nr = std::min(NR, nc - j);
    const float* src = b + j * cs;
    if (cs == 1 && nr == NR) {
      for (int k = 0; k < kc; k++) std::memcpy(bp + k * NR, src + k * rs, sizeof(float) * NR);
    } else if (cs == 1) {
      for (int k = 0; k < kc; k++) {
        const float* row = src + k * rs;
        for (int c = 0; c < NR; c++) bp[k * NR + c] = c < nr ? row[c] : 0.0f;
      }
    } else {
      for (int c = 0; c < NR; c++) {
        if (c < nr) {
          const float* col = src + c * cs;
          for (int k = 0; k < kc; k++) bp[k * NR + c] = col[k * rs];
        } else {
          for (int k = 0; k < kc; k++) bp[k * NR + c] = 0.0f;
        }
      }
    }
    bp += kc * NR;
  }
}

// Writes (or adds, when accumulate) an mr x nr corner of a full MR x NR tile.
inline void StoreTile(const float* tile, float* c, long ldc, int mr, int nr, bool accumulate) {
  for (int r = 0; r < mr; r++) {
    float* row = c + r * ldc;
    if (accumulate) {
      for (int j = 0; j < nr; j++) row[j] += tile[r * NR + j];
    } else {
      for (int j = 0; j < nr; j++) row[j] = tile[r * NR + j];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Micro-kernels: C[0:mr, 0:nr] (+)= Ap (MR x kc) * Bp (kc x NR).

void KernelPortable(int kc, const float* ap, const float* bp, float* c, long ldc, int mr, int nr, bool accumulate) {
  float acc[MR * NR] = {};
  for (int k = 0; k < kc; k++) {
    for (int r = 0; r < MR; r++) {
      const float a = ap[k * MR + r];
      for (int j = 0; j < NR; j++) acc[r * NR + j] += a * bp[k * NR + j];
    }
  }
  StoreTile(acc, c, ldc, mr, nr, accumulate);
}

#ifdef AIGC_X86
__attribute__((target("avx2,fma"))) void KernelAvx2(int kc, const float* ap, const float* bp, float* c, long ldc, int mr,
                                                     int nr, bool accumulate) {
  // Fetch the C tile while the k loop runs: its rows are ldc apart, often a multiple of 4 KB, and
  // would otherwise miss at the end.
  for (int r = 0; r < mr; r++) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 15), _MM_HINT_T0);
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_load_ps(bp);
    const __m256 b1 = _mm256_load_ps(bp + 8);
    __m256 a = _mm256_broadcast_ss(ap + 0);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(ap + 1);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(ap + 2);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(ap + 3);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(ap + 4);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(ap + 5);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
    ap += MR;
    bp += NR;
  }
  if (mr == MR && nr == NR) {
    float* r0 = c;
    const __m256 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    for (int r = 0; r < MR; r++, r0 += ldc) {
      if (accumulate) {
        _mm256_storeu_ps(r0, _mm256_add_ps(_mm256_loadu_ps(r0), acc[2 * r]));
        _mm256_storeu_ps(r0 + 8, _mm256_add_ps(_mm256_loadu_ps(r0 + 8), acc[2 * r + 1]));
      } else {
        _mm256_storeu_ps(r0, acc[2 * r]);
        _mm256_storeu_ps(r0 + 8, acc[2 * r + 1]);
      }
    }
    return;
  }
  alignas(32) float tile[MR * NR];
  _mm256_store_ps(tile + 0, c00);
  _mm256_store_ps(tile + 8, c01);
  _mm256_store_ps(tile + 16, c10);
  _mm256_store_ps(tile + 24, c11);
  _mm256_store_ps(tile + 32, c20);
  _mm256_store_ps(tile + 40, c21);
  _mm256_store_ps(tile + 48, c30);
  _mm256_store_ps(tile + 56, c31);
  _mm256_store_ps(tile + 64, c40);
  _mm256_store_ps(tile + 72, c41);
  _mm256_store_ps(tile + 80, c50);
  _mm256_store_ps(tile + 88, c51);
  StoreTile(tile, c, ldc, mr, nr, accumulate);
}
#endif


Kernel PickKernel() {
#ifdef AIGC_X86
  if (HasAvx2()) return KernelAvx2;
#endif
  return KernelPortable;
}

// ---------------------------------------------------------------------------------------------
// Row micro-kernels: C[0:mr, 0:nr] (+)= A (mr rows of a row-major matrix, lda apart) * Bp (kc x NR,
// packed). For products with few columns (a convolution's output channels) packing A would cost more
// than the product itself; the six rows are read in place instead (six sequential streams). Rows past
// mr repeat the last row (their results are dropped).

void RowsKernelPortable(int kc, const float* a, long lda, const float* bp, float* c, long ldc, int mr, int nr, bool accumulate) {
  float acc[MR * NR] = {};
  for (int r = 0; r < mr; r++) {
    const float* row = a + r * lda;
    for (int k = 0; k < kc; k++) {
      const float v = row[k];
      for (int j = 0; j < NR; j++) acc[r * NR + j] += v * bp[k * NR + j];
    }
  }
  StoreTile(acc, c, ldc, mr, nr, accumulate);
}

#ifdef AIGC_X86
__attribute__((target("avx2,fma"))) void RowsKernelAvx2(int kc, const float* a, long lda, const float* bp, float* c, long ldc, int mr, int nr,
                                                         bool accumulate) {
  const float* a0 = a;
  const float* a1 = a + std::min(1, mr - 1) * lda;
  const float* a2 = a + std::min(2, mr - 1) * lda;
  const float* a3 = a + std::min(3, mr - 1) * lda;
  const float* a4 = a + std::min(4, mr - 1) * lda;
  const float* a5 = a + std::min(5, mr - 1) * lda;
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_load_ps(bp);
    const __m256 b1 = _mm256_load_ps(bp + 8);
    __m256 v = _mm256_broadcast_ss(a0 + k);
    c00 = _mm256_fmadd_ps(v, b0, c00);
    c01 = _mm256_fmadd_ps(v, b1, c01);
    v = _mm256_broadcast_ss(a1 + k);
    c10 = _mm256_fmadd_ps(v, b0, c10);
    c11 = _mm256_fmadd_ps(v, b1, c11);
    v = _mm256_broadcast_ss(a2 + k);
    c20 = _mm256_fmadd_ps(v, b0, c20);
    c21 = _mm256_fmadd_ps(v, b1, c21);
    v = _mm256_broadcast_ss(a3 + k);
    c30 = _mm256_fmadd_ps(v, b0, c30);
    c31 = _mm256_fmadd_ps(v, b1, c31);
    v = _mm256_broadcast_ss(a4 + k);
    c40 = _mm256_fmadd_ps(v, b0, c40);
    c41 = _mm256_fmadd_ps(v, b1, c41);
    v = _mm256_broadcast_ss(a5 + k);
    c50 = _mm256_fmadd_ps(v, b0, c50);
    c51 = _mm256_fmadd_ps(v, b1, c51);
    bp += NR;
  }
  alignas(32) float tile[MR * NR];
  _mm256_store_ps(tile + 0, c00);
  _mm256_store_ps(tile + 8, c01);
  _mm256_store_ps(tile + 16, c10);
  _mm256_store_ps(tile + 24, c11);
  _mm256_store_ps(tile + 32, c20);
  _mm256_store_ps(tile + 40, c21);
  _mm256_store_ps(tile + 48, c30);
  _mm256_store_ps(tile + 56, c31);
  _mm256_store_ps(tile + 64, c40);
  _mm256_store_ps(tile + 72, c41);
  _mm256_store_ps(tile + 80, c50);
  _mm256_store_ps(tile + 88, c51);
  StoreTile(tile, c, ldc, mr, nr, accumulate);
}
#endif

RowsKernel PickRowsKernel() {
#ifdef AIGC_X86
  if (HasAvx2()) return RowsKernelAvx2;
#endif
  return RowsKernelPortable;
}

// ---------------------------------------------------------------------------------------------
// SGEMM on a block of C: rows [m0, m1), columns [n0, n1) of C = A (M x K) * B (K x N).

void GemmBlock(const Operand& a, const Operand& b, float* c, long ldc, int m0, int m1, int n0, int n1, int k, bool accumulate) {
  if (m0 >= m1 || n0 >= n1) return;
  if (k == 0) {
    if (accumulate) return;
    for (int i = m0; i < m1; i++) std::fill(c + i * ldc + n0, c + i * ldc + n1, 0.0f);
    return;
  }
  const Kernel kernel = PickKernel();
  PackBuffers& buf = Buffers();
  for (int jc = n0; jc < n1; jc += NC) {
    const int nc = std::min(NC, n1 - jc);
    for (int pc = 0; pc < k; pc += KC) {
      const int kc = std::min(KC, k - pc);
      PackB(kc, nc, b.p + pc * b.rs + jc * b.cs, b.rs, b.cs, buf.b);
      for (int ic = m0; ic < m1; ic += MC) {
        const int mc = std::min(MC, m1 - ic);
        PackA(mc, kc, a.p + ic * a.rs + pc * a.cs, a.rs, a.cs, buf.a);
        for (int jr = 0; jr < nc; jr += NR) {
          const float* bp = buf.b + jr * kc;
          for (int ir = 0; ir < mc; ir += MR) {
            kernel(kc, buf.a + ir * kc, bp, c + (ic + ir) * ldc + jc + jr, ldc, std::min(MR, mc - ir), std::min(NR, nc - jr),
                   pc > 0 || accumulate);
          }
        }
      }
    }
  }
}


// Fused epilogue: bias add and activation, as tfjs's _FusedMatMul defines them.
void Epilogue(float* c, long ldc, int m0, int m1, int n0, int n1, const Broadcast& bias, int act, float alpha,
              const Broadcast& prelu) {
  if (!bias.p && act == kLinear) return;
  for (int i = m0; i < m1; i++) {
    float* row = c + i * ldc;
    if (bias.p) {
      const float* br = bias.p + i * bias.rs;
      if (bias.cs == 1) {
        for (int j = n0; j < n1; j++) row[j] += br[j];
      } else {
        for (int j = n0; j < n1; j++) row[j] += br[j * bias.cs];
      }
    }
    switch (act) {
      case kLinear:
        break;
      case kRelu:
        // max/min rather than a branch on the sign (mispredicted half the time); NaN passes through.
        for (int j = n0; j < n1; j++) row[j] = std::max(row[j], 0.0f);
        break;
      case kRelu6:
        for (int j = n0; j < n1; j++) row[j] = std::min(std::max(row[j], 0.0f), 6.0f);
        break;
      case kPrelu: {
        const float* pr = prelu.p + i * prelu.rs;
        for (int j = n0; j < n1; j++) row[j] = std::max(row[j], 0.0f) + pr[j * prelu.cs] * std::min(row[j], 0.0f);
        break;
      }
      case kElu:
        for (int j = n0; j < n1; j++) row[j] = row[j] > 0.0f ? row[j] : std::expm1(row[j]);
        break;
      case kLeakyRelu:
        for (int j = n0; j < n1; j++) row[j] = std::max(row[j], 0.0f) + alpha * std::min(row[j], 0.0f);
        break;
      case kSigmoid:
        for (int j = n0; j < n1; j++) row[j] = 1.0f / (1.0f + std::exp(-row[j]));
        break;
    }
  }
}


// One large product on all threads around one shared packed B panel (BLIS's parallel ic loop): for
// each (jc, pc) step the threads first pack the panel's slivers together, then compute slabs of C's
// rows against it, each packing only its own rows of A. Giving each thread its own slab of rows or
// columns instead made every thread pack the whole other operand again: up to half the time of a
// 128-row layer. The calling thread's own B buffer holds the panel. `epilogue(m0, m1, n0, n1)` runs
// on each finished block of C.
void GemmShared(Pool& pool, const Operand& a, const Operand& b, float* c, long ldc, int m, int n, int k,
                const std::function<void(int, int, int, int)>& epilogue) {
  const int chunks = std::max(1, std::min(4 * pool.Size(), (m + MR - 1) / MR));
  if (k == 0) {
    for (int i = 0; i < m; i++) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    epilogue(0, m, 0, n);
    return;
  }
  const Kernel kernel = PickKernel();
  float* const panel = Buffers().b;
  for (int jc = 0; jc < n; jc += NC) {
    const int nc = std::min(NC, n - jc);
    const int slivers = (nc + NR - 1) / NR;
    for (int pc = 0; pc < k; pc += KC) {
      const int kc = std::min(KC, k - pc);
      const bool last = pc + KC >= k;
      // 1) Pack the panel, slivers shared out.
      const int packChunks = std::min(chunks, slivers);
      pool.Run(packChunks, [&](int ch) {
        int s0, s1;
        Split(slivers, packChunks, ch, 1, &s0, &s1);
        if (s0 >= s1) return;
        const int cols = std::min(nc, s1 * NR) - s0 * NR;
        PackB(kc, cols, b.p + pc * b.rs + (jc + s0 * NR) * b.cs, b.rs, b.cs, panel + static_cast<long>(s0) * kc * NR);
      });
      // 2) Slabs of rows against it.
      pool.Run(chunks, [&](int ch) {
        int lo, hi;
        Split(m, chunks, ch, MR, &lo, &hi);
        if (lo >= hi) return;
        float* const ap = Buffers().a;
        for (int ic = lo; ic < hi; ic += MC) {
          const int mc = std::min(MC, hi - ic);
          PackA(mc, kc, a.p + ic * a.rs + pc * a.cs, a.rs, a.cs, ap);
          for (int jr = 0; jr < nc; jr += NR) {
            const float* bp = panel + jr * kc;
            for (int ir = 0; ir < mc; ir += MR) {
              kernel(kc, ap + ir * kc, bp, c + (ic + ir) * ldc + jc + jr, ldc, std::min(MR, mc - ir), std::min(NR, nc - jr), pc > 0);
            }
          }
        }
        if (last) epilogue(lo, hi, jc, jc + nc);
      });
    }
  }
}


// gemm(heap, batch, M, N, K, aOffs, rsA, csA, bOffs, rsB, csB, cOff,
//      biasOffs, rsBias, csBias, activation, alpha, preluOffs, rsPrelu, csPrelu)
// For each batch b: C_b = act(A_b B_b + bias_b), C_b contiguous at cOff + b*M*N.
napi_value Gemm(napi_env env, napi_callback_info info) {
  Args g(env, info, 20);
  if (!g.ok) return g.Throw();
  size_t floats = 0;
  float* heap = g.Heap(0, &floats);
  const long batch = g.Int(1), m = g.Int(2), n = g.Int(3), k = g.Int(4);
  const uint32_t* aOffs = g.Offsets(5, batch);
  const long rsA = g.Int(6), csA = g.Int(7);
  const uint32_t* bOffs = g.Offsets(8, batch);
  const long rsB = g.Int(9), csB = g.Int(10);
  const size_t cOff = static_cast<size_t>(g.Num(11));
  const uint32_t* biasOffs = g.Offsets(12, batch);
  const long rsBias = g.Int(13), csBias = g.Int(14);
  const int act = static_cast<int>(g.Int(15));
  const float alpha = static_cast<float>(g.Num(16));
  const uint32_t* preluOffs = g.Offsets(17, batch);
  const long rsP = g.Int(18), csP = g.Int(19);
  if (!g.ok) return g.Throw();
  if (!aOffs || !bOffs) return g.Fail("A and B offsets are required"), g.Throw();
  if (batch < 0 || m < 0 || n < 0 || k < 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) return g.Fail("bad sizes"), g.Throw();
  if (act < kLinear || act > kSigmoid || (act == kPrelu && !preluOffs)) return g.Fail("bad activation"), g.Throw();
  // Bounds checks up front: a wrong offset must throw, not corrupt the wasm heap.
  if (Extent(cOff, batch * m, n, n, 1) > floats) return g.Fail("C out of bounds"), g.Throw();
  for (long bi = 0; bi < batch; bi++) {
    if (Extent(aOffs[bi], m, k, rsA, csA) > floats || Extent(bOffs[bi], k, n, rsB, csB) > floats ||
        (biasOffs && Extent(biasOffs[bi], m, n, rsBias, csBias) > floats) ||
        (preluOffs && Extent(preluOffs[bi], m, n, rsP, csP) > floats)) {
      return g.Fail("operand out of bounds"), g.Throw();
    }
  }

  auto one = [&](long bi, int m0, int m1, int n0, int n1) {
    float* c = heap + cOff + bi * m * n;
    GemmBlock({heap + aOffs[bi], rsA, csA}, {heap + bOffs[bi], rsB, csB}, c, n, m0, m1, n0, n1, static_cast<int>(k));
    const Broadcast bias{biasOffs ? heap + biasOffs[bi] : nullptr, rsBias, csBias};
    const Broadcast prelu{preluOffs ? heap + preluOffs[bi] : nullptr, rsP, csP};
    Epilogue(c, n, m0, m1, n0, n1, bias, act, alpha, prelu);
  };

  Pool& pool = ThePool();
  const double flops = 2.0 * batch * m * n * k;
  // Waking a sleeping worker costs a few microseconds: only worth it above ~0.5 MFLOP.
  if (pool.Size() == 1 || flops < 5e5) {
    for (long bi = 0; bi < batch; bi++) one(bi, 0, static_cast<int>(m), 0, static_cast<int>(n));
    return nullptr;
  }
  // About four chunks per thread, for balance when a core is busy with another process. Many
  // matrices: whole matrices per chunk.
  const int target = 4 * pool.Size();
  if (batch >= target) {
    pool.Run(target, [&](int c) {
      for (long bi = batch * c / target; bi < batch * (c + 1) / target; bi++) one(bi, 0, static_cast<int>(m), 0, static_cast<int>(n));
    });
    return nullptr;
  }
  // Enough rows for every thread: share one packed B (GemmShared). Few rows (a matrix-vector
  // product, say): slabs of columns, each packing the small A again.
  if (m >= 2 * MR * pool.Size()) {
    for (long bi = 0; bi < batch; bi++) {
      float* c = heap + cOff + bi * m * n;
      const Broadcast bias{biasOffs ? heap + biasOffs[bi] : nullptr, rsBias, csBias};
      const Broadcast prelu{preluOffs ? heap + preluOffs[bi] : nullptr, rsP, csP};
      GemmShared(pool, {heap + aOffs[bi], rsA, csA}, {heap + bOffs[bi], rsB, csB}, c, n, static_cast<int>(m), static_cast<int>(n),
                 static_cast<int>(k), [&](int m0, int m1, int n0, int n1) { Epilogue(c, n, m0, m1, n0, n1, bias, act, alpha, prelu); });
    }
    return nullptr;
  }
  const bool byRows = m >= n;
  const long extent = byRows ? m : n;
  const long perBatch = std::max(1L, std::min((target + batch - 1) / batch, extent / (byRows ? 48 : 64)));
  pool.Run(static_cast<int>(batch * perBatch), [&](int c) {
    const long bi = c / perBatch;
    int lo, hi;
    Split(static_cast<int>(extent), static_cast<int>(perBatch), static_cast<int>(c % perBatch), byRows ? MR : NR, &lo, &hi);
    if (byRows) {
      one(bi, lo, hi, 0, static_cast<int>(n));
    } else {
      one(bi, 0, static_cast<int>(m), lo, hi);
    }
  });
  return nullptr;
}

}  // namespace aigc
