// Fast float conv2d: implicit GEMM on packed im2col tiles, 1x1 GEMM, depthwise direct loops.
#include "nn/kernels/conv.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "nn/kernels/microkernel.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace climseg::nn {
namespace {

// Floor and ceiling of a / b for b > 0 and any sign of a.
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }
int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// Microkernel shapes: forward C (8 x 48) over output channels x pixels; the gradients C (12 x 32)
// over im2col rows x output channels (weights) or im2col rows x pixels (input).
constexpr int kMrF = 8, kNvF = 3, kNrF = 16 * kNvF;
constexpr int kMrG = 12, kNvG = 2, kNrG = 16 * kNvG;
// Packed tiles aim at this many floats (256 KiB), to stay in L2 while the microkernel streams them.
constexpr int64_t kTileFloats = 64 * 1024;

// [begin, end) of part t of n items split into nth nearly equal contiguous parts.
inline void split(int64_t n, int t, int nth, int64_t* b, int64_t* e) {
  *b = n * t / nth;
  *e = n * (t + 1) / nth;
}

}  // namespace

// 3x3 "same" depthwise, stride 1 (CGNet's local and surround branches). Output rows are computed R
// at a time, spaced by the dilation d (rows oy, oy+d, ..., oy+(R-1)d), so the R+2 input rows they
// read are loaded once for all of them: 3(R+2)/R loads per output vector instead of 9 (3.75 with
// the forward's R = 8), against 9 FMAs. The -d and +d taps are permuted out of the aligned vectors
// around them rather than loaded unaligned: on Zen 4 a 64-byte load that straddles two cache lines
// costs at least two load slots, and two taps of three straddled (permuting measured 1.1-1.3x
// faster even with R = 8, where the loads alone would not bind). Rows are read straight from the
// plane (no padded copy): a row outside the plane is a row of zeros or another row (the padding
// map); the few vectors whose taps cross the row's ends build those taps from the row's first and
// last 16 columns with one two-table permute (circular: wrapped lanes; zeros: masked lanes). The
// backward computes dx and the weight sums in one sweep over dy (see dw3_bwd_vec).
struct Dw3Plan {
  // R: rows per group, forward (NV = 1 vector per block beyond 4 rows: the accumulators fill the
  // registers) and backward (its accumulators are R for dx, R of x and nine weight sums).
  static constexpr int kRowsForward = 8, kRowsBackward = 4;
  int64_t nv = 0;               // vectors of 16 columns per row
  int64_t vlo = 0, vhi = 0;     // vectors [vlo, vhi): every tap a plain in-row load, all 16 lanes out
  std::vector<int32_t> idx;     // (nv, 3, 16): permute index of each lane (0..15 first, 16..31 last 16 columns)
  std::vector<uint16_t> lanes;  // (nv, 3): lanes that take a value (the others are zero)
  std::vector<uint8_t> direct;  // (nv, 3): the tap is a plain load from the row
  std::vector<float> zero;      // a row of zeros
  // Interior taps at -d and +d from the aligned vectors around them (vpermt2ps) instead of loads
  // that straddle cache lines: lane j of the -d tap is lane j + 16 - d of (previous, this), of the
  // +d tap lane j + d of (this, next). Used when d <= 16.
  bool shift = false;
  alignas(64) int32_t idx_minus[16], idx_plus[16];
};

void check_conv_geom(const ConvGeom& g, const char* what) {
  if (g.n < 1 || g.cin < 1 || g.h < 1 || g.w < 1 || g.cout < 1 || g.kh < 1 || g.kw < 1)
    fail("{}: empty input or kernel", what);
  if (g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1 || g.pad.h < 0 || g.pad.w < 0)
    fail("{}: stride and dilation must be >= 1 and padding >= 0", what);
  if (g.groups < 1 || g.cin % g.groups != 0 || g.cout % g.groups != 0)
    fail("{}: {} input and {} output channels are not divisible by {} groups", what, g.cin, g.cout, g.groups);
  if (g.oh() < 1 || g.ow() < 1)
    fail("{}: a {}x{} kernel (dilation {}x{}) does not fit a {}x{} input padded by {}x{}", what, g.kh, g.kw, g.dh, g.dw,
         g.h, g.w, g.pad.h, g.pad.w);
  if ((g.pad.rows == Pad::reflect && g.pad.h >= g.h) || (g.pad.cols == Pad::reflect && g.pad.w >= g.w))
    fail("{}: reflect padding {}x{} must be smaller than the input {}x{}", what, g.pad.h, g.pad.w, g.h, g.w);
}

ConvKernel::~ConvKernel() = default;

ConvKernel::ConvKernel(const ConvGeom& g, int threads, bool with_adjoint)
    : g_(g), threads_(threads > 0 ? threads : omp_get_max_threads()) {
  check_conv_geom(g, "conv2d");
  const int64_t ow = g.ow();
  interior_lo_.resize(static_cast<size_t>(g.kw));
  interior_hi_.resize(static_cast<size_t>(g.kw));
  for (int64_t kx = 0; kx < g.kw; ++kx) {
    const int64_t off = kx * g.dw - g.pad.w;  // ix = ox * sw + off
    int64_t lo = std::clamp<int64_t>(ceil_div(-off, g.sw), 0, ow);
    int64_t hi = std::clamp<int64_t>(ceil_div(g.w - off, g.sw), lo, ow);
    interior_lo_[static_cast<size_t>(kx)] = lo;
    interior_hi_[static_cast<size_t>(kx)] = hi;
  }
  const int64_t oh = g.oh();
  col_map_.resize(static_cast<size_t>(g.kw * ow));
  row_map_.resize(static_cast<size_t>(g.kh * oh));
  for (int64_t kx = 0; kx < g.kw; ++kx)
    for (int64_t ox = 0; ox < ow; ++ox)
      col_map_[static_cast<size_t>(kx * ow + ox)] =
          static_cast<int32_t>(pad_index(ox * g.sw - g.pad.w + kx * g.dw, g.w, g.pad.cols));
  for (int64_t ky = 0; ky < g.kh; ++ky)
    for (int64_t oy = 0; oy < oh; ++oy)
      row_map_[static_cast<size_t>(ky * oh + oy)] =
          static_cast<int32_t>(pad_index(oy * g.sh - g.pad.h + ky * g.dh, g.h, g.pad.rows));
  k_ = g.cin_g() * g.kh * g.kw;
  p_ = oh * ow;
  const bool depthwise = g.groups > 1 && g.groups == g.cin && g.cin == g.cout && g.kh * g.kw <= 64;
  const bool pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pad.h == 0 && g.pad.w == 0;
  algo_ = depthwise ? Algo::depthwise : (pointwise ? Algo::gemm1x1 : Algo::im2col);
  const bool same = g.sh == 1 && g.sw == 1 && 2 * g.pad.h == g.dh * (g.kh - 1) && 2 * g.pad.w == g.dw * (g.kw - 1) &&
                    g.pad.rows != Pad::reflect && g.pad.cols != Pad::reflect;
  if (algo_ == Algo::depthwise) {
    dw_same_ = same;
    // Per thread: the ring of padded rows (slot tags as int64, zero flags, rows).
    // The ring holds the (kh - 1) * dh + 1 rows one output row reads, rounded up to a power of two
    // so that a row's slot is a mask, not a division (divisions cost as much as the row's FMAs).
    // Prefetch distance: about 4 KiB of input rows ahead (2 to 16 rows).
    dw_ahead_ = std::clamp<int64_t>(4096 / std::max<int64_t>(g.w * int64_t(sizeof(float)), 1), 2, 16);
    dw_span_ = 1;
    // One more slot (sh more rows) for the row fetched one output row early (see dw_forward_plane).
    while (dw_span_ < (g.kh - 1) * g.dh + 1 + g.sh) dw_span_ *= 2;
    // Source column of each padding column (left pw, then right pw): -1 for zeros.
    dw_pad_src_.resize(static_cast<size_t>(2 * g.pad.w));
    for (int64_t j = 0; j < g.pad.w; ++j) {
      dw_pad_src_[static_cast<size_t>(j)] = static_cast<int32_t>(pad_index(j - g.pad.w, g.w, g.pad.cols));
      dw_pad_src_[static_cast<size_t>(g.pad.w + j)] = static_cast<int32_t>(pad_index(g.w + j, g.w, g.pad.cols));
    }
    dw_len_ = round_up(g.w + 2 * g.pad.w, 16);
    dw_slice_ = round_up(3 * dw_span_, 16) + dw_span_ * dw_len_;
    workspace_ = threads_ * dw_slice_;
#if defined(__AVX512F__)
    if (g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.pad.h == g.dh && g.pad.w == g.dw &&
        g.pad.cols != Pad::reflect && g.w >= 16) {
      auto p = std::make_unique<Dw3Plan>();
      const int64_t w = g.w;
      p->nv = (w + 15) / 16;
      p->idx.assign(static_cast<size_t>(p->nv * 48), 0);
      p->lanes.assign(static_cast<size_t>(p->nv * 3), 0);
      p->direct.assign(static_cast<size_t>(p->nv * 3), 0);
      p->zero.assign(static_cast<size_t>(w), 0.0f);
      bool ok = true;
      p->vlo = p->nv, p->vhi = 0;
      for (int64_t v = 0; v < p->nv; ++v) {
        const int64_t x0 = 16 * v;
        bool all = true;
        for (int64_t kx = 0; kx < 3; ++kx) {
          const int64_t off = (kx - 1) * g.dw;
          const size_t t = static_cast<size_t>(3 * v + kx);
          const bool direct = x0 + off >= 0 && x0 + off + 16 <= w;
          p->direct[t] = direct;
          all = all && direct;
          if (direct) continue;
          uint16_t m = 0;
          for (int64_t j = 0; j < 16 && x0 + j < w; ++j) {
            const int64_t k = pad_index(x0 + j + off, w, g.pad.cols);
            if (k < 0) continue;  // zero padding
            int64_t id = -1;
            if (k < 16)
              id = k;
            else if (k >= w - 16)
              id = 16 + k - (w - 16);
            ok = ok && id >= 0;
            p->idx[t * 16 + static_cast<size_t>(j)] = static_cast<int32_t>(std::max<int64_t>(id, 0));
            m = static_cast<uint16_t>(m | (1u << j));
          }
          p->lanes[t] = m;
        }
        if (all && x0 + 16 <= w) {
          if (p->vlo == p->nv) p->vlo = v;
          p->vhi = v + 1;
        }
      }
      // The interior must be one run of vectors (it is: the plain-load condition is an interval).
      for (int64_t v = p->vlo; ok && v < p->vhi; ++v)
        for (int64_t kx = 0; kx < 3; ++kx) ok = ok && p->direct[static_cast<size_t>(3 * v + kx)];
      if (p->vlo >= p->vhi) p->vlo = p->vhi = 0;
      p->shift = g.dw <= 16;
      for (int j = 0; j < 16; ++j) p->idx_minus[j] = int32_t(j + 16 - g.dw), p->idx_plus[j] = int32_t(j + g.dw);
      if (ok) dw3_ = std::move(p);
    }
    // The one-sweep backward keeps each plane's nine weight sums (doubles).
    if (dw3_ && dw_same_) workspace_ = std::max(workspace_, 2 * 9 * g.n * g.cin);
#endif
    return;
  }
  const int64_t nth = threads_, cog = g.cout_g(), cig = g.cin_g(), khw = g.kh * g.kw;

  // Forward: packed weights (shared) + one im2col tile per thread.
  tile_f_ = std::clamp<int64_t>(kTileFloats / k_ / kNrF * kNrF, kNrF, round_up(p_, kNrF));
  const int64_t packed_w = g.groups * round_up(cog, kMrF) * k_;
  ws_forward_ = round_up(packed_w, 16) + (algo_ == Algo::im2col ? nth * round_up(k_ * tile_f_, 16) : 0);

  // Weight gradient: per thread a block of im2col rows (whole 12-row blocks), its column tile, the
  // transposed dy tile and its accumulators.
  rows_w_ = round_up(ceil_div(ceil_div(k_, kMrG), nth) * kMrG, kMrG);
  ld_c_ = round_up(cog, 16);
  // The tile is the unit of summation of the weight gradient, so it must not depend on the thread
  // count (that would change the rounding); size it for half of K per thread.
  tile_w_ = std::min(std::max<int64_t>(2 * kTileFloats / round_up(k_, kMrG), 64), p_);
  ws_weight_ = nth * round_up(rows_w_ * ld_c_ + (algo_ == Algo::im2col ? rows_w_ * tile_w_ : 0) + tile_w_ * ld_c_, 16);

  // Input gradient.
  if (algo_ == Algo::im2col && same && with_adjoint) {
    ConvGeom a = g;
    a.cin = g.cout, a.cout = g.cin, a.h = g.oh(), a.w = g.ow();
    adjoint_.reset(new ConvKernel(a, threads_, false));
    ws_input_ = round_up(g.cin * cog * khw, 16) + adjoint_->ws_forward_;
  } else {
    // Whole input channels per thread, as 12-row blocks of W^T packed per thread.
    rows_d_ = round_up(ceil_div(cig, nth) * khw, kMrG);
    tile_d_ = std::clamp<int64_t>(kTileFloats / rows_d_ / kNrG * kNrG, kNrG, round_up(p_, kNrG));
    ws_input_ = nth * round_up(rows_d_ * cog + (algo_ == Algo::im2col ? rows_d_ * tile_d_ : 0), 16);
  }
  workspace_ = std::max({ws_forward_, ws_weight_, ws_input_});
}

std::string ConvKernel::algo_name() const {
  switch (algo_) {
    case Algo::gemm1x1:
      return "gemm1x1";
    case Algo::im2col:
      return adjoint_ ? "im2col-gemm, dx by adjoint conv" : "im2col-gemm, dx by col2im";
    case Algo::depthwise:
      return dw3_ ? "depthwise-rowgroups" : "depthwise-direct";
  }
  return "?";
}

// ------------------------------------------------------------------ im2col packing by index mapping

void ConvKernel::pack_rows(const float* xg, int64_t r0, int64_t r1, int64_t p0, int64_t p1, float* out) const {
  const ConvGeom& g = g_;
  const int64_t ow = g.ow(), t = p1 - p0, khw = g.kh * g.kw;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t ci = r / khw, ky = (r % khw) / g.kw, kx = r % g.kw;
    const float* xp = xg + ci * g.h * g.w;
    const int64_t off = kx * g.dw - g.pad.w, lo = interior_lo_[static_cast<size_t>(kx)],
                  hi = interior_hi_[static_cast<size_t>(kx)];
    float* row = out + (r - r0) * t;
    for (int64_t p = p0; p < p1;) {
      const int64_t oy = p / ow, a = p % ow, b = std::min(ow, a + (p1 - p));
      float* o = row + (p - p0) - a;  // o[ox] is pixel (oy, ox)
      const int64_t iy = row_at(ky, oy);
      if (iy < 0) {
        std::fill(o + a, o + b, 0.0f);
      } else {
        const float* xr = xp + iy * g.w;
        const int64_t ia = std::max(a, lo), ib = std::min(b, hi);
        for (int64_t ox = a; ox < std::min(b, ia); ++ox) {
          const int64_t ix = col_at(kx, ox);
          o[ox] = ix < 0 ? 0.0f : xr[ix];
        }
        if (g.sw == 1) {
          if (ib > ia) std::memcpy(o + ia, xr + ia + off, static_cast<size_t>(ib - ia) * sizeof(float));
        } else {
          int64_t ox = ia;
#if defined(__AVX512F__)
          if (g.sw == 2) {  // deinterleave the even columns of 32 inputs into 16 outputs
            const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            for (; ox + 16 <= ib; ox += 16) {
              const float* src = xr + ox * 2 + off;
              const __m512 first = _mm512_loadu_ps(src);
              const __m512 second = _mm512_maskz_loadu_ps(__mmask16(0x7fff), src + 16);  // (the 32nd is not needed)
              _mm512_storeu_ps(o + ox, _mm512_permutex2var_ps(first, even, second));
            }
          }
#endif
          for (; ox < ib; ++ox) o[ox] = xr[ox * g.sw + off];
        }
        for (int64_t ox = std::max(ia, ib); ox < b; ++ox) {
          const int64_t ix = col_at(kx, ox);
          o[ox] = ix < 0 ? 0.0f : xr[ix];
        }
      }
      p += b - a;
    }
  }
}

void ConvKernel::unpack_rows(const float* col, int64_t r0, int64_t r1, int64_t p0, int64_t p1, float* dxg) const {
  const ConvGeom& g = g_;
  const int64_t ow = g.ow(), t = p1 - p0, khw = g.kh * g.kw;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t ci = r / khw, ky = (r % khw) / g.kw, kx = r % g.kw;
    float* dxp = dxg + ci * g.h * g.w;
    const int64_t off = kx * g.dw - g.pad.w, lo = interior_lo_[static_cast<size_t>(kx)],
                  hi = interior_hi_[static_cast<size_t>(kx)];
    const float* in = col + (r - r0) * t;
    for (int64_t p = p0; p < p1;) {
      const int64_t oy = p / ow, a = p % ow, b = std::min(ow, a + (p1 - p));
      const float* o = in + (p - p0) - a;
      const int64_t iy = row_at(ky, oy);
      if (iy >= 0) {
        float* dr = dxp + iy * g.w;
        const int64_t ia = std::max(a, lo), ib = std::min(b, hi);
        for (int64_t ox = a; ox < std::min(b, ia); ++ox) {
          const int64_t ix = col_at(kx, ox);
          if (ix >= 0) dr[ix] += o[ox];
        }
        if (g.sw == 1) {
          float* d = dr + off;
#pragma omp simd
          for (int64_t ox = ia; ox < ib; ++ox) d[ox] += o[ox];
        } else {
          for (int64_t ox = ia; ox < ib; ++ox) dr[ox * g.sw + off] += o[ox];
        }
        for (int64_t ox = std::max(ia, ib); ox < b; ++ox) {
          const int64_t ix = col_at(kx, ox);
          if (ix >= 0) dr[ix] += o[ox];
        }
      }
      p += b - a;
    }
  }
}

// ------------------------------------------------------------------ GEMM paths

// y (+)= W x-columns (+ b): threads take whole pixel tiles; weights packed once per call.
void ConvKernel::forward_gemm(const float* x, const float* w, const float* b, float* y, bool accumulate,
                              float* ws) const {
  const ConvGeom& g = g_;
  const int64_t cog = g.cout_g(), cig = g.cin_g(), k = k_, p = p_, hw = g.h * g.w;
  const int64_t cob = round_up(cog, kMrF) / kMrF;
  float* packed = ws;  // [group][block][k][8]
  float* tiles = ws + round_up(g.groups * cob * kMrF * k, 16);
  const int64_t ntiles = (p + tile_f_ - 1) / tile_f_, jobs = g.n * g.groups * ntiles;
#pragma omp parallel num_threads(threads_)
  {
#pragma omp for schedule(static)
    for (int64_t gb = 0; gb < g.groups * cob; ++gb) {
      const int64_t grp = gb / cob, blk = gb % cob;
      float* dst = packed + gb * k * kMrF;
      for (int i = 0; i < kMrF; ++i) {
        const int64_t co = blk * kMrF + i;
        const float* src = w + (grp * cog + std::min(co, cog - 1)) * k;
        for (int64_t kk = 0; kk < k; ++kk) dst[kk * kMrF + i] = co < cog ? src[kk] : 0.0f;
      }
    }
    float* col = tiles + omp_get_thread_num() * round_up(k * tile_f_, 16);
#pragma omp for schedule(static)
    for (int64_t job = 0; job < jobs; ++job) {
      const int64_t n = job / (g.groups * ntiles), grp = (job / ntiles) % g.groups, tile = job % ntiles;
      const int64_t p0 = tile * tile_f_, p1 = std::min(p, p0 + tile_f_), t = p1 - p0;
      const float* xg = x + (n * g.cin + grp * cig) * hw;
      const float* bmat;
      int64_t ldb;
      if (algo_ == Algo::gemm1x1) {
        bmat = xg + p0, ldb = p;
      } else {
        pack_rows(xg, 0, k, p0, p1, col);
        bmat = col, ldb = t;
      }
      float* yg = y + (n * g.cout + grp * cog) * p + p0;
      for (int64_t blk = 0; blk < cob; ++blk) {
        const float* a = packed + (grp * cob + blk) * k * kMrF;
        const int mr = int(std::min<int64_t>(kMrF, cog - blk * kMrF));
        for (int64_t j = 0; j < t; j += kNrF)
          mk::kernel<kMrF, kNvF, true>(k, a, 0, 0, bmat + j, ldb, yg + blk * kMrF * p + j, p, mr,
                                       int(std::min<int64_t>(kNrF, t - j)), accumulate);
      }
      if (b != nullptr)
        for (int64_t co = 0; co < cog; ++co) {
          float* yr = yg + co * p;
          const float bv = b[grp * cog + co];
#pragma omp simd
          for (int64_t i = 0; i < t; ++i) yr[i] += bv;
        }
    }
  }
}

// dW^T (K x Cout/g) = col (K x P) dy^T (P x Cout/g), threads owning disjoint 12-row blocks of K:
// every element is summed by one thread over (image, tile, pixel) in order.
void ConvKernel::backward_weight_gemm(const float* x, const float* dy, float* dw, bool accumulate, float* ws) const {
  const ConvGeom& g = g_;
  const int64_t cog = g.cout_g(), cig = g.cin_g(), k = k_, p = p_, hw = g.h * g.w, ldc = ld_c_;
  const int64_t nrb = (k + kMrG - 1) / kMrG;
  const int64_t per_thread =
      round_up(rows_w_ * ldc + (algo_ == Algo::im2col ? rows_w_ * tile_w_ : 0) + tile_w_ * ldc, 16);
#pragma omp parallel num_threads(threads_)
  {
    const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
    int64_t rb0, rb1;
    split(nrb, tid, nth, &rb0, &rb1);
    const int64_t r0 = std::min(k, rb0 * kMrG), r1 = std::min(k, rb1 * kMrG), rows = r1 - r0;
    float* acc = ws + tid * per_thread;
    float* dyt = acc + rows_w_ * ldc;
    float* col = dyt + tile_w_ * ldc;
    for (int64_t grp = 0; grp < g.groups && rows > 0; ++grp) {
      std::fill(acc, acc + rows * ldc, 0.0f);
      for (int64_t n = 0; n < g.n; ++n) {
        const float* xg = x + (n * g.cin + grp * cig) * hw;
        const float* dyg = dy + (n * g.cout + grp * cog) * p;
        for (int64_t p0 = 0; p0 < p; p0 += tile_w_) {
          const int64_t p1 = std::min(p, p0 + tile_w_), t = p1 - p0;
          mk::transpose(dyg + p0, p, cog, t, dyt, ldc);
          const float* a;
          int64_t rs;
          if (algo_ == Algo::gemm1x1) {
            a = xg + r0 * p + p0, rs = p;
          } else {
            pack_rows(xg, r0, r1, p0, p1, col);
            a = col, rs = t;
          }
          for (int64_t rb = 0; rb < rows; rb += kMrG)
            for (int64_t j = 0; j < cog; j += kNrG)
              mk::kernel<kMrG, kNvG, false>(t, a + rb * rs, rs, 1, dyt + j, ldc, acc + rb * ldc + j, ldc,
                                            int(std::min<int64_t>(kMrG, rows - rb)),
                                            int(std::min<int64_t>(kNrG, cog - j)), true);
        }
      }
      for (int64_t co = 0; co < cog; ++co) {
        float* d = dw + (grp * cog + co) * k;
        for (int64_t r = r0; r < r1; ++r) {
          const float v = acc[(r - r0) * ldc + co];
          d[r] = accumulate ? d[r] + v : v;
        }
      }
    }
  }
}

// dx (+)= col2im(W^T dy): threads own whole input channels, so col2im writes never collide; for 1x1
// convolutions W^T dy is dx itself.
void ConvKernel::backward_input_gemm(const float* dy, const float* w, float* dx, bool accumulate, float* ws) const {
  const ConvGeom& g = g_;
  const int64_t cog = g.cout_g(), cig = g.cin_g(), k = k_, p = p_, hw = g.h * g.w, khw = g.kh * g.kw;
  const int64_t per_thread = round_up(rows_d_ * cog + (algo_ == Algo::im2col ? rows_d_ * tile_d_ : 0), 16);
#pragma omp parallel num_threads(threads_)
  {
    const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
    int64_t c0, c1;
    split(cig, tid, nth, &c0, &c1);
    const int64_t r0 = c0 * khw, r1 = c1 * khw, rows = r1 - r0;
    float* packed = ws + tid * per_thread;  // [block][co][12]
    float* col = packed + rows_d_ * cog;
    for (int64_t grp = 0; grp < g.groups && rows > 0; ++grp) {
      for (int64_t rb = 0; rb < rows; rb += kMrG)
        for (int64_t co = 0; co < cog; ++co)
          for (int i = 0; i < kMrG; ++i) {
            const int64_t r = r0 + rb + i;
            packed[(rb / kMrG * cog + co) * kMrG + i] = r < r1 ? w[(grp * cog + co) * k + r] : 0.0f;
          }
      for (int64_t n = 0; n < g.n; ++n) {
        float* dxg = dx + (n * g.cin + grp * cig) * hw;
        const float* dyg = dy + (n * g.cout + grp * cog) * p;
        if (algo_ == Algo::im2col && !accumulate) std::fill(dxg + c0 * hw, dxg + c1 * hw, 0.0f);
        for (int64_t p0 = 0; p0 < p; p0 += tile_d_) {
          const int64_t p1 = std::min(p, p0 + tile_d_), t = p1 - p0;
          float* c = algo_ == Algo::gemm1x1 ? dxg + r0 * p + p0 : col;
          const int64_t ldc = algo_ == Algo::gemm1x1 ? p : t;
          const bool acc = algo_ == Algo::gemm1x1 && accumulate;
          for (int64_t rb = 0; rb < rows; rb += kMrG)
            for (int64_t j = 0; j < t; j += kNrG)
              mk::kernel<kMrG, kNvG, true>(cog, packed + rb / kMrG * cog * kMrG, 0, 0, dyg + p0 + j, p,
                                           c + rb * ldc + j, ldc, int(std::min<int64_t>(kMrG, rows - rb)),
                                           int(std::min<int64_t>(kNrG, t - j)), acc);
          if (algo_ == Algo::im2col) unpack_rows(col, r0, r1, p0, p1, dxg);
        }
      }
    }
  }
}

// ------------------------------------------------------------------ depthwise

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
namespace {
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
    // A switch, not a table of function pointers: each block is inlined here, so the nine weights
    // stay in registers (through a pointer call they were reloaded per FMA: 15-25% slower in cache).
    switch (n) {
      case 1:
        dw3x3_block<1>(r, wv, y + ox, last, accumulate, bias);
        break;
      case 2:
        dw3x3_block<2>(r, wv, y + ox, last, accumulate, bias);
        break;
      case 3:
        dw3x3_block<3>(r, wv, y + ox, last, accumulate, bias);
        break;
      case 4:
        dw3x3_block<4>(r, wv, y + ox, last, accumulate, bias);
        break;
      case 5:
        dw3x3_block<5>(r, wv, y + ox, last, accumulate, bias);
        break;
      case 6:
        dw3x3_block<6>(r, wv, y + ox, last, accumulate, bias);
        break;
      case 7:
        dw3x3_block<7>(r, wv, y + ox, last, accumulate, bias);
        break;
      default:
        dw3x3_block<8>(r, wv, y + ox, last, accumulate, bias);
        break;
    }
    v0 += n;
  }
}

// ---- 3x3 same depthwise by row groups (Dw3Plan) ----
#define CLIMSEG_INLINE inline __attribute__((always_inline))

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

// Adds each of the k vector sums to acc[k], its 16 lanes in lane order, and zeroes the vector: the
// weight gradients' periodic flush from float lanes to double.
CLIMSEG_INLINE void flush_lanes(__m512* v, double* acc, int64_t k) {
  alignas(64) float lanes[16];
  for (int64_t t = 0; t < k; ++t) {
    _mm512_store_ps(lanes, v[t]);  // (_mm512_reduce_add_ps trips -Wmaybe-uninitialized in GCC 12)
    float sum = 0;
    for (int l = 0; l < 16; ++l) sum += lanes[l];
    acc[t] += sum;
    v[t] = _mm512_setzero_ps();
  }
}

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

// As dw3_fwd_block, with the -d and +d taps permuted out of aligned loads (Dw3Plan::shift).
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

// The three taps of input row `row` for vector v, whichever way each is built (see Dw3Plan).
CLIMSEG_INLINE void dw3_edge_taps(const Dw3Plan& pl, int64_t v, int64_t w, int64_t d, const float* row, __mmask16 m,
                                  const __m512i* ix, __m512* t) {
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
void dw3_fwd_edge(const Dw3Plan& pl, const int64_t* ev, int64_t w, int64_t d, const float* const* in, const __m512* wv,
                  float* const* out, bool accumulate, float bias) {
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
void dw3_fwd_rows(const Dw3Plan& pl, int64_t w, int64_t d, const float* const* in, const float* wt, float* const* out,
                  bool accumulate, float bias, bool nt, PfRows& pf) {
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
void dw3_wgt_rows(const Dw3Plan& pl, int64_t w, int64_t d, const float* const* in, const float* const* dyr,
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
// aligned loads (Dw3Plan::shift); 2 an edge vector (masked lanes, taps through the plan's permutes).
template <int R, int MODE>
CLIMSEG_INLINE void dw3_bwd_vec(const Dw3Plan& pl, int64_t v, int64_t w, int64_t d, const float* const* dyin,
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
void dw3_bwd_rows(const Dw3Plan& pl, int64_t w, int64_t d, const float* const* dyin, const float* const* xin,
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
#undef CLIMSEG_INLINE
}  // namespace
#endif

float* ConvKernel::dw_slice(float* ws) const { return ws + omp_get_thread_num() * dw_slice_; }

// 32 MiB: the last-level cache of one Zen 4 CCD (a guess on a VM that does not report it; being
// wrong only moves where streaming starts). Input and output together beyond it: streaming stores.
constexpr int64_t kStreamBytes = int64_t(32) << 20;

bool ConvKernel::dw_stream(const float* out) const {
  const int64_t bytes = 2 * g_.n * g_.cin * g_.h * g_.w * int64_t(sizeof(float));
  return bytes > kStreamBytes && g_.w % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 64 == 0;
}

DwRing ConvKernel::dw_ring(float* slice) const {
  DwRing r;
  r.g = &g_;
  r.plane = nullptr;
  r.tags = reinterpret_cast<int64_t*>(slice);
  r.zero = reinterpret_cast<bool*>(slice + 2 * dw_span_);
  r.rows = slice + round_up(3 * dw_span_, 16);
  r.pad_src = dw_pad_src_.data();
  r.span = dw_span_;
  r.len = dw_len_;
  return r;
}

// Fetch into cache the input row the ring will read dw_ahead_ rows after the one it reads for output
// row oy; past the plane's end, that row of `next` (the plane read after this one). Without it the ring's
// copy of each new row waited on memory: the hardware prefetcher alone left the depthwise passes at
// a quarter of the copy bandwidth.
void ConvKernel::dw_prefetch_row(const float* plane, int64_t oy, const float* next) const {
  const ConvGeom& g = g_;
  int64_t row = oy * g.sh - g.pad.h + (g.kh - 1) * g.dh + dw_ahead_;
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
void ConvKernel::dw_forward_plane(const float* x, const float* w, float bias, float* y, bool accumulate,
                                  float* ws) const {
  const ConvGeom& g = g_;
  const int64_t oh = g.oh(), ow = g.ow(), taps = g.kh * g.kw;
  if (g.sw != 1) {  // strided columns: every tap through the maps
    for (int64_t oy = 0; oy < oh; ++oy) {
      float* yr = y + oy * ow;
      for (int64_t ox = 0; ox < ow; ++ox) {
        float s = accumulate ? yr[ox] : bias;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          const int64_t iy = row_at(ky, oy);
          if (iy < 0) continue;
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const int64_t ix = col_at(kx, ox);
            if (ix >= 0) s += w[ky * g.kw + kx] * x[iy * g.w + ix];
          }
        }
        yr[ox] = s;
      }
    }
    return;
  }
  DwRing ring = dw_ring(ws);
  ring.reset(x);
  const float* tap_row[64];
  for (int64_t oy = 0; oy < oh; ++oy) {
    float* yr = y + oy * ow;
    dw_prefetch_row(x, oy, x + g.h * g.w);  // this thread's next plane follows this one in memory
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
#endif
    for (; ox < ow; ++ox) {
      float s = accumulate ? yr[ox] : bias;
      for (int64_t t = 0; t < taps; ++t)
        if (tap_row[t]) s += w[t] * tap_row[t][ox];
      yr[ox] = s;
    }
  }
}

// dx (H, W) += conv^T(dy (OH, OW)) for one depthwise plane.
void ConvKernel::dw_backward_input_plane(const float* dy, const float* w, float* dx) const {
  const ConvGeom& g = g_;
  const int64_t oh = g.oh(), ow = g.ow();
  for (int64_t oy = 0; oy < oh; ++oy) {
    const float* dyr = dy + oy * ow;
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const int64_t iy = row_at(ky, oy);
      if (iy < 0) continue;
      float* dr = dx + iy * g.w;
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const float wk = w[ky * g.kw + kx];
        const int64_t off = kx * g.dw - g.pad.w, lo = interior_lo_[static_cast<size_t>(kx)],
                      hi = interior_hi_[static_cast<size_t>(kx)];
        for (int64_t ox = 0; ox < lo; ++ox) {
          const int64_t ix = col_at(kx, ox);
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
          const int64_t ix = col_at(kx, ox);
          if (ix >= 0) dr[ix] += wk * dyr[ox];
        }
      }
    }
  }
}

// dw (KH, KW) of channel c (+)= sum over the batch and the plane: vector lanes (flushed to double
// every 16 rows), rows of the padded ring; a fixed order throughout.
void ConvKernel::dw_backward_weight_channel(const float* x, const float* dy, int64_t c, float* dw, bool accumulate,
                                            float* ws) const {
  const ConvGeom& g = g_;
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
            const int64_t iy = row_at(ky, oy);
            if (iy < 0) continue;
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              const int64_t ix = col_at(kx, ox);
              if (ix >= 0) row[ky * g.kw + kx] += dyp[oy * ow + ox] * xp[iy * g.w + ix];
            }
          }
        for (int64_t k = 0; k < taps; ++k) acc[k] += row[k];
      }
    }
  } else {
    DwRing ring = dw_ring(ws);
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
          dw_prefetch_row(x + (n * g.cin + c) * g.h * g.w, oy, more ? x + ((n + 1) * g.cin + c) * g.h * g.w : nullptr);
          const int64_t ahead_row = oy + dw_ahead_;  // may lie in the next plane (never beyond it)
          const float* dya = ahead_row < oh ? dyr + dw_ahead_ * ow
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
            for (int64_t ox = 0; ox < ow; ++ox) s += dyr[ox] * tap_row[t][ox];
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

#if defined(__AVX512F__)
namespace {
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
}  // namespace

// One plane through the row groups: groups of R rows spaced by d, d groups per block of R*d rows.
// Each group queues R input rows to fetch (into L2, at least dw_ahead_ rows beyond the furthest row
// it reads) and R output rows of the next block, issued between its vector blocks (PfRows).
void ConvKernel::dw3_forward_plane(const float* x, const float* w, float bias, float* y, bool accumulate,
                                   const float* next, bool nt) const {
  const Dw3Plan& pl = *dw3_;
  const ConvGeom& g = g_;
  constexpr int R = Dw3Plan::kRowsForward;
  const int64_t h = g.h, wd = g.w, d = g.dh;
  const float* in[R + 2];
  float* out[R];
  // Rows fetched so far: the previous plane fetched this one's first R*d + dw_ahead_; the first block's
  // output rows are not fetched (they are written at once).
  int64_t fetched = R * d + dw_ahead_, stored = R * d;
  for (int64_t b = 0; b < h; b += R * d)
    for (int64_t oy = b; oy < std::min(b + d, h); ++oy) {
      const int n = int(std::min<int64_t>(R, (h - 1 - oy) / d + 1));
      for (int i = 0; i < n + 2; ++i) {
        const int64_t iy = pad_index(oy + (i - 1) * d, h, g.pad.rows);
        in[i] = iy < 0 ? pl.zero.data() : x + iy * wd;
      }
      for (int j = 0; j < n; ++j) out[j] = y + (oy + j * d) * wd;
      // Input rows ahead at an even R rows per group (the block's rows over its d groups), at least
      // dw_ahead_ rows beyond the furthest row a group reads; and the output rows of the next block
      // with intent to write (the rows are stored in groups, not in order, and a store stream the
      // hardware does not follow waited on each line's read-for-ownership).
      PfRows pf;
      pf.lines = (wd * int64_t(sizeof(float)) + 63) / 64;
      for (const int64_t until = b + (oy - b + 1) * R + R * d + dw_ahead_ - 1; fetched <= until; ++fetched) {
        int64_t row = fetched;
        const float* plane = x;
        if (row >= h) plane = next, row -= h;
        if (plane && row < h) pf.add_row(plane, row, wd, false);
      }
      for (const int64_t until = nt ? -1 : std::min(h - 1, b + R * d + (oy - b + 1) * R - 1); stored <= until; ++stored)
        pf.add_row(y, stored, wd, true);
      switch (n) {
        case 1:
          dw3_fwd_rows<1>(pl, wd, g.dw, in, w, out, accumulate, bias, nt, pf);
          break;
        case 2:
          dw3_fwd_rows<2>(pl, wd, g.dw, in, w, out, accumulate, bias, nt, pf);
          break;
        case 3:
          dw3_fwd_rows<3>(pl, wd, g.dw, in, w, out, accumulate, bias, nt, pf);
          break;
        case 4:
          dw3_fwd_rows<4>(pl, wd, g.dw, in, w, out, accumulate, bias, nt, pf);
          break;
        case 5:
          dw3_fwd_rows<5>(pl, wd, g.dw, in, w, out, accumulate, bias, nt, pf);
          break;
        case 6:
          dw3_fwd_rows<6>(pl, wd, g.dw, in, w, out, accumulate, bias, nt, pf);
          break;
        case 7:
          dw3_fwd_rows<7>(pl, wd, g.dw, in, w, out, accumulate, bias, nt, pf);
          break;
        default:
          dw3_fwd_rows<R>(pl, wd, g.dw, in, w, out, accumulate, bias, nt, pf);
          break;
      }
    }
  if (nt) _mm_sfence();  // streaming stores are weakly ordered: drain them before the plane is read
}

// dw (3, 3) of channel c (+)= sum over the batch and the plane, through the row groups: lane-wise
// float sums flushed to double every 16 or more rows, in a fixed order (independent of threads).
void ConvKernel::dw3_weight_channel(const float* x, const float* dy, int64_t c, float* dw, bool accumulate) const {
  const Dw3Plan& pl = *dw3_;
  const ConvGeom& g = g_;
  constexpr int R = Dw3Plan::kRowsBackward;
  const int64_t h = g.h, wd = g.w, d = g.dh, hw = h * wd;
  double acc[9] = {};
  __m512 s[9];
  for (int k = 0; k < 9; ++k) s[k] = _mm512_setzero_ps();
  auto flush = [&] { flush_lanes(s, acc, 9); };
  const float* in[R + 2];
  const float* dyr[R];
  int64_t pending = 0, fetched_x = dw_ahead_, fetched_dy = dw_ahead_;
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
        for (const int64_t until = oy + m * d + R * d + dw_ahead_; fetched_x <= until; ++fetched_x)
          prefetch_plane_row(xp, fetched_x, h, wd, xn);
        for (const int64_t until = oy + (m - 1) * d + R * d + dw_ahead_; fetched_dy <= until; ++fetched_dy)
          prefetch_plane_row(dyp, fetched_dy, h, wd, dyn);
        switch (m) {
          case 1:
            dw3_wgt_rows<1>(pl, wd, g.dw, in, dyr, s);
            break;
          case 2:
            dw3_wgt_rows<2>(pl, wd, g.dw, in, dyr, s);
            break;
          case 3:
            dw3_wgt_rows<3>(pl, wd, g.dw, in, dyr, s);
            break;
          default:
            dw3_wgt_rows<R>(pl, wd, g.dw, in, dyr, s);
            break;
        }
        if ((pending += m) >= 16) flush(), pending = 0;
      }
  }
  flush();
  for (int k = 0; k < 9; ++k) dw[k] = accumulate ? dw[k] + float(acc[k]) : float(acc[k]);
}
// Both gradients of one plane in one sweep (see dw3_bwd_vec): dx (+)= conv(dy, flipped w) and this
// plane's weight-gradient sums, part[9], in double (lane-wise float sums flushed every 16 or more rows).
// Reads x and dy once and writes dx once, against twice dy and once more x for the two passes apart.
void ConvKernel::dw3_backward_plane(const float* x, const float* dy, const float* wflip, float* dx, bool accumulate,
                                    double* part, bool more) const {
  const Dw3Plan& pl = *dw3_;
  const ConvGeom& g = g_;
  constexpr int R = Dw3Plan::kRowsBackward;
  const int64_t h = g.h, wd = g.w, d = g.dh, hw = h * wd;
  const float* next_x = more ? x + hw : nullptr;  // a thread's planes are consecutive
  const float* next_dy = more ? dy + hw : nullptr;
  double acc[9] = {};
  __m512 s[9];
  for (int k = 0; k < 9; ++k) s[k] = _mm512_setzero_ps();
  auto flush = [&] { flush_lanes(s, acc, 9); };
  const float *dyin[R + 2], *xin[R + 2];
  float* dxo[R];
  int64_t fetched = R * d + dw_ahead_, stored = R * d, pending = 0;  // as in the forward
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
      for (const int64_t until = b + (oy - b + 1) * R + R * d + dw_ahead_ - 1; fetched <= until; ++fetched) {
        int64_t row = fetched;
        const float *pdy = dy, *px = x;
        if (row >= h) pdy = next_dy, px = next_x, row -= h;
        if (!pdy || row >= h) continue;
        pf.add_row(pdy, row, wd, false);
        pf.add_row(px, row, wd, false);
      }
      for (const int64_t until = std::min(h - 1, b + R * d + (oy - b + 1) * R - 1); stored <= until; ++stored)
        pf.add_row(dx, stored, wd, true);
      switch (n) {
        case 1:
          dw3_bwd_rows<1>(pl, wd, g.dw, dyin, xin, wflip, dxo, accumulate, s, pf);
          break;
        case 2:
          dw3_bwd_rows<2>(pl, wd, g.dw, dyin, xin, wflip, dxo, accumulate, s, pf);
          break;
        case 3:
          dw3_bwd_rows<3>(pl, wd, g.dw, dyin, xin, wflip, dxo, accumulate, s, pf);
          break;
        default:
          dw3_bwd_rows<R>(pl, wd, g.dw, dyin, xin, wflip, dxo, accumulate, s, pf);
          break;
      }
      if ((pending += n) >= 16) flush(), pending = 0;
    }
  flush();
  for (int k = 0; k < 9; ++k) part[k] = acc[k];
}
#else
void ConvKernel::dw3_forward_plane(const float*, const float*, float, float*, bool, const float*, bool) const {}
void ConvKernel::dw3_backward_plane(const float*, const float*, const float*, float*, bool, double*, bool) const {}
void ConvKernel::dw3_weight_channel(const float*, const float*, int64_t, float*, bool) const {}
#endif

// ------------------------------------------------------------------ entry points

void ConvKernel::forward(const float* x, const float* w, const float* b, float* y, float* ws) const {
  const ConvGeom& g = g_;
  if (algo_ == Algo::depthwise) {
    const int64_t p = p_, planes = g.n * g.cin;
#pragma omp parallel for schedule(dynamic, dw_chunk(planes)) num_threads(threads_)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const int64_t c = pl % g.cin;
      const float* xp = x + pl * g.h * g.w;
      if (dw3_)
        dw3_forward_plane(xp, w + c * 9, b ? b[c] : 0.0f, y + pl * p, false, xp + g.h * g.w, dw_stream(y));
      else
        dw_forward_plane(xp, w + c * g.kh * g.kw, b ? b[c] : 0.0f, y + pl * p, false, dw_slice(ws));
    }
    return;
  }
  forward_gemm(x, w, b, y, false, ws);
}

void ConvKernel::backward_input(const float* dy, const float* w, float* dx, bool accumulate, float* ws) const {
  const ConvGeom& g = g_;
  const int64_t hw = g.h * g.w;
  if (algo_ == Algo::depthwise) {
    const int64_t p = p_;
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int64_t pl = 0; pl < g.n * g.cin; ++pl) {
      const int64_t c = pl % g.cin, khw = g.kh * g.kw;
      float* dxp = dx + pl * hw;
      if (dw_same_) {
        // Stride-1 "same" padding (zeros or circular): the adjoint is the same depthwise conv with the
        // kernel flipped in both axes, computed in gather form.
        float flipped[64];
        for (int64_t k = 0; k < khw; ++k) flipped[k] = w[c * khw + khw - 1 - k];
        if (dw3_)
          dw3_forward_plane(dy + pl * p, flipped, 0.0f, dxp, accumulate, dy + (pl + 1) * p, false);
        else
          dw_forward_plane(dy + pl * p, flipped, 0.0f, dxp, accumulate, dw_slice(ws));
      } else {
        if (!accumulate) std::fill(dxp, dxp + hw, 0.0f);
        dw_backward_input_plane(dy + pl * p, w + c * khw, dxp);
      }
    }
    return;
  }
  if (adjoint_) {
    // w' (Cin, Cout/g, KH, KW): w transposed per group and flipped in both axes.
    const int64_t cog = g.cout_g(), cig = g.cin_g(), khw = g.kh * g.kw;
    float* wt = ws;
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int64_t ci = 0; ci < g.cin; ++ci) {
      const int64_t grp = ci / cig, cl = ci % cig;
      for (int64_t co = 0; co < cog; ++co)
        for (int64_t kk = 0; kk < khw; ++kk)
          wt[(ci * cog + co) * khw + (khw - 1 - kk)] = w[((grp * cog + co) * cig + cl) * khw + kk];
    }
    adjoint_->forward_gemm(dy, wt, nullptr, dx, accumulate, ws + round_up(g.cin * cog * khw, 16));
    return;
  }
  backward_input_gemm(dy, w, dx, accumulate, ws);
}

void ConvKernel::backward(const float* x, const float* dy, const float* w, float* dx, bool accumulate_x, float* dw,
                          bool accumulate_w, float* db, bool accumulate_b, float* ws) const {
  const ConvGeom& g = g_;
  if (algo_ == Algo::depthwise && dw3_ && dw_same_ && dx && dw) {
    // One sweep per plane for both gradients; each plane's weight sums in double, then summed over
    // the batch in a fixed order (the result does not depend on the thread count).
    if (db) backward_weight(x, dy, nullptr, false, db, accumulate_b, ws);
    double* part = reinterpret_cast<double*>(ws);
    const int64_t planes = g.n * g.cin, hw = g.h * g.w;
#pragma omp parallel for schedule(dynamic, dw_chunk(planes)) num_threads(threads_)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const int64_t c = pl % g.cin;
      float flipped[9];
      for (int k = 0; k < 9; ++k) flipped[k] = w[c * 9 + 8 - k];
      dw3_backward_plane(x + pl * hw, dy + pl * hw, flipped, dx + pl * hw, accumulate_x, part + pl * 9,
                         pl + 1 < planes);
    }
    for (int64_t c = 0; c < g.cin; ++c)
      for (int k = 0; k < 9; ++k) {
        double t = 0;
        for (int64_t n = 0; n < g.n; ++n) t += part[(n * g.cin + c) * 9 + k];
        dw[c * 9 + k] = accumulate_w ? dw[c * 9 + k] + float(t) : float(t);
      }
    return;
  }
  if (dw || db) backward_weight(x, dy, dw, accumulate_w, db, accumulate_b, ws);
  if (dx) backward_input(dy, w, dx, accumulate_x, ws);
}

void ConvKernel::backward_weight(const float* x, const float* dy, float* dw, bool accumulate, float* db,
                                 bool accumulate_b, float* ws) const {
  const ConvGeom& g = g_;
  const int64_t p = p_;
  if (db) {
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int64_t co = 0; co < g.cout; ++co) {
      double s = 0;
      for (int64_t n = 0; n < g.n; ++n) {
        const float* dyp = dy + (n * g.cout + co) * p;
        double s1 = 0;
#pragma omp simd reduction(+ : s1)
        for (int64_t i = 0; i < p; ++i) s1 += dyp[i];
        s += s1;
      }
      db[co] = accumulate_b ? db[co] + float(s) : float(s);
    }
  }
  if (dw == nullptr) return;
  if (algo_ == Algo::depthwise) {
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int64_t c = 0; c < g.cin; ++c) {
      if (dw3_)
        dw3_weight_channel(x, dy, c, dw + c * 9, accumulate);
      else
        dw_backward_weight_channel(x, dy, c, dw + c * g.kh * g.kw, accumulate, dw_slice(ws));
    }
    return;
  }
  backward_weight_gemm(x, dy, dw, accumulate, ws);
}

}  // namespace climseg::nn
