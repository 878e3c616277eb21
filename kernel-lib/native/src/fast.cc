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

#include <node_api.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <climits>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AIGC_X86 1
#endif

namespace {

constexpr int MR = 6;
constexpr int NR = 16;
constexpr int KC = 256;
constexpr int MC = 120;   // multiple of MR; MC x KC floats (120 KB) stay in L2
constexpr int NC = 3072;  // multiple of NR

// ---------------------------------------------------------------------------------------------
// Thread pool: workers sleep on a condition variable between calls (passive waiting).

class Pool {
 public:
  explicit Pool(int n) {
    for (int i = 1; i < n; i++) workers_.emplace_back([this] { Loop(); });
    // The pool lives for the whole process; detached workers end with it.
    for (auto& w : workers_) w.detach();
  }
  int Size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs f(0..chunks-1), each chunk once, on the caller and whichever workers wake in time.
  // Chunks are claimed from an atomic counter, so a worker descheduled by another process (2 shared
  // cores) never holds the call up: the caller does the remaining chunks itself and only waits for
  // chunks a worker already started.
  void Run(int chunks, const std::function<void(int)>& f) {
    std::lock_guard<std::mutex> one(run_mu_);  // one parallel call at a time (worker_threads)
    if (workers_.empty() || chunks <= 1) {
      for (int c = 0; c < chunks; c++) f(c);
      return;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      task_ = &f;
      chunks_ = chunks;
      next_.store(0);
      open_ = true;
      generation_++;
    }
    cv_.notify_all();
    Drain(f, chunks);
    std::unique_lock<std::mutex> lk(mu_);
    open_ = false;  // workers waking from now on skip this call
    done_.wait(lk, [this] { return active_ == 0; });
    task_ = nullptr;
  }

 private:
  void Drain(const std::function<void(int)>& f, int chunks) {
    for (int c = next_.fetch_add(1); c < chunks; c = next_.fetch_add(1)) f(c);
  }

  void Loop() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return generation_ != seen; });
      seen = generation_;
      if (!open_) continue;
      const std::function<void(int)>* t = task_;
      const int chunks = chunks_;
      active_++;
      lk.unlock();
      Drain(*t, chunks);
      lk.lock();
      if (--active_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex run_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable done_;
  const std::function<void(int)>* task_ = nullptr;
  std::atomic<int> next_{0};
  int chunks_ = 0;
  bool open_ = false;
  int active_ = 0;
  uint64_t generation_ = 0;
};

int DefaultThreads() {
  const char* env = std::getenv("AIGC_THREADS");
  if (env && std::atoi(env) > 0) return std::min(64, std::atoi(env));
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min(n, 64u));
}

Pool& ThePool() {
  static Pool* pool = new Pool(DefaultThreads());  // never destroyed: workers are detached
  return *pool;
}

bool HasAvx2() {
#ifdef AIGC_X86
  static const bool ok = [] {
    const char* env = std::getenv("AIGC_NATIVE_SIMD");
    if (env && std::string(env) == "portable") return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return ok;
#else
  return false;
#endif
}

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

using Kernel = void (*)(int, const float*, const float*, float*, long, int, int, bool);

Kernel PickKernel() {
#ifdef AIGC_X86
  if (HasAvx2()) return KernelAvx2;
#endif
  return KernelPortable;
}

// ---------------------------------------------------------------------------------------------
// SGEMM on a block of C: rows [m0, m1), columns [n0, n1) of C = A (M x K) * B (K x N).

struct Operand {
  const float* p;
  long rs;  // stride between rows (floats)
  long cs;  // stride between columns (floats)
};

void GemmBlock(const Operand& a, const Operand& b, float* c, long ldc, int m0, int m1, int n0, int n1, int k) {
  if (m0 >= m1 || n0 >= n1) return;
  if (k == 0) {
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
                   pc > 0);
          }
        }
      }
    }
  }
}

// Fused epilogue: bias add and activation, as tfjs's _FusedMatMul defines them.
enum Activation { kLinear = 0, kRelu = 1, kRelu6 = 2, kPrelu = 3, kElu = 4, kLeakyRelu = 5, kSigmoid = 6 };

struct Broadcast {
  const float* p;  // per-batch base already applied; nullptr when absent
  long rs;         // 0 when broadcast along rows
  long cs;         // 0 when broadcast along columns
};

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

// Splits [0, n) into `parts` ranges aligned to `align`; returns part p's range.
void Split(int n, int parts, int p, int align, int* lo, int* hi) {
  const int units = (n + align - 1) / align;
  const int u0 = static_cast<int>(static_cast<long>(units) * p / parts);
  const int u1 = static_cast<int>(static_cast<long>(units) * (p + 1) / parts);
  *lo = std::min(n, u0 * align);
  *hi = std::min(n, u1 * align);
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

// ---------------------------------------------------------------------------------------------
// N-API plumbing.

struct Args {
  napi_env env;
  std::vector<napi_value> v;
  bool ok = true;
  std::string error;

  Args(napi_env e, napi_callback_info info, size_t n) : env(e), v(n) {
    size_t argc = n;
    napi_get_cb_info(e, info, &argc, v.data(), nullptr, nullptr);
    if (argc < n) Fail("expected " + std::to_string(n) + " arguments");
  }
  void Fail(const std::string& msg) {
    if (ok) error = msg;
    ok = false;
  }
  double Num(size_t i) {
    double d = 0;
    if (napi_get_value_double(env, v[i], &d) != napi_ok) Fail("argument " + std::to_string(i) + " must be a number");
    return d;
  }
  long Int(size_t i) { return static_cast<long>(Num(i)); }
  // The wasm heap: an ArrayBuffer viewed as floats.
  float* Heap(size_t i, size_t* floats) {
    void* data = nullptr;
    size_t bytes = 0;
    if (napi_get_arraybuffer_info(env, v[i], &data, &bytes) != napi_ok) {
      Fail("argument " + std::to_string(i) + " must be an ArrayBuffer (the wasm heap)");
      return nullptr;
    }
    *floats = bytes / sizeof(float);
    return static_cast<float*>(data);
  }
  // A Uint32Array of per-batch float offsets, or null/undefined.
  const uint32_t* Offsets(size_t i, size_t want) {
    napi_valuetype t;
    napi_typeof(env, v[i], &t);
    if (t == napi_null || t == napi_undefined) return nullptr;
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    if (napi_get_typedarray_info(env, v[i], &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint32_array ||
        length < want) {
      Fail("argument " + std::to_string(i) + " must be a Uint32Array of " + std::to_string(want) + " offsets");
      return nullptr;
    }
    return static_cast<const uint32_t*>(data);
  }
  napi_value Throw() {
    napi_throw_error(env, nullptr, ("aigc_fast: " + error).c_str());
    return nullptr;
  }
};

// Highest float index an (rows x cols) operand at `off` with strides (rs, cs) touches, plus one.
size_t Extent(size_t off, long rows, long cols, long rs, long cs) {
  if (rows == 0 || cols == 0) return off;
  return off + static_cast<size_t>((rows - 1) * rs + (cols - 1) * cs) + 1;
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

// sum(heap, xOff, yOff, outer, reduce, inner): y[o, i] = sum over r of x[o, r, i] (contiguous x, y).
napi_value Sum(napi_env env, napi_callback_info info) {
  Args g(env, info, 6);
  if (!g.ok) return g.Throw();
  size_t floats = 0;
  float* heap = g.Heap(0, &floats);
  const size_t xOff = static_cast<size_t>(g.Num(1)), yOff = static_cast<size_t>(g.Num(2));
  const long outer = g.Int(3), reduce = g.Int(4), inner = g.Int(5);
  if (!g.ok) return g.Throw();
  if (outer < 0 || reduce < 0 || inner < 0 || xOff + outer * reduce * inner > floats || yOff + outer * inner > floats) {
    return g.Fail("sum out of bounds"), g.Throw();
  }
  const float* x = heap + xOff;
  float* y = heap + yOff;
  Pool& pool = ThePool();
  const bool threaded = pool.Size() > 1 && outer * reduce * inner >= 65536;
  const int chunks = threaded ? 4 * pool.Size() : 1;
  // Row sums (inner == 1): rows split over the chunks; eight partial sums per row vectorize.
  auto rowSums = [x, y, reduce](long o0, long o1) {
    for (long o = o0; o < o1; o++) {
      const float* __restrict row = x + o * reduce;
      float s[8] = {};
      long r = 0;
      for (; r + 8 <= reduce; r += 8)
        for (int q = 0; q < 8; q++) s[q] += row[r + q];
      float total = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
      for (; r < reduce; r++) total += row[r];
      y[o] = total;
    }
  };
  // Sums over a leading run of axes: whole rows of `inner` added into dst, streaming through x in
  // order (splitting columns instead made every thread stride through memory).
  auto addRows = [x, reduce, inner](long o, long r0, long r1, float* __restrict dst) {
    std::fill(dst, dst + inner, 0.0f);
    for (long r = r0; r < r1; r++) {
      const float* __restrict row = x + (o * reduce + r) * inner;
      for (long i = 0; i < inner; i++) dst[i] += row[i];
    }
  };
  if (inner == 1) {
    if (chunks == 1) {
      rowSums(0, outer);
    } else {
      pool.Run(chunks, [&](int c) {
        int lo, hi;
        Split(static_cast<int>(outer), chunks, c, 1, &lo, &hi);
        rowSums(lo, hi);
      });
    }
  } else if (chunks == 1 || outer >= chunks) {
    auto outerRange = [&](long o0, long o1) {
      for (long o = o0; o < o1; o++) addRows(o, 0, reduce, y + o * inner);
    };
    if (chunks == 1) {
      outerRange(0, outer);
    } else {
      pool.Run(chunks, [&](int c) {
        int lo, hi;
        Split(static_cast<int>(outer), chunks, c, 1, &lo, &hi);
        outerRange(lo, hi);
      });
    }
  } else {
    // Few outputs rows, many rows to add: each chunk sums a slab of rows into its own buffer, then
    // the slabs are added in chunk order (the same result whichever thread ran which chunk).
    std::vector<float> partial(static_cast<size_t>(chunks) * inner);
    for (long o = 0; o < outer; o++) {
      pool.Run(chunks, [&](int c) {
        int lo, hi;
        Split(static_cast<int>(reduce), chunks, c, 1, &lo, &hi);
        addRows(o, lo, hi, partial.data() + static_cast<size_t>(c) * inner);
      });
      float* dst = y + o * inner;
      std::copy(partial.begin(), partial.begin() + inner, dst);
      for (int c = 1; c < chunks; c++) {
        const float* p = partial.data() + static_cast<size_t>(c) * inner;
        for (long i = 0; i < inner; i++) dst[i] += p[i];
      }
    }
  }
  return nullptr;
}

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

// Splits [0, n) into chunks on the pool when large (memory-bound: 2 threads still help).
void ParallelRange(long n, const std::function<void(long, long)>& f) {
  Pool& pool = ThePool();
  if (pool.Size() == 1 || n < 65536) {
    f(0, n);
    return;
  }
  const int chunks = 4 * pool.Size();
  pool.Run(chunks, [&](int c) {
    int lo, hi;
    Split(static_cast<int>(n), chunks, c, 16, &lo, &hi);
    f(lo, hi);
  });
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
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
