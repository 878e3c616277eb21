// The thread pool and the helpers every kernel shares (declared in aigc.h).
#include "aigc.h"

namespace aigc {

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

// Splits [0, n) into `parts` ranges aligned to `align`; returns part p's range.
void Split(int n, int parts, int p, int align, int* lo, int* hi) {
  const int units = (n + align - 1) / align;
  const int u0 = static_cast<int>(static_cast<long>(units) * p / parts);
  const int u1 = static_cast<int>(static_cast<long>(units) * (p + 1) / parts);
  *lo = std::min(n, u0 * align);
  *hi = std::min(n, u1 * align);
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

// Highest float index an (rows x cols) operand at `off` with strides (rs, cs) touches, plus one.
size_t Extent(size_t off, long rows, long cols, long rs, long cs) {
  if (rows == 0 || cols == 0) return off;
  return off + static_cast<size_t>((rows - 1) * rs + (cols - 1) * cs) + 1;
}

}  // namespace aigc
