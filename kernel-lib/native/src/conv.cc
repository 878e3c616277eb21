// 2-D convolution, NHWC, for the wasm backend (kernel-lib/src/native-conv.ts): the forward pass with
// tfjs's fused bias and activation, the gradient with respect to the input (Conv2DBackpropInput, also
// conv2dTranspose's forward pass) and the one with respect to the filter (Conv2DBackpropFilter, which
// tfjs-backend-wasm 4.22 lacks). Any stride, dilation and (explicit) padding.
//
// All three are im2col + the packed SGEMM of sgemm.cc, in blocks of rows so the column buffer stays
// small (about 1 MB a thread) and in cache:
// - forward: y[rows] = cols(x)[rows] W, blocks of output pixels spread over the pool;
// - input gradient: dcols = dy W^T, scattered back (col2im) into dx; each chunk owns a band of dx's
//   rows of one image (it computes the dy rows that reach its band), so no two threads write the same
//   element and the result does not depend on scheduling;
// - filter gradient: dW = cols(x)^T dy, slabs of output pixels summed into per-slab partial filters,
//   which are then added in slab order (deterministic for a given thread count).
// The filter is [KH, KW, C, CO], so one im2col row is the (i, j, c) taps in that order.

#include "aigc.h"

namespace aigc {
namespace {

// The geometry of one convolution, as its forward pass sees it: x [N, H, W, C], filter [KH, KW, C, CO],
// y [N, OH, OW, CO]; y[n, oh, ow] reads x[n, oh*SH - PT + i*DH, ow*SW - PL + j*DW] (zero outside).
struct Geo {
  long N, H, W, C, KH, KW, CO, OH, OW, SH, SW, DH, DW, PT, PL;
  long K() const { return KH * KW * C; }
  long M() const { return N * OH * OW; }
  // A 1x1 convolution with stride 1 and no padding: im2col(x) is x itself.
  bool Pointwise() const { return KH == 1 && KW == 1 && SH == 1 && SW == 1 && PT == 0 && PL == 0 && OH == H && OW == W; }
};

// Reads the geometry from an Int32Array of 15 entries (the order of Geo's fields), checked.
bool ParseGeo(Args& g, size_t i, Geo* geo) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(g.env, g.v[i], &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_int32_array || length != 15) {
    return g.Fail("argument " + std::to_string(i) + " must be an Int32Array of 15 geometry entries"), false;
  }
  const int32_t* q = static_cast<const int32_t*>(data);
  *geo = Geo{q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11], q[12], q[13], q[14]};
  const Geo& e = *geo;
  if (e.N < 0 || e.H < 0 || e.W < 0 || e.C < 1 || e.KH < 1 || e.KW < 1 || e.CO < 1 || e.OH < 0 || e.OW < 0 || e.SH < 1 || e.SW < 1 ||
      e.DH < 1 || e.DW < 1 || e.PT < 0 || e.PL < 0) {
    return g.Fail("bad convolution geometry"), false;
  }
  if (e.K() > INT32_MAX || e.M() > INT32_MAX || e.N * e.H * e.W * e.C > INT32_MAX) return g.Fail("convolution too large"), false;
  return true;
}

// A float offset argument and the extent it must have inside the heap.
bool InHeap(Args& g, size_t floats, size_t off, long count, const char* what) {
  if (count < 0 || off + static_cast<size_t>(count) > floats) return g.Fail(std::string(what) + " out of bounds"), false;
  return true;
}

// A per-thread 64-byte aligned scratch buffer of at least n floats (slot 0 or 1: two at once).
float* AlignedScratch(int slot, size_t n) {
  thread_local std::vector<float> bufs[2];
  std::vector<float>& buf = bufs[slot];
  if (buf.size() < n + 16) buf.resize(n + 16);
  return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63));
}

// A per-thread scratch buffer of at least n floats.
float* Scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// im2col rows [r0, r1) of M = N*OH*OW (row r = pixel (n, oh, ow)) into buf [(r1 - r0) x K].
void Im2col(const Geo& g, const float* x, long r0, long r1, float* buf) {
  const long K = g.K(), plane = g.OH * g.OW;
  for (long r = r0; r < r1; r++) {
    const long n = r / plane, oh = (r % plane) / g.OW, ow = r % g.OW;
    const float* xn = x + n * g.H * g.W * g.C;
    float* dst = buf + (r - r0) * K;
    for (long i = 0; i < g.KH; i++) {
      const long ih = oh * g.SH - g.PT + i * g.DH;
      if (ih < 0 || ih >= g.H) {
        std::fill(dst, dst + g.KW * g.C, 0.0f);
        dst += g.KW * g.C;
        continue;
      }
      const float* row = xn + ih * g.W * g.C;
      if (g.DW == 1) {
        // The taps of one filter row read adjacent pixels: one copy for the valid ones, zeros around.
        const long w0 = ow * g.SW - g.PL;
        const long jlo = std::min(g.KW, std::max<long>(0, -w0)), jhi = std::max(jlo, std::min(g.KW, g.W - w0));
        std::fill(dst, dst + jlo * g.C, 0.0f);
        std::memcpy(dst + jlo * g.C, row + (w0 + jlo) * g.C, sizeof(float) * (jhi - jlo) * g.C);
        std::fill(dst + jhi * g.C, dst + g.KW * g.C, 0.0f);
        dst += g.KW * g.C;
        continue;
      }
      for (long j = 0; j < g.KW; j++, dst += g.C) {
        const long iw = ow * g.SW - g.PL + j * g.DW;
        if (iw < 0 || iw >= g.W) {
          std::fill(dst, dst + g.C, 0.0f);
        } else {
          std::memcpy(dst, row + iw * g.C, sizeof(float) * g.C);
        }
      }
    }
  }
}

// Runs f(0..chunks-1) on the pool when the work is worth waking it (as gemm() decides), else inline.
void Chunks(int chunks, double flops, const std::function<void(int)>& f) {
  Pool& pool = ThePool();
  if (pool.Size() == 1 || chunks <= 1 || flops < 5e5) {
    for (int c = 0; c < chunks; c++) f(c);
  } else {
    pool.Run(chunks, f);
  }
}

// A bias or PReLU weights operand: a float offset (negative: none) and 1 (per channel) or 0 (one value).
Broadcast ChannelOperand(float* heap, double off, long cs) { return Broadcast{off < 0 ? nullptr : heap + static_cast<size_t>(off), 0, cs}; }

// y = act(conv(x, W) + bias) for geometry `geo`; the filter's element (k, co) is at w[k * rsW + co * csW]
// (k = (i, j, c) flattened), so a flipped or transposed filter needs no copy.
void ConvForward(const Geo& geo, const float* x, const float* w, long rsW, long csW, float* y, const Broadcast& bias, int act, float alpha,
                 const Broadcast& prelu) {
  const long K = geo.K(), M = geo.M(), CO = geo.CO;
  // The filter, packed once into NR-column slivers over the whole of K (shared, read-only). The few
  // output channels make packing im2col's rows too costly: the row micro-kernel reads them in place.
  const long slivers = (CO + NR - 1) / NR;
  std::vector<float> store(static_cast<size_t>(slivers * K * NR + 16));
  float* wp = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(store.data()) + 63) & ~uintptr_t(63));
  PackB(static_cast<int>(K), static_cast<int>(CO), w, rsW, csW, wp);
  const RowsKernel kernel = PickRowsKernel();
  // Rows per block: about 64 KB of im2col rows (in L2 while every sliver of the filter passes over them).
  const long rb = std::max<long>(MR, std::min<long>(240, 16384 / std::max<long>(K, 1)) / MR * MR);
  const long blocks = (M + rb - 1) / rb;
  const bool pointwise = geo.Pointwise();
  Chunks(static_cast<int>(blocks), 2.0 * M * K * CO, [&](int blk) {
    const long r0 = blk * rb, r1 = std::min(M, r0 + rb), rows = r1 - r0;
    const float* a = x + r0 * K;
    if (!pointwise) {
      float* buf = Scratch(static_cast<size_t>(rb * K));
      Im2col(geo, x, r0, r1, buf);
      a = buf;
    }
    float* c = y + r0 * CO;
    for (long j = 0; j < slivers; j++) {
      const float* bp = wp + j * K * NR;
      const int nr = static_cast<int>(std::min<long>(NR, CO - j * NR));
      for (long r = 0; r < rows; r += MR) {
        kernel(static_cast<int>(K), a + r * K, K, bp, c + r * CO + j * NR, CO, static_cast<int>(std::min<long>(MR, rows - r)), nr, false);
      }
    }
    Epilogue(c, CO, 0, static_cast<int>(rows), 0, static_cast<int>(CO), bias, act, alpha, prelu);
  });
}

}  // namespace

// conv2d(heap, geo, xOff, wOff, yOff, biasOff, biasStride, activation, alpha, preluOff, preluStride):
// y = act(conv(x, W) + bias), offsets in floats; biasOff/preluOff < 0 when absent; a stride of 1 means
// one value per output channel, 0 one value for all; activation numbered as gemm()'s.
napi_value Conv2D(napi_env env, napi_callback_info info) {
  Args g(env, info, 11);
  Geo geo{};
  if (!g.ok || !ParseGeo(g, 1, &geo)) return g.Throw();
  size_t floats = 0;
  float* heap = g.Heap(0, &floats);
  const double xOff = g.Num(2), wOff = g.Num(3), yOff = g.Num(4), biasOff = g.Num(5);
  const long biasStride = g.Int(6);
  const int act = static_cast<int>(g.Int(7));
  const float alpha = static_cast<float>(g.Num(8));
  const double preluOff = g.Num(9);
  const long preluStride = g.Int(10);
  if (!g.ok) return g.Throw();
  const long K = geo.K(), M = geo.M(), CO = geo.CO;
  if (!InHeap(g, floats, static_cast<size_t>(xOff), geo.N * geo.H * geo.W * geo.C, "conv2d x") ||
      !InHeap(g, floats, static_cast<size_t>(wOff), K * CO, "conv2d filter") || !InHeap(g, floats, static_cast<size_t>(yOff), M * CO, "conv2d y") ||
      (biasOff >= 0 && !InHeap(g, floats, static_cast<size_t>(biasOff), biasStride ? CO : 1, "conv2d bias")) ||
      (preluOff >= 0 && !InHeap(g, floats, static_cast<size_t>(preluOff), preluStride ? CO : 1, "conv2d prelu weights"))) {
    return g.Throw();
  }
  if (act < kLinear || act > kSigmoid || (act == kPrelu && preluOff < 0)) return g.Fail("conv2d: bad activation"), g.Throw();
  const float* x = heap + static_cast<size_t>(xOff);
  const float* w = heap + static_cast<size_t>(wOff);
  float* y = heap + static_cast<size_t>(yOff);
  const Broadcast bias = ChannelOperand(heap, biasOff, biasStride);
  const Broadcast prelu = ChannelOperand(heap, preluOff, preluStride);
  ConvForward(geo, x, w, CO, 1, y, bias, act, alpha, prelu);
  return nullptr;
}

// conv2dBackpropInput(heap, geo, dyOff, wOff, dxOff): dx [N, H, W, C] = the gradient of the forward
// convolution `geo` with respect to x, given dy [N, OH, OW, CO].
napi_value Conv2DBackpropInput(napi_env env, napi_callback_info info) {
  Args g(env, info, 5);
  Geo geo{};
  if (!g.ok || !ParseGeo(g, 1, &geo)) return g.Throw();
  size_t floats = 0;
  float* heap = g.Heap(0, &floats);
  const double dyOff = g.Num(2), wOff = g.Num(3), dxOff = g.Num(4);
  if (!g.ok) return g.Throw();
  const long K = geo.K(), CO = geo.CO, C = geo.C;
  if (!InHeap(g, floats, static_cast<size_t>(dyOff), geo.M() * CO, "conv2dBackpropInput dy") ||
      !InHeap(g, floats, static_cast<size_t>(wOff), K * CO, "conv2dBackpropInput filter") ||
      !InHeap(g, floats, static_cast<size_t>(dxOff), geo.N * geo.H * geo.W * C, "conv2dBackpropInput dx")) {
    return g.Throw();
  }
  const float* dy = heap + static_cast<size_t>(dyOff);
  const float* w = heap + static_cast<size_t>(wOff);
  float* dx = heap + static_cast<size_t>(dxOff);
  if (geo.N * geo.H * geo.W == 0) return nullptr;
  // Stride 1: dx is the forward convolution of dy with the filter flipped and its channels swapped
  // (padding KH-1-PT), so it runs on the forward path, without the scatter.
  if (geo.SH == 1 && geo.SW == 1 && geo.DH == 1 && geo.DW == 1 && geo.PT <= geo.KH - 1 && geo.PL <= geo.KW - 1) {
    const Geo t{geo.N, geo.OH, geo.OW, CO, geo.KH, geo.KW, C, geo.H, geo.W, 1, 1, 1, 1, geo.KH - 1 - geo.PT, geo.KW - 1 - geo.PL};
    std::vector<float> flipped(static_cast<size_t>(K * CO));  // [KH, KW, CO, C]
    for (long i = 0; i < geo.KH; i++)
      for (long j = 0; j < geo.KW; j++) {
        const float* src = w + ((geo.KH - 1 - i) * geo.KW + (geo.KW - 1 - j)) * C * CO;  // [C, CO]
        float* dst = flipped.data() + (i * geo.KW + j) * CO * C;                       // [CO, C]
        for (long c = 0; c < C; c++)
          for (long o = 0; o < CO; o++) dst[o * C + c] = src[c * CO + o];
      }
    const Broadcast none{nullptr, 0, 0};
    ConvForward(t, dy, flipped.data(), C, 1, dx, none, kLinear, 0.0f, none);
    return nullptr;
  }
  // Bands of dx rows per image: one band per image when there are images enough for every thread.
  Pool& pool = ThePool();
  const long want = 2 * pool.Size();
  const long bands = std::max<long>(1, std::min<long>(geo.H, (want + geo.N - 1) / geo.N));
  // dy rows per GEMM: about 1 MB of dcols.
  const long ohBlock = std::max<long>(1, 262144 / std::max<long>(1, geo.OW * K));
  Chunks(static_cast<int>(geo.N * bands), 2.0 * geo.M() * K * CO, [&](int chunk) {
    const long n = chunk / bands, band = chunk % bands;
    const long h0 = geo.H * band / bands, h1 = geo.H * (band + 1) / bands;
    float* dxn = dx + n * geo.H * geo.W * C;
    std::fill(dxn + h0 * geo.W * C, dxn + h1 * geo.W * C, 0.0f);
    if (h0 >= h1 || geo.OH * geo.OW == 0) return;
    // The dy rows whose taps reach dx rows [h0, h1): oh*SH - PT + i*DH in [h0, h1) for some i.
    const long lo = h0 + geo.PT - (geo.KH - 1) * geo.DH;
    const long ohLo = std::max<long>(0, lo <= 0 ? 0 : (lo + geo.SH - 1) / geo.SH);
    const long ohHi = std::min<long>(geo.OH, (h1 - 1 + geo.PT) / geo.SH + 1);
    float* dcols = Scratch(static_cast<size_t>(ohBlock * geo.OW * K));
    for (long oh0 = ohLo; oh0 < ohHi; oh0 += ohBlock) {
      const long oh1 = std::min(ohHi, oh0 + ohBlock);
      const long rows = (oh1 - oh0) * geo.OW;
      const float* a = dy + ((n * geo.OH + oh0) * geo.OW) * CO;
      // dcols [rows x K] = dy [rows x CO] W^T (W is [K x CO]).
      GemmBlock({a, CO, 1}, {w, 1, CO}, dcols, K, 0, static_cast<int>(rows), 0, static_cast<int>(K), static_cast<int>(CO));
      // col2im: add each tap back where the forward pass read it, inside this band only.
      for (long oh = oh0; oh < oh1; oh++) {
        for (long i = 0; i < geo.KH; i++) {
          const long ih = oh * geo.SH - geo.PT + i * geo.DH;
          if (ih < h0 || ih >= h1) continue;
          float* dxrow = dxn + ih * geo.W * C;
          for (long ow = 0; ow < geo.OW; ow++) {
            const float* src = dcols + ((oh - oh0) * geo.OW + ow) * K + i * geo.KW * C;
            for (long j = 0; j < geo.KW; j++, src += C) {
              const long iw = ow * geo.SW - geo.PL + j * geo.DW;
              if (iw < 0 || iw >= geo.W) continue;
              float* __restrict dst = dxrow + iw * C;
              for (long c = 0; c < C; c++) dst[c] += src[c];
            }
          }
        }
      }
    }
  });
  return nullptr;
}

// conv2dBackpropFilter(heap, geo, xOff, dyOff, dwOff): dW [KH, KW, C, CO] = the gradient of the forward
// convolution `geo` with respect to its filter, given x and dy.
napi_value Conv2DBackpropFilter(napi_env env, napi_callback_info info) {
  Args g(env, info, 5);
  Geo geo{};
  if (!g.ok || !ParseGeo(g, 1, &geo)) return g.Throw();
  size_t floats = 0;
  float* heap = g.Heap(0, &floats);
  const double xOff = g.Num(2), dyOff = g.Num(3), dwOff = g.Num(4);
  if (!g.ok) return g.Throw();
  const long K = geo.K(), M = geo.M(), CO = geo.CO;
  if (!InHeap(g, floats, static_cast<size_t>(xOff), geo.N * geo.H * geo.W * geo.C, "conv2dBackpropFilter x") ||
      !InHeap(g, floats, static_cast<size_t>(dyOff), M * CO, "conv2dBackpropFilter dy") ||
      !InHeap(g, floats, static_cast<size_t>(dwOff), K * CO, "conv2dBackpropFilter dW")) {
    return g.Throw();
  }
  const float* x = heap + static_cast<size_t>(xOff);
  const float* dy = heap + static_cast<size_t>(dyOff);
  float* dw = heap + static_cast<size_t>(dwOff);
  Pool& pool = ThePool();
  constexpr long kRows = 256;  // pixels per GEMM: one KC-deep panel
  const long slabs = std::max<long>(1, std::min<long>(4 * pool.Size(), M / (2 * kRows)));
  if (geo.C % NR == 0 && K * CO <= 65536) {
    // Channels in whole NR-wide runs: each NR-column sliver of im2col(x) lies inside one tap, so it
    // is packed straight from x (no im2col buffer). Only while a slab's dW^T (K x CO) stays in L2:
    // for larger filters the im2col path below measured faster. dW^T [CO x K] = dy^T [CO x pixels] cols [pixels x K]
    // per slab of pixels, dy^T packed once per block and every sliver used by all its row tiles at once.
    const Kernel kernel = PickKernel();
    const long slivers = K / NR, coPad = (CO + MR - 1) / MR * MR;
    std::vector<float> partial(static_cast<size_t>(slabs * CO * K));
    Chunks(static_cast<int>(slabs), 2.0 * M * K * CO, [&](int s) {
      float* out = partial.data() + s * CO * K;
      const long r0 = M * s / slabs, r1 = M * (s + 1) / slabs;
      if (r0 >= r1) {
        std::fill(out, out + CO * K, 0.0f);
        return;
      }
      float* ap = AlignedScratch(0, static_cast<size_t>(coPad * kRows));
      float* bp = AlignedScratch(1, static_cast<size_t>(kRows * NR));
      long base[kRows], top[kRows], left[kRows];
      const long plane = geo.OH * geo.OW;
      for (long b0 = r0; b0 < r1; b0 += kRows) {
        const int kc = static_cast<int>(std::min(kRows, r1 - b0));
        PackA(static_cast<int>(CO), kc, dy + b0 * CO, 1, CO, ap);
        for (int p = 0; p < kc; p++) {
          const long r = b0 + p, n = r / plane, oh = (r % plane) / geo.OW, ow = r % geo.OW;
          base[p] = n * geo.H * geo.W * geo.C;
          top[p] = oh * geo.SH - geo.PT;
          left[p] = ow * geo.SW - geo.PL;
        }
        for (long j = 0; j < slivers; j++) {
          const long kk = j * NR, tap = kk / geo.C, c0 = kk % geo.C;
          const long di = (tap / geo.KW) * geo.DH, dj = (tap % geo.KW) * geo.DW;
          for (int p = 0; p < kc; p++) {
            const long ih = top[p] + di, iw = left[p] + dj;
            float* dst = bp + p * NR;
            if (ih < 0 || ih >= geo.H || iw < 0 || iw >= geo.W) {
              std::fill(dst, dst + NR, 0.0f);
            } else {
              std::memcpy(dst, x + base[p] + (ih * geo.W + iw) * geo.C + c0, sizeof(float) * NR);
            }
          }
          for (long ir = 0; ir < CO; ir += MR) {
            kernel(kc, ap + ir * kc, bp, out + ir * K + kk, K, static_cast<int>(std::min<long>(MR, CO - ir)), NR, b0 > r0);
          }
        }
      }
    });
    // dW [K x CO] = the slabs' dW^T summed in slab order.
    ParallelRange(K * CO, [&](long lo, long hi) {
      for (long i = lo; i < hi; i++) {
        const long kk = i / CO, co = i % CO;
        float v = partial[co * K + kk];
        for (long sl = 1; sl < slabs; sl++) v += partial[(sl * CO + co) * K + kk];
        dw[i] = v;
      }
    });
    return nullptr;
  }
  // Slabs of output pixels, each summed into its own partial filter (slab 0 straight into dW).
  std::vector<float> partial(static_cast<size_t>((slabs - 1) * K * CO));
  const bool pointwise = geo.Pointwise();
  Chunks(static_cast<int>(slabs), 2.0 * M * K * CO, [&](int s) {
    float* out = s == 0 ? dw : partial.data() + (s - 1) * K * CO;
    const long r0 = M * s / slabs, r1 = M * (s + 1) / slabs;
    if (r0 >= r1) {
      std::fill(out, out + K * CO, 0.0f);
      return;
    }
    float* buf = pointwise ? nullptr : Scratch(static_cast<size_t>(kRows * K));
    for (long b0 = r0; b0 < r1; b0 += kRows) {
      const long b1 = std::min(r1, b0 + kRows);
      const float* a = x + b0 * K;
      if (!pointwise) {
        Im2col(geo, x, b0, b1, buf);
        a = buf;
      }
      // out [K x CO] (+)= cols^T [K x rows] dy [rows x CO].
      GemmBlock({a, 1, K}, {dy + b0 * CO, CO, 1}, out, CO, 0, static_cast<int>(K), 0, static_cast<int>(CO), static_cast<int>(b1 - b0), b0 > r0);
    }
  });
  if (slabs > 1) {
    ParallelRange(K * CO, [&](long lo, long hi) {
      for (long s = 1; s < slabs; s++) {
        const float* __restrict p = partial.data() + (s - 1) * K * CO;
        for (long i = lo; i < hi; i++) dw[i] += p[i];
      }
    });
  }
  return nullptr;
}

}  // namespace aigc
