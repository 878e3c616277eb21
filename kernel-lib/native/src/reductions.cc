// Reductions: sum over one contiguous run of axes.
#include "aigc.h"

namespace aigc {

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

}  // namespace aigc
