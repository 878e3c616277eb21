// Shared parts of the aigc_fast addon (see fast.cc): the thread pool, N-API argument parsing, the
// SGEMM building blocks and the fused epilogue, used by every kernel family's file.
#pragma once

#include <node_api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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

namespace aigc {

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
      published_.store(generation_, std::memory_order_release);
    }
    cv_.notify_all();
    Drain(f, chunks);
    // A worker still on its last chunk finishes within microseconds: wait for it spinning, not asleep.
    Spin([this] { return active_.load(std::memory_order_acquire) == 0 && next_.load() >= chunks_; });
    std::unique_lock<std::mutex> lk(mu_);
    open_ = false;  // workers waking from now on skip this call
    done_.wait(lk, [this] { return active_ == 0; });
    task_ = nullptr;
  }

 private:
  void Drain(const std::function<void(int)>& f, int chunks) {
    for (int c = next_.fetch_add(1); c < chunks; c = next_.fetch_add(1)) f(c);
  }

  // Spins until done() or SpinMicros() have passed; true when done() came true. A training step calls the
  // pool many times with a few microseconds of JavaScript between calls: a worker that slept on the
  // condition variable in between would take tens of microseconds to wake for each, as long as a
  // 128-row layer's product takes on one core, so the second core would add almost nothing.
  template <typename Done>
  static bool Spin(Done done) {
    static const long limit = SpinMicros();
    if (limit <= 0) return done();
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(limit);
    for (;;) {
      for (int i = 0; i < 64; i++) {
        if (done()) return true;
#ifdef AIGC_X86
        _mm_pause();
#endif
      }
      if (std::chrono::steady_clock::now() >= until) return done();
    }
  }

  // AIGC_SPIN_US (default 200): how long an idle thread spins before it sleeps; 0 never spins.
  static long SpinMicros() {
    const char* env = std::getenv("AIGC_SPIN_US");
    if (env && *env) return std::max(0L, std::strtol(env, nullptr, 10));
    return 200;
  }

  void Loop() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      if (generation_ == seen) {
        lk.unlock();
        Spin([&] { return published_.load(std::memory_order_acquire) != seen; });
        lk.lock();
      }
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
  std::atomic<int> active_{0};
  uint64_t generation_ = 0;
  std::atomic<uint64_t> published_{0};  // generation_, readable without the lock by a spinning worker
};

// The process-wide pool (AIGC_THREADS threads, default one per core).
Pool& ThePool();

// True when the CPU has AVX2 and FMA (and AIGC_NATIVE_SIMD is not "portable").
bool HasAvx2();

// Splits [0, n) into `parts` ranges aligned to `align`; returns part p's range.
void Split(int n, int parts, int p, int align, int* lo, int* hi);

// Splits [0, n) into chunks on the pool when large (memory-bound: 2 threads still help).
void ParallelRange(long n, const std::function<void(long, long)>& f);

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
size_t Extent(size_t off, long rows, long cols, long rs, long cs);

// ---------------------------------------------------------------------------------------------
// SGEMM (sgemm.cc).

struct Operand {
  const float* p;
  long rs;  // stride between rows (floats)
  long cs;  // stride between columns (floats)
};

// C = A (M x K) * B (K x N) on a block of C: rows [m0, m1), columns [n0, n1), on the calling thread;
// C += A B when `accumulate`.
void GemmBlock(const Operand& a, const Operand& b, float* c, long ldc, int m0, int m1, int n0, int n1, int k,
               bool accumulate = false);

// Packs an mc x kc block of A (strides rs/cs) into MR-row slivers, k-major inside
// (Ap[s*kc*MR + k*MR + r]), rows past mc zero.
void PackA(int mc, int kc, const float* a, long rs, long cs, float* ap);

// The packed micro-kernel: C[0:mr, 0:nr] (+)= Ap (one MR x kc sliver) * Bp (one kc x NR sliver, 32-byte aligned).
using Kernel = void (*)(int kc, const float* ap, const float* bp, float* c, long ldc, int mr, int nr, bool accumulate);
Kernel PickKernel();

// Packs B (kc x nc, strides rs/cs) into NR-column slivers, k-major inside (Bp[s*kc*NR + k*NR + c]),
// columns past nc zero.
void PackB(int kc, int nc, const float* b, long rs, long cs, float* bp);

// C[0:mr, 0:nr] (+)= A (mr <= MR rows, lda apart, read in place) * Bp (one packed kc x NR sliver).
using RowsKernel = void (*)(int kc, const float* a, long lda, const float* bp, float* c, long ldc, int mr, int nr, bool accumulate);
RowsKernel PickRowsKernel();

// One large product on all threads around one shared packed B panel; `epilogue(m0, m1, n0, n1)` runs
// on each finished block of C.
void GemmShared(Pool& pool, const Operand& a, const Operand& b, float* c, long ldc, int m, int n, int k,
                const std::function<void(int, int, int, int)>& epilogue);

// Fused epilogue: bias add and activation, as tfjs's _FusedMatMul defines them.
enum Activation { kLinear = 0, kRelu = 1, kRelu6 = 2, kPrelu = 3, kElu = 4, kLeakyRelu = 5, kSigmoid = 6 };

struct Broadcast {
  const float* p;  // per-batch base already applied; nullptr when absent
  long rs;         // 0 when broadcast along rows
  long cs;         // 0 when broadcast along columns
};

// Bias add and activation on rows [m0, m1), columns [n0, n1) of C.
void Epilogue(float* c, long ldc, int m0, int m1, int n0, int n1, const Broadcast& bias, int act, float alpha,
              const Broadcast& prelu);

// ---------------------------------------------------------------------------------------------
// The addon's functions, one file per family.

napi_value Gemm(napi_env env, napi_callback_info info);       // sgemm.cc
napi_value Sum(napi_env env, napi_callback_info info);        // reductions.cc
napi_value Tanh(napi_env env, napi_callback_info info);       // elementwise.cc
napi_value Binary(napi_env env, napi_callback_info info);     // elementwise.cc
napi_value PowScalar(napi_env env, napi_callback_info info);  // elementwise.cc
napi_value Compare(napi_env env, napi_callback_info info);    // elementwise.cc
napi_value Select(napi_env env, napi_callback_info info);     // elementwise.cc
napi_value LeakyRelu(napi_env env, napi_callback_info info);  // elementwise.cc
napi_value Conv2D(napi_env env, napi_callback_info info);              // conv.cc
napi_value Conv2DBackpropInput(napi_env env, napi_callback_info info); // conv.cc
napi_value Conv2DBackpropFilter(napi_env env, napi_callback_info info);// conv.cc
napi_value Adam(napi_env env, napi_callback_info info);                // optim.cc
napi_value GroupNormForward(napi_env env, napi_callback_info info);    // norm.cc
napi_value GroupNormBackward(napi_env env, napi_callback_info info);   // norm.cc

}  // namespace aigc
