// 3x3 "same" depthwise convolutions with stride 1 by row groups (see conv_rowgroups.hpp), at the
// avx512 level only (compiled once per level, see kernel_set.hpp; empty below AVX-512).
#include "nn/kernels/conv_rowgroups.hpp"
#include "nn/kernels/kernel_set.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#include <omp.h>

#include <algorithm>

#include "nn/kernels/microkernel.hpp"
#include "nn/kernels/ops_kernels.hpp"
#include "nn/kernels/simd_util.hpp"

namespace climseg::nn::CLIMSEG_KERNEL_NS {
namespace {

// Rows to fetch into cache while a group is computed, issued a few lines after each block of vectors
// instead of all at once: a burst of prefetches stalls on the core's miss buffers with the FMAs
// behind it; spread out, the misses overlap the arithmetic.
struct PfRows {
  static constexpr int kMax = 48;
  uintptr_t base[kMax];
  bool write[kMax];
  int n = 0, row = 0;
  int64_t lines = 0, line = 0;  // lines per row; the next line of the current row
  // Row `row` of a plane of rows `w` floats long (integer arithmetic: the row may lie past the tensor).
  void add_row(const float* plane, int64_t row, int64_t w, bool wr) {
    if (n < kMax)
      base[n] = reinterpret_cast<uintptr_t>(plane) + uintptr_t(row * w * int64_t(sizeof(float))), write[n] = wr, ++n;
  }
  int64_t pending() const { return (n - row) * lines - line; }
  CLIMSEG_INLINE void issue(int64_t k) {
    for (; k > 0 && row < n; --k) {
      const void* p = reinterpret_cast<const void*>(base[row] + uintptr_t(64 * line));
      // Reads into L2 (prefetcht1): the line then waits there, not in one of the core's few L1 miss
      // buffers (forward 7.7-8.9 -> 7.3 ms on 16x128 planes in three alternating runs; backward equal).
      if (write[row])
        __builtin_prefetch(p, 1, 3);
      else
        __builtin_prefetch(p, 0, 2);
      if (++line == lines) line = 0, ++row;
    }
  }
};

// A full interior vector's store: streaming (non-temporal, no read-for-ownership of the line, which
// must be 64-byte aligned) when the caller says the output will not stay in cache anyway.
CLIMSEG_INLINE void dw3_store(float* p, __m512 v, bool nt) {
  if (nt)
    _mm512_stream_ps(p, v);
  else
    _mm512_storeu_ps(p, v);
}

// NV full interior vectors at column x0 of R output rows: in[0..R+1] are the input rows of output
// rows out[0..R-1] (out[j] reads in[j], in[j+1], in[j+2]); d is the column dilation.
template <int R, int NV>
CLIMSEG_INLINE void dw3_fwd_block(const float* const* in, const __m512* wv, int64_t x0, int64_t d, float* const* out,
                                  bool accumulate, float bias, bool nt) {
  __m512 a[R][NV];
#pragma GCC unroll 8
  for (int j = 0; j < R; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) a[j][v] = accumulate ? _mm512_loadu_ps(out[j] + x0 + 16 * v) : _mm512_set1_ps(bias);
#pragma GCC unroll 10
  for (int i = 0; i < R + 2; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const float* p = in[i] + x0 + 16 * v;
      const __m512 t0 = _mm512_loadu_ps(p - d), t1 = _mm512_loadu_ps(p), t2 = _mm512_loadu_ps(p + d);
#pragma GCC unroll 8
      for (int j = 0; j < R; ++j) {
        const int ky = i - j;
        if (ky < 0 || ky > 2) continue;
        a[j][v] = _mm512_fmadd_ps(wv[3 * ky], t0, a[j][v]);
        a[j][v] = _mm512_fmadd_ps(wv[3 * ky + 1], t1, a[j][v]);
        a[j][v] = _mm512_fmadd_ps(wv[3 * ky + 2], t2, a[j][v]);
      }
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < R; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) dw3_store(out[j] + x0 + 16 * v, a[j][v], nt);
}

// As dw3_fwd_block, with the -d and +d taps permuted out of aligned loads (RowGroupPlan::shift).
template <int R, int NV>
CLIMSEG_INLINE void dw3_fwd_block_shift(const float* const* in, const __m512* wv, int64_t x0, __m512i im, __m512i ip,
                                        __mmask16 mlo, __mmask16 mhi, float* const* out, bool accumulate, float bias,
                                        bool nt) {
  __m512 a[R][NV];
#pragma GCC unroll 8
  for (int j = 0; j < R; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) a[j][v] = accumulate ? _mm512_loadu_ps(out[j] + x0 + 16 * v) : _mm512_set1_ps(bias);
#pragma GCC unroll 10
  for (int i = 0; i < R + 2; ++i) {
    const float* p = in[i] + x0;
    __m512 c[NV + 2];
    c[0] = _mm512_maskz_loadu_ps(mhi, p - 16);  // only the lanes the -d tap takes
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) c[v + 1] = _mm512_loadu_ps(p + 16 * v);
    c[NV + 1] = _mm512_maskz_loadu_ps(mlo, p + 16 * NV);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __m512 t0 = _mm512_permutex2var_ps(c[v], im, c[v + 1]), t1 = c[v + 1],
                   t2 = _mm512_permutex2var_ps(c[v + 1], ip, c[v + 2]);
#pragma GCC unroll 8
      for (int j = 0; j < R; ++j) {
        const int ky = i - j;
        if (ky < 0 || ky > 2) continue;
        a[j][v] = _mm512_fmadd_ps(wv[3 * ky], t0, a[j][v]);
        a[j][v] = _mm512_fmadd_ps(wv[3 * ky + 1], t1, a[j][v]);
        a[j][v] = _mm512_fmadd_ps(wv[3 * ky + 2], t2, a[j][v]);
      }
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < R; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) dw3_store(out[j] + x0 + 16 * v, a[j][v], nt);
}

// The three taps of input row `row` for vector v, whichever way each is built (see RowGroupPlan).
CLIMSEG_INLINE void dw3_edge_taps(const RowGroupPlan& pl, int64_t v, int64_t w, int64_t d, const float* row,
                                  __mmask16 m, const __m512i* ix, __m512* t) {
  const __m512 first = _mm512_loadu_ps(row), last = _mm512_loadu_ps(row + w - 16);
  for (int kx = 0; kx < 3; ++kx) {
    const size_t k = static_cast<size_t>(3 * v + kx);
    t[kx] = pl.direct[k] ? _mm512_maskz_loadu_ps(m, row + 16 * v + (kx - 1) * d)
                         : _mm512_maskz_permutex2var_ps(pl.lanes[k], first, ix[kx], last);
  }
}

// Edge vectors (some tap crosses the row's ends, or fewer than 16 columns) of R output rows, NE of
// them at once (vectors ev[0..NE-1]): one alone would leave the FMA pipes waiting on its R chains.
template <int R, int NE>
void dw3_fwd_edge(const RowGroupPlan& pl, const int64_t* ev, int64_t w, int64_t d, const float* const* in,
                  const __m512* wv, float* const* out, bool accumulate, float bias) {
  __mmask16 m[NE];
  __m512i ix[NE][3];
  __m512 a[NE][R];
  for (int e = 0; e < NE; ++e) {
    const int64_t x0 = 16 * ev[e];
    m[e] = mk::lane_mask(int(std::min<int64_t>(16, w - x0)));
    for (int kx = 0; kx < 3; ++kx) ix[e][kx] = _mm512_loadu_si512(pl.idx.data() + (3 * ev[e] + kx) * 16);
    for (int j = 0; j < R; ++j) a[e][j] = accumulate ? _mm512_maskz_loadu_ps(m[e], out[j] + x0) : _mm512_set1_ps(bias);
  }
#pragma GCC unroll 10
  for (int i = 0; i < R + 2; ++i) {
#pragma GCC unroll 2
    for (int e = 0; e < NE; ++e) {
      __m512 t[3];
      dw3_edge_taps(pl, ev[e], w, d, in[i], m[e], ix[e], t);
#pragma GCC unroll 8
      for (int j = 0; j < R; ++j) {
        const int ky = i - j;
        if (ky < 0 || ky > 2) continue;
        for (int kx = 0; kx < 3; ++kx) a[e][j] = _mm512_fmadd_ps(wv[3 * ky + kx], t[kx], a[e][j]);
      }
    }
  }
  for (int e = 0; e < NE; ++e)
    for (int j = 0; j < R; ++j) _mm512_mask_storeu_ps(out[j] + 16 * ev[e], m[e], a[e][j]);
}

template <int R>
void dw3_fwd_rows(const RowGroupPlan& pl, int64_t w, int64_t d, const float* const* in, const float* wt,
                  float* const* out, bool accumulate, float bias, bool nt, PfRows& pf) {
  __m512 wv[9];
  for (int t = 0; t < 9; ++t) wv[t] = _mm512_set1_ps(wt[t]);
  // Prefetches per block of vectors: the group's share, spread over its (about nv) blocks.
  const int64_t k = (pf.pending() + pl.nv - 1) / pl.nv;
  int64_t v = pl.vlo;
  if (pl.shift) {
    const __m512i im = _mm512_load_si512(pl.idx_minus), ip = _mm512_load_si512(pl.idx_plus);
    const __mmask16 mlo = mk::lane_mask(int(d)), mhi = __mmask16(~mk::lane_mask(int(16 - d)));
    if constexpr (R > 4) {
      for (; v < pl.vhi; ++v) {
        dw3_fwd_block_shift<R, 1>(in, wv, 16 * v, im, ip, mlo, mhi, out, accumulate, bias, nt);
        pf.issue(k);
      }
    } else {
      for (; v + 2 <= pl.vhi; v += 2) {
        dw3_fwd_block_shift<R, 2>(in, wv, 16 * v, im, ip, mlo, mhi, out, accumulate, bias, nt);
        pf.issue(2 * k);
      }
      if (v < pl.vhi) dw3_fwd_block_shift<R, 1>(in, wv, 16 * v, im, ip, mlo, mhi, out, accumulate, bias, nt);
    }
  } else if constexpr (R > 4) {
    for (; v < pl.vhi; ++v) {
      dw3_fwd_block<R, 1>(in, wv, 16 * v, d, out, accumulate, bias, nt);
      pf.issue(k);
    }
  } else {
    for (; v + 2 <= pl.vhi; v += 2) {
      dw3_fwd_block<R, 2>(in, wv, 16 * v, d, out, accumulate, bias, nt);
      pf.issue(2 * k);
    }
    if (v < pl.vhi) dw3_fwd_block<R, 1>(in, wv, 16 * v, d, out, accumulate, bias, nt);
  }
  // The edge vectors (those outside [vlo, vhi)), two at a time.
  const int64_t ne = pl.nv - (pl.vhi - pl.vlo);
  for (int64_t q = 0; q < ne; q += 2) {
    int64_t ev[2];
    for (int e = 0; e < 2; ++e) ev[e] = q + e < pl.vlo ? q + e : q + e + (pl.vhi - pl.vlo);
    if (q + 1 < ne)
      dw3_fwd_edge<R, 2>(pl, ev, w, d, in, wv, out, accumulate, bias);
    else
      dw3_fwd_edge<R, 1>(pl, ev, w, d, in, wv, out, accumulate, bias);
  }
  pf.issue(pf.pending());
}

// Weight gradient: s[3 ky + kx] += dy(rows) * tap(ky, kx), lane-wise.
template <int R, int NV>
CLIMSEG_INLINE void dw3_wgt_block(const float* const* in, const float* const* dyr, int64_t x0, int64_t d, __m512* s) {
  __m512 dv[R][NV];
#pragma GCC unroll 8
  for (int j = 0; j < R; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) dv[j][v] = _mm512_loadu_ps(dyr[j] + x0 + 16 * v);
#pragma GCC unroll 10
  for (int i = 0; i < R + 2; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const float* p = in[i] + x0 + 16 * v;
      const __m512 t0 = _mm512_loadu_ps(p - d), t1 = _mm512_loadu_ps(p), t2 = _mm512_loadu_ps(p + d);
#pragma GCC unroll 8
      for (int j = 0; j < R; ++j) {
        const int ky = i - j;
        if (ky < 0 || ky > 2) continue;
        s[3 * ky] = _mm512_fmadd_ps(dv[j][v], t0, s[3 * ky]);
        s[3 * ky + 1] = _mm512_fmadd_ps(dv[j][v], t1, s[3 * ky + 1]);
        s[3 * ky + 2] = _mm512_fmadd_ps(dv[j][v], t2, s[3 * ky + 2]);
      }
    }
  }
}

template <int R>
void dw3_wgt_rows(const RowGroupPlan& pl, int64_t w, int64_t d, const float* const* in, const float* const* dyr,
                  __m512* sio) {
  __m512 s[9];
  for (int k = 0; k < 9; ++k) s[k] = sio[k];
  int64_t v = pl.vlo;
  for (; v + 2 <= pl.vhi; v += 2) dw3_wgt_block<R, 2>(in, dyr, 16 * v, d, s);
  if (v < pl.vhi) dw3_wgt_block<R, 1>(in, dyr, 16 * v, d, s);
  // The edge vectors: those outside [vlo, vhi).
  for (int64_t k = 0; k < pl.nv - (pl.vhi - pl.vlo); ++k) {
    const int64_t e = k < pl.vlo ? k : k + (pl.vhi - pl.vlo);
    const int64_t x0 = 16 * e;
    const __mmask16 m = mk::lane_mask(int(std::min<int64_t>(16, w - x0)));
    __m512i ix[3];
    for (int kx = 0; kx < 3; ++kx) ix[kx] = _mm512_loadu_si512(pl.idx.data() + (3 * e + kx) * 16);
    __m512 dv[R];
    for (int j = 0; j < R; ++j) dv[j] = _mm512_maskz_loadu_ps(m, dyr[j] + x0);
#pragma GCC unroll 10
    for (int i = 0; i < R + 2; ++i) {
      __m512 t[3];
      dw3_edge_taps(pl, e, w, d, in[i], m, ix, t);
#pragma GCC unroll 8
      for (int j = 0; j < R; ++j) {
        const int ky = i - j;
        if (ky < 0 || ky > 2) continue;
        for (int kx = 0; kx < 3; ++kx) s[3 * ky + kx] = _mm512_fmadd_ps(dv[j], t[kx], s[3 * ky + kx]);
      }
    }
  }
  for (int k = 0; k < 9; ++k) sio[k] = s[k];
}

// Both gradients of R rows at one vector in one pass, from dy's taps alone: dx (+)= the conv of dy with
// the flipped kernel wf, and the weight sums s[3 ky + kx] += x * dy's tap at (2 - ky, 2 - kx). (For
// zero and circular padding the sum over pixels of dy(p) x(p + o) equals that of x(p) dy(p - o): the
// same pairs, so x is read only at the output rows, with aligned loads, and dy's taps serve both.)
// MODE: 0 an interior vector, taps loaded; 1 an interior vector, -d and +d taps permuted out of
// aligned loads (RowGroupPlan::shift); 2 an edge vector (masked lanes, taps through the plan's permutes).
template <int R, int MODE>
CLIMSEG_INLINE void dw3_bwd_vec(const RowGroupPlan& pl, int64_t v, int64_t w, int64_t d, const float* const* dyin,
                                const float* const* xin, const __m512* wf, float* const* dxo, bool accumulate,
                                __m512* s) {
  constexpr bool E = MODE == 2;
  const int64_t x0 = 16 * v;
  const __mmask16 m = E ? mk::lane_mask(int(std::min<int64_t>(16, w - x0))) : __mmask16(0xffff);
  __m512i ix[3];
  if constexpr (E)
    for (int kx = 0; kx < 3; ++kx) ix[kx] = _mm512_loadu_si512(pl.idx.data() + (3 * v + kx) * 16);
  __m512i im, ip;
  __mmask16 mlo = 0, mhi = 0;
  if constexpr (MODE == 1) {
    im = _mm512_load_si512(pl.idx_minus), ip = _mm512_load_si512(pl.idx_plus);
    mlo = mk::lane_mask(int(d)), mhi = __mmask16(~mk::lane_mask(int(16 - d)));
  }
  auto taps = [&](const float* row, __m512* t) {
    const float* p = row + x0;
    if constexpr (E) {
      dw3_edge_taps(pl, v, w, d, row, m, ix, t);
    } else if constexpr (MODE == 1) {
      t[1] = _mm512_loadu_ps(p);
      t[0] = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(mhi, p - 16), im, t[1]);
      t[2] = _mm512_permutex2var_ps(t[1], ip, _mm512_maskz_loadu_ps(mlo, p + 16));
    } else {
      t[0] = _mm512_loadu_ps(p - d), t[1] = _mm512_loadu_ps(p), t[2] = _mm512_loadu_ps(p + d);
    }
  };
  // x at the R output rows (xin[1..R]), for the weight sums.
  __m512 a[R], xc[R];
#pragma GCC unroll 8
  for (int j = 0; j < R; ++j) {
    a[j] = accumulate ? _mm512_maskz_loadu_ps(m, dxo[j] + x0) : _mm512_setzero_ps();
    xc[j] = _mm512_maskz_loadu_ps(m, xin[j + 1] + x0);
  }
#pragma GCC unroll 10
  for (int i = 0; i < R + 2; ++i) {
    __m512 t[3];
    taps(dyin[i], t);
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) {
      const int ky = i - j;
      if (ky < 0 || ky > 2) continue;
#pragma GCC unroll 3
      for (int kx = 0; kx < 3; ++kx) {
        a[j] = _mm512_fmadd_ps(wf[3 * ky + kx], t[kx], a[j]);
        s[8 - 3 * ky - kx] = _mm512_fmadd_ps(xc[j], t[kx], s[8 - 3 * ky - kx]);
      }
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < R; ++j) _mm512_mask_storeu_ps(dxo[j] + x0, m, a[j]);
}

template <int R>
void dw3_bwd_rows(const RowGroupPlan& pl, int64_t w, int64_t d, const float* const* dyin, const float* const* xin,
                  const float* wflip, float* const* dxo, bool accumulate, __m512* sio, PfRows& pf) {
  __m512 wf[9], s[9];
  for (int t = 0; t < 9; ++t) wf[t] = _mm512_set1_ps(wflip[t]), s[t] = sio[t];
  const int64_t k = (pf.pending() + pl.nv - 1) / pl.nv;  // prefetches per vector (see PfRows)
  if (pl.shift)
    for (int64_t v = pl.vlo; v < pl.vhi; ++v) {
      dw3_bwd_vec<R, 1>(pl, v, w, d, dyin, xin, wf, dxo, accumulate, s);
      pf.issue(k);
    }
  else
    for (int64_t v = pl.vlo; v < pl.vhi; ++v) {
      dw3_bwd_vec<R, 0>(pl, v, w, d, dyin, xin, wf, dxo, accumulate, s);
      pf.issue(k);
    }
  for (int64_t e = 0; e < pl.vlo; ++e) dw3_bwd_vec<R, 2>(pl, e, w, d, dyin, xin, wf, dxo, accumulate, s);
  for (int64_t e = pl.vhi; e < pl.nv; ++e) dw3_bwd_vec<R, 2>(pl, e, w, d, dyin, xin, wf, dxo, accumulate, s);
  pf.issue(pf.pending());
  for (int t = 0; t < 9; ++t) sio[t] = s[t];
}

// Fetch row `row` of a (h, w) plane into cache; rows past its end are rows of `next` (null: nothing).
// Address arithmetic in integers: the row may lie past the end of the tensor.
void prefetch_plane_row(const float* plane, int64_t row, int64_t h, int64_t w, const float* next) {
  if (row >= h) {
    if (!next || row - h >= h) return;
    plane = next, row -= h;
  }
  const uintptr_t p = reinterpret_cast<uintptr_t>(plane) + uintptr_t(row * w * int64_t(sizeof(float)));
  for (int64_t k = 0; k < w * int64_t(sizeof(float)); k += 64)
    __builtin_prefetch(reinterpret_cast<const void*>(p + uintptr_t(k)), 0, 3);
}

// One plane through the row groups: groups of R rows spaced by d, d groups per block of R*d rows.
// Each group queues R input rows to fetch (into L2, at least pl.ahead rows beyond the furthest row
// it reads) and R output rows of the next block, issued between its vector blocks (PfRows).
void forward_plane(const RowGroupPlan& pl, const float* x, const float* w, float bias, float* y, bool accumulate,
                   const float* next, bool nt) {
  const ConvGeom& g = pl.g;
  constexpr int R = RowGroupPlan::kRowsForward;
  const int64_t h = g.h, wd = g.w, d = g.dh;
  const float* in[R + 2];
  float* out[R];
  // Rows fetched so far: the previous plane fetched this one's first R*d + pl.ahead; the first block's
  // output rows are not fetched (they are written at once).
  int64_t fetched = R * d + pl.ahead, stored = R * d;
  for (int64_t b = 0; b < h; b += R * d)
    for (int64_t oy = b; oy < std::min(b + d, h); ++oy) {
      const int n = int(std::min<int64_t>(R, (h - 1 - oy) / d + 1));
      for (int i = 0; i < n + 2; ++i) {
        const int64_t iy = pad_index(oy + (i - 1) * d, h, g.pad.rows);
        in[i] = iy < 0 ? pl.zero.data() : x + iy * wd;
      }
      for (int j = 0; j < n; ++j) out[j] = y + (oy + j * d) * wd;
      // Input rows ahead at an even R rows per group (the block's rows over its d groups), at least
      // pl.ahead rows beyond the furthest row a group reads; and the output rows of the next block
      // with intent to write (the rows are stored in groups, not in order, and a store stream the
      // hardware does not follow waited on each line's read-for-ownership).
      PfRows pf;
      pf.lines = (wd * int64_t(sizeof(float)) + 63) / 64;
      for (const int64_t until = b + (oy - b + 1) * R + R * d + pl.ahead - 1; fetched <= until; ++fetched) {
        int64_t row = fetched;
        const float* plane = x;
        if (row >= h) plane = next, row -= h;
        if (plane && row < h) pf.add_row(plane, row, wd, false);
      }
      for (const int64_t until = nt ? -1 : std::min(h - 1, b + R * d + (oy - b + 1) * R - 1); stored <= until; ++stored)
        pf.add_row(y, stored, wd, true);
      with_rows<R>(n, [&](auto rows) { dw3_fwd_rows<rows()>(pl, wd, g.dw, in, w, out, accumulate, bias, nt, pf); });
    }
  if (nt) _mm_sfence();  // streaming stores are weakly ordered: drain them before the plane is read
}

// dw (3, 3) of channel c (+)= sum over the batch and the plane, through the row groups: lane-wise
// float sums flushed to double every 16 or more rows, in a fixed order (independent of threads).
void weight_channel(const RowGroupPlan& pl, const float* x, const float* dy, int64_t c, float* dw, bool accumulate) {
  const ConvGeom& g = pl.g;
  constexpr int R = RowGroupPlan::kRowsBackward;
  const int64_t h = g.h, wd = g.w, d = g.dh, hw = h * wd;
  double acc[9] = {};
  __m512 s[9];
  for (int k = 0; k < 9; ++k) s[k] = _mm512_setzero_ps();
  auto flush = [&] { flush_lanes(s, acc, 9); };
  const float* in[R + 2];
  const float* dyr[R];
  int64_t pending = 0, fetched_x = pl.ahead, fetched_dy = pl.ahead;
  for (int64_t n = 0; n < g.n; ++n) {
    const float* xp = x + (n * g.cin + c) * hw;
    const float* dyp = dy + (n * g.cout + c) * hw;
    // A channel's planes are C*H*W apart: near a plane's end, fetch the start of the next one (of
    // the next channel after the last image: a thread's channels are consecutive).
    const bool more = n + 1 < g.n, next_c = !more && c + 1 < g.cin;
    const float* xn = more ? xp + g.cin * hw : next_c ? x + (c + 1) * hw : nullptr;
    const float* dyn = more ? dyp + g.cout * hw : next_c ? dy + (c + 1) * hw : nullptr;
    fetched_x -= std::min(fetched_x, h), fetched_dy -= std::min(fetched_dy, h);
    for (int64_t b = 0; b < h; b += R * d)
      for (int64_t oy = b; oy < std::min(b + d, h); ++oy) {
        const int m = int(std::min<int64_t>(R, (h - 1 - oy) / d + 1));
        for (int i = 0; i < m + 2; ++i) {
          const int64_t iy = pad_index(oy + (i - 1) * d, h, g.pad.rows);
          in[i] = iy < 0 ? pl.zero.data() : xp + iy * wd;
        }
        for (int j = 0; j < m; ++j) dyr[j] = dyp + (oy + j * d) * wd;
        for (const int64_t until = oy + m * d + R * d + pl.ahead; fetched_x <= until; ++fetched_x)
          prefetch_plane_row(xp, fetched_x, h, wd, xn);
        for (const int64_t until = oy + (m - 1) * d + R * d + pl.ahead; fetched_dy <= until; ++fetched_dy)
          prefetch_plane_row(dyp, fetched_dy, h, wd, dyn);
        with_rows<R>(m, [&](auto rows) { dw3_wgt_rows<rows()>(pl, wd, g.dw, in, dyr, s); });
        if ((pending += m) >= 16) flush(), pending = 0;
      }
  }
  flush();
  for (int k = 0; k < 9; ++k) dw[k] = accumulate ? dw[k] + float(acc[k]) : float(acc[k]);
}
// Both gradients of one plane in one sweep (see dw3_bwd_vec): dx (+)= conv(dy, flipped w) and this
// plane's weight-gradient sums, part[9], in double (lane-wise float sums flushed every 16 or more rows).
// Reads x and dy once and writes dx once, against twice dy and once more x for the two passes apart.
void backward_plane(const RowGroupPlan& pl, const float* x, const float* dy, const float* wflip, float* dx,
                    bool accumulate, double* part, bool more) {
  const ConvGeom& g = pl.g;
  constexpr int R = RowGroupPlan::kRowsBackward;
  const int64_t h = g.h, wd = g.w, d = g.dh, hw = h * wd;
  const float* next_x = more ? x + hw : nullptr;  // a thread's planes are consecutive
  const float* next_dy = more ? dy + hw : nullptr;
  double acc[9] = {};
  __m512 s[9];
  for (int k = 0; k < 9; ++k) s[k] = _mm512_setzero_ps();
  auto flush = [&] { flush_lanes(s, acc, 9); };
  const float *dyin[R + 2], *xin[R + 2];
  float* dxo[R];
  int64_t fetched = R * d + pl.ahead, stored = R * d, pending = 0;  // as in the forward
  for (int64_t b = 0; b < h; b += R * d)
    for (int64_t oy = b; oy < std::min(b + d, h); ++oy) {
      const int n = int(std::min<int64_t>(R, (h - 1 - oy) / d + 1));
      for (int i = 0; i < n + 2; ++i) {
        const int64_t iy = pad_index(oy + (i - 1) * d, h, g.pad.rows);
        dyin[i] = iy < 0 ? pl.zero.data() : dy + iy * wd;
        xin[i] = iy < 0 ? pl.zero.data() : x + iy * wd;
      }
      for (int j = 0; j < n; ++j) dxo[j] = dx + (oy + j * d) * wd;
      // As in the forward: dy's and x's rows ahead at an even R rows per group, dx's rows of the next
      // block with intent to write, issued a few lines after each vector.
      PfRows pf;
      pf.lines = (wd * int64_t(sizeof(float)) + 63) / 64;
      for (const int64_t until = b + (oy - b + 1) * R + R * d + pl.ahead - 1; fetched <= until; ++fetched) {
        int64_t row = fetched;
        const float *pdy = dy, *px = x;
        if (row >= h) pdy = next_dy, px = next_x, row -= h;
        if (!pdy || row >= h) continue;
        pf.add_row(pdy, row, wd, false);
        pf.add_row(px, row, wd, false);
      }
      for (const int64_t until = std::min(h - 1, b + R * d + (oy - b + 1) * R - 1); stored <= until; ++stored)
        pf.add_row(dx, stored, wd, true);
      with_rows<R>(n, [&](auto rows) { dw3_bwd_rows<rows()>(pl, wd, g.dw, dyin, xin, wflip, dxo, accumulate, s, pf); });
      if ((pending += n) >= 16) flush(), pending = 0;
    }
  flush();
  for (int k = 0; k < 9; ++k) part[k] = acc[k];
}

// 32 MiB: the last-level cache of one Zen 4 CCD (a guess on a VM that does not report it; being
// wrong only moves where streaming starts). Input and output together beyond it: streaming stores.
constexpr int64_t kStreamBytes = int64_t(32) << 20;

// Whether the forward's row groups write `out` (N, C, H, W) with streaming stores: when input and
// output together exceed the last-level cache (they would not stay in it anyway, and streaming
// skips the read-for-ownership of every output line: a third less memory traffic) and rows are
// whole lines. (The backward's dx streamed measured slower in two of three alternating runs:
// fwd+bwd 5.7-5.9 against 4.9-5.1 ms; the third, on a slow moment, 5.7 against 7.3.)
bool stream(const ConvGeom& g, const float* out) {
  const int64_t bytes = 2 * g.n * g.cin * g.h * g.w * int64_t(sizeof(float));
  return bytes > kStreamBytes && g.w % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 64 == 0;
}

void forward(const RowGroupPlan& pl, const float* x, const float* w, const float* b, float* y, const ConvEpilogue* ep) {
  const ConvGeom& g = pl.g;
  const int64_t hw = g.h * g.w, planes = g.n * g.cin;
  const int64_t image = epilogue_image(ep, g.cout * hw);
  const bool affine = epilogue_affine(ep);
  // (Not streamed with an epilogue: it reads the plane back right away, from cache.)
  const bool nt = !affine && image == g.cout * hw && stream(g, y);
#pragma omp parallel for schedule(dynamic, plane_chunk(planes, pl.threads)) num_threads(pl.threads)
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t c = p % g.cin;
    const float* xp = x + p * hw;
    float* yp = y + p / g.cin * image + c * hw;
    forward_plane(pl, xp, w + c * 9, b ? b[c] : 0.0f, yp, false, xp + hw, nt);
    if (affine) ep->apply(ops_kernels, yp, hw, c);
  }
}

// Stride-1 "same" padding (zeros or circular): the adjoint is the same depthwise conv with the
// kernel flipped in both axes, computed in gather form.
void backward_input(const RowGroupPlan& pl, const float* dy, const float* w, float* dx, bool accumulate) {
  const ConvGeom& g = pl.g;
  const int64_t hw = g.h * g.w;
#pragma omp parallel for schedule(static) num_threads(pl.threads)
  for (int64_t p = 0; p < g.n * g.cin; ++p) {
    const int64_t c = p % g.cin;
    float flipped[9];
    for (int k = 0; k < 9; ++k) flipped[k] = w[c * 9 + 8 - k];
    forward_plane(pl, dy + p * hw, flipped, 0.0f, dx + p * hw, accumulate, dy + (p + 1) * hw, false);
  }
}

void backward_weight(const RowGroupPlan& pl, const float* x, const float* dy, float* dw, bool accumulate) {
#pragma omp parallel for schedule(static) num_threads(pl.threads)
  for (int64_t c = 0; c < pl.g.cin; ++c) weight_channel(pl, x, dy, c, dw + c * 9, accumulate);
}

// One sweep per plane for both gradients; each plane's weight sums in double, then summed over the
// batch in a fixed order (the result does not depend on the thread count).
void backward(const RowGroupPlan& pl, const float* x, const float* dy, const float* w, float* dx, bool accumulate_x,
              float* dw, bool accumulate_w, float* ws) {
  const ConvGeom& g = pl.g;
  double* part = reinterpret_cast<double*>(ws);
  const int64_t planes = g.n * g.cin, hw = g.h * g.w;
#pragma omp parallel for schedule(dynamic, plane_chunk(planes, pl.threads)) num_threads(pl.threads)
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t c = p % g.cin;
    float flipped[9];
    for (int k = 0; k < 9; ++k) flipped[k] = w[c * 9 + 8 - k];
    backward_plane(pl, x + p * hw, dy + p * hw, flipped, dx + p * hw, accumulate_x, part + p * 9, p + 1 < planes);
  }
  for (int64_t c = 0; c < g.cin; ++c)
    for (int k = 0; k < 9; ++k) {
      double t = 0;
      for (int64_t n = 0; n < g.n; ++n) t += part[(n * g.cin + c) * 9 + k];
      dw[c * 9 + k] = accumulate_w ? dw[c * 9 + k] + float(t) : float(t);
    }
}

}  // namespace

const RowGroupKernels rowgroup_kernels = {
    .forward = &forward,
    .backward_input = &backward_input,
    .backward_weight = &backward_weight,
    .backward = &backward,
};

}  // namespace climseg::nn::CLIMSEG_KERNEL_NS
#endif
