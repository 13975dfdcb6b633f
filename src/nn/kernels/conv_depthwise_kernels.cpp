// Depthwise convolutions by direct row loops at one ISA level (compiled once per level, see
// kernel_set.hpp): a ring of padded input rows per thread, the 3x3 row kernel on AVX-512, vector
// lanes flushed to double for the weight gradient.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "nn/kernels/conv_depthwise.hpp"
#include "nn/kernels/kernel_set.hpp"
#include "nn/kernels/microkernel.hpp"
#include "nn/kernels/ops_kernels.hpp"
#include "nn/kernels/simd_util.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace climseg::nn::CLIMSEG_KERNEL_NS {
namespace {

// Depthwise, stride 1 in columns: a ring of padded input rows per thread. Row u (unmapped, may be
// outside [0, H)) lives in slot u mod span, holding columns [-pw, W + pw) through the padding map, so
// every output column reads plain contiguous memory and vectorises without edge cases; each input
// row is padded once per plane.
struct DwRing {
  const ConvGeom* g;
  const float* plane;      // (H, W)
  int64_t* tags;           // logical row in each slot
  float* rows;             // span x len
  bool* zero;              // slot holds a row of zeros
  const int32_t* pad_src;  // source column of the 2 pw padding columns (-1: zero)
  int64_t span, len;       // span: a power of two
  void reset(const float* p) {
    plane = p;
    for (int64_t s = 0; s < span; ++s) tags[s] = INT64_MIN;
  }
  // The padded row u, or null for a row of zeros.
  const float* get(int64_t u) {
    const int64_t s = u & (span - 1);  // u mod span, also for negative u
    float* r = rows + s * len;
    if (tags[s] != u) {
      tags[s] = u;
      const int64_t iy = pad_index(u, g->h, g->pad.rows);
      zero[s] = iy < 0;
      if (iy >= 0) {
        const float* src = plane + iy * g->w;
        const int64_t pw = g->pad.w, w = g->w;
        for (int64_t j = 0; j < pw; ++j) {
          const int32_t l = pad_src[j], rt = pad_src[pw + j];
          r[j] = l < 0 ? 0.0f : src[l];
          r[pw + w + j] = rt < 0 ? 0.0f : src[rt];
        }
        std::memcpy(r + pw, src, static_cast<size_t>(w) * sizeof(float));
      }
    }
    return zero[s] ? nullptr : r;
  }
};

#if defined(__AVX512F__)
// V vectors (16 columns each; the last masked by `last`) of one output row of a 3x3 depthwise conv
// whose nine tap rows are all present: the nine weights stay in registers and the V accumulators are
// independent chains, so the FMA pipes are not waiting on the latency of one chain.
template <int V>
inline void dw3x3_block(const float* const* r, const __m512* wv, float* y, __mmask16 last, bool accumulate,
                        float bias) {
  __m512 a[V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) {
    const __mmask16 m = v == V - 1 ? last : __mmask16(0xffff);
    a[v] = accumulate ? _mm512_maskz_loadu_ps(m, y + 16 * v) : _mm512_set1_ps(bias);
  }
#pragma GCC unroll 9
  for (int t = 0; t < 9; ++t) {
#pragma GCC unroll 8
    for (int v = 0; v < V - 1; ++v) a[v] = _mm512_fmadd_ps(wv[t], _mm512_loadu_ps(r[t] + 16 * v), a[v]);
    a[V - 1] = _mm512_fmadd_ps(wv[t], _mm512_maskz_loadu_ps(last, r[t] + 16 * (V - 1)), a[V - 1]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < V - 1; ++v) _mm512_storeu_ps(y + 16 * v, a[v]);
  _mm512_mask_storeu_ps(y + 16 * (V - 1), last, a[V - 1]);
}

// One output row (ow columns) of a 3x3 depthwise conv with all tap rows present. Blocks of 4 to 8
// vectors: a row of 144 columns is 5 + 4 vectors, never a lone latency-bound vector at the end.
void dw3x3_row(const float* const* tap_row, const float* w, float* y, int64_t ow, bool accumulate, float bias) {
  __m512 wv[9];
  for (int t = 0; t < 9; ++t) wv[t] = _mm512_set1_ps(w[t]);
  const int64_t nv = (ow + 15) / 16;
  int64_t v0 = 0;
  while (v0 < nv) {
    const int64_t left = nv - v0, n = left <= 8 ? left : 4;
    const int64_t ox = 16 * v0;
    const __mmask16 last = mk::lane_mask(int(ow - 16 * (v0 + n - 1)));
    const float* r[9];
    for (int t = 0; t < 9; ++t) r[t] = tap_row[t] + ox;
    // Each block inlined here (with_rows), so the nine weights stay in registers.
    with_rows<8>(n, [&](auto v) { dw3x3_block<v()>(r, wv, y + ox, last, accumulate, bias); });
    v0 += n;
  }
}
#endif

// This thread's part of the workspace.
float* slice_of(const DepthwisePlan& plan, float* ws) { return ws + omp_get_thread_num() * plan.slice; }

DwRing ring_of(const DepthwisePlan& plan, float* slice) {
  DwRing r;
  r.g = &plan.g;
  r.plane = nullptr;
  r.tags = reinterpret_cast<int64_t*>(slice);
  r.zero = reinterpret_cast<bool*>(slice + 2 * plan.span);
  r.rows = slice + round_up(3 * plan.span, 16);
  r.pad_src = plan.pad_src.data();
  r.span = plan.span;
  r.len = plan.len;
  return r;
}

// Fetch into cache the input row the ring will read plan.ahead rows after the one it reads for output
// row oy; past the plane's end, that row of `next` (the plane read after this one). Without it the ring's
// copy of each new row waited on memory: the hardware prefetcher alone left the depthwise passes at
// a quarter of the copy bandwidth.
void prefetch_row(const DepthwisePlan& plan, const float* plane, int64_t oy, const float* next) {
  const ConvGeom& g = plan.g;
  int64_t row = oy * g.sh - g.pad.h + (g.kh - 1) * g.dh + plan.ahead;
  if (row >= g.h) {  // a row of the plane that follows (none: nothing to fetch)
    if (!next) return;
    plane = next, row -= g.h;
  }
  // Address arithmetic in integers: the row may lie past the end of the tensor.
  const uintptr_t p = reinterpret_cast<uintptr_t>(plane) + uintptr_t(row * g.w * int64_t(sizeof(float)));
  for (int64_t k = 0; k < g.w * int64_t(sizeof(float)); k += 64)
    __builtin_prefetch(reinterpret_cast<const void*>(p + uintptr_t(k)), 0, 3);
}

// One depthwise plane: y (OH, OW) (+)= bias + sum_k w[k] * x (H, W) shifted.
void forward_plane(const DepthwisePlan& plan, const float* x, const float* w, float bias, float* y, bool accumulate,
                   float* ws) {
  const ConvGeom& g = plan.g;
  const PadMaps& maps = plan.maps;
  const int64_t oh = g.oh(), ow = g.ow(), taps = g.kh * g.kw;
  if (g.sw != 1) {  // strided columns: every tap through the maps
    for (int64_t oy = 0; oy < oh; ++oy) {
      float* yr = y + oy * ow;
      for (int64_t ox = 0; ox < ow; ++ox) {
        float s = accumulate ? yr[ox] : bias;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          const int64_t iy = maps.row_at(ky, oy);
          if (iy < 0) continue;
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const int64_t ix = maps.col_at(kx, ox);
            if (ix >= 0) s += w[ky * g.kw + kx] * x[iy * g.w + ix];
          }
        }
        yr[ox] = s;
      }
    }
    return;
  }
  DwRing ring = ring_of(plan, ws);
  ring.reset(x);
  const float* tap_row[64];
  for (int64_t oy = 0; oy < oh; ++oy) {
    float* yr = y + oy * ow;
    prefetch_row(plan, x, oy, x + g.h * g.w);  // this thread's next plane follows this one in memory
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const float* r = ring.get(oy * g.sh - g.pad.h + ky * g.dh);
      for (int64_t kx = 0; kx < g.kw; ++kx) tap_row[ky * g.kw + kx] = r ? r + kx * g.dw : nullptr;
    }
    // Copy the row the next output row adds now: the taps then read rows whose stores have long
    // retired (reading a row right after copying it stalls on store forwarding: unaligned loads
    // that straddle two pending stores).
    ring.get((oy + 1) * g.sh - g.pad.h + (g.kh - 1) * g.dh);
    int64_t ox = 0;
#if defined(__AVX512F__)
    if (taps == 9) {
      bool full = true;
      for (int t = 0; t < 9; ++t) full = full && tap_row[t] != nullptr;
      if (full) {
        dw3x3_row(tap_row, w, yr, ow, accumulate, bias);
        continue;
      }
    }
    // Four independent accumulators (64 columns) hide the FMA latency; then 16 at a time, masked.
    for (; ox + 64 <= ow; ox += 64) {
      __m512 a0, a1, a2, a3;
      if (accumulate) {
        a0 = _mm512_loadu_ps(yr + ox), a1 = _mm512_loadu_ps(yr + ox + 16);
        a2 = _mm512_loadu_ps(yr + ox + 32), a3 = _mm512_loadu_ps(yr + ox + 48);
      } else {
        a0 = a1 = a2 = a3 = _mm512_set1_ps(bias);
      }
      for (int64_t t = 0; t < taps; ++t) {
        const float* src = tap_row[t];
        if (!src) continue;
        const __m512 wv = _mm512_set1_ps(w[t]);
        a0 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(src + ox), a0);
        a1 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(src + ox + 16), a1);
        a2 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(src + ox + 32), a2);
        a3 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(src + ox + 48), a3);
      }
      _mm512_storeu_ps(yr + ox, a0);
      _mm512_storeu_ps(yr + ox + 16, a1);
      _mm512_storeu_ps(yr + ox + 32, a2);
      _mm512_storeu_ps(yr + ox + 48, a3);
    }
    for (; ox < ow; ox += 16) {
      const __mmask16 m = mk::lane_mask(int(ow - ox));
      __m512 acc = accumulate ? _mm512_maskz_loadu_ps(m, yr + ox) : _mm512_set1_ps(bias);
      for (int64_t t = 0; t < taps; ++t)
        if (tap_row[t]) acc = _mm512_fmadd_ps(_mm512_set1_ps(w[t]), _mm512_maskz_loadu_ps(m, tap_row[t] + ox), acc);
      _mm512_mask_storeu_ps(yr + ox, m, acc);
    }
#else
    // Tap by tap along the row, each element summed in the same order (bias, then the taps): every
    // pass vectorises at this level's width.
    if (!accumulate)
      for (; ox < ow; ++ox) yr[ox] = bias;
    for (int64_t t = 0; t < taps; ++t) {
      const float* src = tap_row[t];
      if (!src) continue;
      const float wt = w[t];
#pragma omp simd
      for (int64_t i = 0; i < ow; ++i) yr[i] += wt * src[i];
    }
#endif
  }
}

// dx (H, W) += conv^T(dy (OH, OW)) for one depthwise plane.
void backward_input_plane(const DepthwisePlan& plan, const float* dy, const float* w, float* dx) {
  const ConvGeom& g = plan.g;
  const PadMaps& maps = plan.maps;
  const int64_t oh = g.oh(), ow = g.ow();
  for (int64_t oy = 0; oy < oh; ++oy) {
    const float* dyr = dy + oy * ow;
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const int64_t iy = maps.row_at(ky, oy);
      if (iy < 0) continue;
      float* dr = dx + iy * g.w;
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const float wk = w[ky * g.kw + kx];
        const int64_t off = kx * g.dw - g.pad.w, lo = maps.lo(kx), hi = maps.hi(kx);
        for (int64_t ox = 0; ox < lo; ++ox) {
          const int64_t ix = maps.col_at(kx, ox);
          if (ix >= 0) dr[ix] += wk * dyr[ox];
        }
        if (g.sw == 1) {
          float* ds = dr + off;
#pragma omp simd
          for (int64_t ox = lo; ox < hi; ++ox) ds[ox] += wk * dyr[ox];
        } else {
          for (int64_t ox = lo; ox < hi; ++ox) dr[ox * g.sw + off] += wk * dyr[ox];
        }
        for (int64_t ox = hi; ox < ow; ++ox) {
          const int64_t ix = maps.col_at(kx, ox);
          if (ix >= 0) dr[ix] += wk * dyr[ox];
        }
      }
    }
  }
}

// dw (KH, KW) of channel c (+)= sum over the batch and the plane: vector lanes (flushed to double
// every 16 rows), rows of the padded ring; a fixed order throughout.
void backward_weight_channel(const DepthwisePlan& plan, const float* x, const float* dy, int64_t c, float* dw,
                             bool accumulate, float* ws) {
  const ConvGeom& g = plan.g;
  const PadMaps& maps = plan.maps;
  const int64_t oh = g.oh(), ow = g.ow(), taps = g.kh * g.kw;
  double acc[64] = {};  // kh * kw <= 64 (checked when the algorithm is chosen)
  if (g.sw != 1) {
    for (int64_t n = 0; n < g.n; ++n) {
      const float* xp = x + (n * g.cin + c) * g.h * g.w;
      const float* dyp = dy + (n * g.cout + c) * oh * ow;
      for (int64_t oy = 0; oy < oh; ++oy) {
        float row[64] = {};
        for (int64_t ox = 0; ox < ow; ++ox)
          for (int64_t ky = 0; ky < g.kh; ++ky) {
            const int64_t iy = maps.row_at(ky, oy);
            if (iy < 0) continue;
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              const int64_t ix = maps.col_at(kx, ox);
              if (ix >= 0) row[ky * g.kw + kx] += dyp[oy * ow + ox] * xp[iy * g.w + ix];
            }
          }
        for (int64_t k = 0; k < taps; ++k) acc[k] += row[k];
      }
    }
  } else {
    DwRing ring = ring_of(plan, ws);
    const float* tap_row[64];
#if defined(__AVX512F__)
    const bool vec = taps <= 32;
    __m512 vacc[32];
    auto flush = [&] { flush_lanes(vacc, acc, taps); };
    if (vec)
      for (int64_t k = 0; k < taps; ++k) vacc[k] = _mm512_setzero_ps();
#else
    const bool vec = false;
#endif
    [[maybe_unused]] int64_t pending = 0;  // (unused without AVX-512)
    for (int64_t n = 0; n < g.n; ++n) {
      ring.reset(x + (n * g.cin + c) * g.h * g.w);
      const float* dyp = dy + (n * g.cout + c) * oh * ow;
      for (int64_t oy = 0; oy < oh; ++oy) {
        const float* dyr = dyp + oy * ow;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          const float* r = ring.get(oy * g.sh - g.pad.h + ky * g.dh);
          for (int64_t kx = 0; kx < g.kw; ++kx) tap_row[ky * g.kw + kx] = r ? r + kx * g.dw : nullptr;
        }
        ring.get((oy + 1) * g.sh - g.pad.h + (g.kh - 1) * g.dh);  // one row early, as in the forward
        if (vec) {
#if defined(__AVX512F__)
          // x and dy are streamed from memory once per channel: fetch rows ahead while this one is summed.
          // A channel's planes are C*H*W apart: near a plane's end, fetch the start of the next one.
          const bool more = n + 1 < g.n;
          prefetch_row(plan, x + (n * g.cin + c) * g.h * g.w, oy,
                       more ? x + ((n + 1) * g.cin + c) * g.h * g.w : nullptr);
          const int64_t ahead_row = oy + plan.ahead;  // may lie in the next plane (never beyond it)
          const float* dya = ahead_row < oh ? dyr + plan.ahead * ow
                             : more && ahead_row - oh < oh
                                 ? dy + ((n + 1) * g.cout + c) * oh * ow + (ahead_row - oh) * ow
                                 : nullptr;
          if (dya)
            for (int64_t k = 0; k < ow; k += 16) _mm_prefetch(reinterpret_cast<const char*>(dya + k), _MM_HINT_T0);
          bool full = taps == 9;
          for (int64_t t = 0; full && t < taps; ++t) full = tap_row[t] != nullptr;
          if (full) {
            // 3x3 with every tap row inside the plane (all rows but a few at the edges): nine
            // accumulators in registers for the row, added to the running sums once. (Indexing
            // vacc[] by a runtime tap kept it in memory: a store-to-load round trip per FMA.)
            const float *r0 = tap_row[0], *r1 = tap_row[1], *r2 = tap_row[2], *r3 = tap_row[3], *r4 = tap_row[4],
                        *r5 = tap_row[5], *r6 = tap_row[6], *r7 = tap_row[7], *r8 = tap_row[8];
            __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0, s8 = s0;
            for (int64_t ox = 0; ox < ow; ox += 16) {
              const __mmask16 m = mk::lane_mask(int(ow - ox));
              const __m512 d = _mm512_maskz_loadu_ps(m, dyr + ox);
              s0 = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, r0 + ox), s0);
              s1 = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, r1 + ox), s1);
              s2 = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, r2 + ox), s2);
              s3 = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, r3 + ox), s3);
              s4 = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, r4 + ox), s4);
              s5 = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, r5 + ox), s5);
              s6 = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, r6 + ox), s6);
              s7 = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, r7 + ox), s7);
              s8 = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, r8 + ox), s8);
            }
            vacc[0] = _mm512_add_ps(vacc[0], s0), vacc[1] = _mm512_add_ps(vacc[1], s1);
            vacc[2] = _mm512_add_ps(vacc[2], s2), vacc[3] = _mm512_add_ps(vacc[3], s3);
            vacc[4] = _mm512_add_ps(vacc[4], s4), vacc[5] = _mm512_add_ps(vacc[5], s5);
            vacc[6] = _mm512_add_ps(vacc[6], s6), vacc[7] = _mm512_add_ps(vacc[7], s7);
            vacc[8] = _mm512_add_ps(vacc[8], s8);
          } else {
            for (int64_t ox = 0; ox < ow; ox += 16) {
              const __mmask16 m = mk::lane_mask(int(ow - ox));
              const __m512 d = _mm512_maskz_loadu_ps(m, dyr + ox);
              for (int64_t t = 0; t < taps; ++t)
                if (tap_row[t]) vacc[t] = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, tap_row[t] + ox), vacc[t]);
            }
          }
          if (++pending == 16) flush(), pending = 0;
#endif
        } else {
          for (int64_t t = 0; t < taps; ++t) {
            if (!tap_row[t]) continue;
            float s = 0;
            const float* src = tap_row[t];
#pragma omp simd reduction(+ : s)
            for (int64_t ox = 0; ox < ow; ++ox) s += dyr[ox] * src[ox];
            acc[t] += s;
          }
        }
      }
    }
#if defined(__AVX512F__)
    if (vec) flush();
#endif
  }
  for (int64_t k = 0; k < taps; ++k) dw[k] = accumulate ? dw[k] + float(acc[k]) : float(acc[k]);
}

void forward(const DepthwisePlan& plan, const float* x, const float* w, const float* b, float* y, float* ws,
             const ConvEpilogue* ep) {
  const ConvGeom& g = plan.g;
  const int64_t p = g.oh() * g.ow(), planes = g.n * g.cin, khw = g.kh * g.kw;
  const int64_t image = epilogue_image(ep, g.cout * p);
#pragma omp parallel for schedule(dynamic, plane_chunk(planes, plan.threads)) num_threads(plan.threads)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const int64_t c = pl % g.cin;
    float* yp = y + pl / g.cin * image + c * p;
    forward_plane(plan, x + pl * g.h * g.w, w + c * khw, b ? b[c] : 0.0f, yp, false, slice_of(plan, ws));
    if (epilogue_affine(ep)) ep->apply(ops_kernels, yp, p, c);  // the plane is still in cache
  }
}

void backward_input(const DepthwisePlan& plan, const float* dy, const float* w, float* dx, bool accumulate, float* ws) {
  const ConvGeom& g = plan.g;
  const int64_t p = g.oh() * g.ow(), hw = g.h * g.w, khw = g.kh * g.kw;
#pragma omp parallel for schedule(static) num_threads(plan.threads)
  for (int64_t pl = 0; pl < g.n * g.cin; ++pl) {
    const int64_t c = pl % g.cin;
    float* dxp = dx + pl * hw;
    if (plan.same) {
      // Stride-1 "same" padding (zeros or circular): the adjoint is the same depthwise conv with the
      // kernel flipped in both axes, computed in gather form.
      float flipped[64];
      for (int64_t k = 0; k < khw; ++k) flipped[k] = w[c * khw + khw - 1 - k];
      forward_plane(plan, dy + pl * p, flipped, 0.0f, dxp, accumulate, slice_of(plan, ws));
    } else {
      if (!accumulate)
        for (int64_t i = 0; i < hw; ++i) dxp[i] = 0.0f;
      backward_input_plane(plan, dy + pl * p, w + c * khw, dxp);
    }
  }
}

void backward_weight(const DepthwisePlan& plan, const float* x, const float* dy, float* dw, bool accumulate,
                     float* ws) {
  const ConvGeom& g = plan.g;
#pragma omp parallel for schedule(static) num_threads(plan.threads)
  for (int64_t c = 0; c < g.cin; ++c)
    backward_weight_channel(plan, x, dy, c, dw + c * g.kh * g.kw, accumulate, slice_of(plan, ws));
}

}  // namespace

const DepthwiseKernels depthwise_kernels = {
    .forward = &forward,
    .backward_input = &backward_input,
    .backward_weight = &backward_weight,
};

}  // namespace climseg::nn::CLIMSEG_KERNEL_NS
