// GEMM convolutions at one ISA level (compiled once per level, see kernel_set.hpp): im2col packing
// by index mapping, the forward, weight-gradient and input-gradient GEMMs on the microkernel.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "nn/kernels/conv_gemm.hpp"
#include "nn/kernels/kernel_set.hpp"
#include "nn/kernels/microkernel.hpp"
#include "nn/kernels/ops_kernels.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace climseg::nn::CLIMSEG_KERNEL_NS {
namespace {

// Rows [r0, r1) of the im2col matrix of one group for output pixels [p0, p1): out (r1 - r0, p1 - p0).
void pack_rows(const GemmPlan& pl, const float* xg, int64_t r0, int64_t r1, int64_t p0, int64_t p1, float* out) {
  const ConvGeom& g = pl.g;
  const PadMaps& maps = pl.maps;
  const int64_t ow = g.ow(), t = p1 - p0, khw = g.kh * g.kw;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t ci = r / khw, ky = (r % khw) / g.kw, kx = r % g.kw;
    const float* xp = xg + ci * g.h * g.w;
    const int64_t off = kx * g.dw - g.pad.w, lo = maps.lo(kx), hi = maps.hi(kx);
    float* row = out + (r - r0) * t;
    for (int64_t p = p0; p < p1;) {
      const int64_t oy = p / ow, a = p % ow, b = std::min(ow, a + (p1 - p));
      float* o = row + (p - p0) - a;  // o[ox] is pixel (oy, ox)
      const int64_t iy = maps.row_at(ky, oy);
      if (iy < 0) {
        std::fill(o + a, o + b, 0.0f);
      } else {
        const float* xr = xp + iy * g.w;
        const int64_t ia = std::max(a, lo), ib = std::min(b, hi);
        for (int64_t ox = a; ox < std::min(b, ia); ++ox) {
          const int64_t ix = maps.col_at(kx, ox);
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
          const int64_t ix = maps.col_at(kx, ox);
          o[ox] = ix < 0 ? 0.0f : xr[ix];
        }
      }
      p += b - a;
    }
  }
}

// dxg (Cin/g, H, W) += rows [r0, r1) (whole input channels) of a column tile for pixels [p0, p1).
void unpack_rows(const GemmPlan& pl, const float* col, int64_t r0, int64_t r1, int64_t p0, int64_t p1, float* dxg) {
  const ConvGeom& g = pl.g;
  const PadMaps& maps = pl.maps;
  const int64_t ow = g.ow(), t = p1 - p0, khw = g.kh * g.kw;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t ci = r / khw, ky = (r % khw) / g.kw, kx = r % g.kw;
    float* dxp = dxg + ci * g.h * g.w;
    const int64_t off = kx * g.dw - g.pad.w, lo = maps.lo(kx), hi = maps.hi(kx);
    const float* in = col + (r - r0) * t;
    for (int64_t p = p0; p < p1;) {
      const int64_t oy = p / ow, a = p % ow, b = std::min(ow, a + (p1 - p));
      const float* o = in + (p - p0) - a;
      const int64_t iy = maps.row_at(ky, oy);
      if (iy >= 0) {
        float* dr = dxp + iy * g.w;
        const int64_t ia = std::max(a, lo), ib = std::min(b, hi);
        for (int64_t ox = a; ox < std::min(b, ia); ++ox) {
          const int64_t ix = maps.col_at(kx, ox);
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
          const int64_t ix = maps.col_at(kx, ox);
          if (ix >= 0) dr[ix] += o[ox];
        }
      }
      p += b - a;
    }
  }
}

// ------------------------------------------------------------------ GEMM paths

// The weights of every group as blocks of kMrF output channels, k-major: packed[group][block][k][8]
// (rows beyond Cout/g zero). Called inside a parallel region (the blocks are shared among its threads).
void pack_weights(const GemmPlan& pl, const float* w, float* packed) {
  const ConvGeom& g = pl.g;
  const int64_t cog = g.cout_g(), k = pl.k, cob = round_up(cog, kMrF) / kMrF;
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
}

// Epilogue of a computed block of pixels [p0, p0 + t) of one group: the bias, then the folded norm.
void finish_tile(const GemmPlan& pl, const float* b, float* yg, int64_t grp, int64_t t, const ConvEpilogue* ep) {
  const int64_t cog = pl.g.cout_g(), p = pl.p;
  if (b != nullptr)
    for (int64_t co = 0; co < cog; ++co) {
      float* yr = yg + co * p;
      const float bv = b[grp * cog + co];
#pragma omp simd
      for (int64_t i = 0; i < t; ++i) yr[i] += bv;
    }
  if (epilogue_affine(ep))
    for (int64_t co = grp * cog; co < (grp + 1) * cog; ++co) ep->apply(ops_kernels, yg + (co - grp * cog) * p, t, co);
}

#if defined(__AVX512F__)
// The padded input rows of output rows [oy0, oy0 + rows) of one group (column stride 1), as the
// direct forward reads them: band[ci][j][s] is input row oy0 * sh - pad.h + j at column s - pad.w,
// padding mapped as the im2col packing maps it.
void fill_band(const GemmPlan& pl, const float* xg, int64_t oy0, int64_t rows, float* band) {
  const ConvGeom& g = pl.g;
  const int64_t rin = (rows - 1) * g.sh + (g.kh - 1) * g.dh + 1, ncols = pl.band_rs;
  const int64_t s_lo = std::clamp<int64_t>(g.pad.w, 0, ncols), s_hi = std::clamp<int64_t>(g.pad.w + g.w, s_lo, ncols);
  for (int64_t ci = 0; ci < g.cin_g(); ++ci)
    for (int64_t j = 0; j < rin; ++j) {
      float* dst = band + ci * pl.band_cs + j * pl.band_rs;
      const int64_t iy = pad_index(oy0 * g.sh - g.pad.h + j, g.h, g.pad.rows);
      if (iy < 0) {
        std::fill(dst, dst + pl.band_rs, 0.0f);
        continue;
      }
      const float* xr = xg + (ci * g.h + iy) * g.w;
      const auto edge = [&](int64_t s) {
        const int64_t ix = pad_index(s - g.pad.w, g.w, g.pad.cols);
        dst[s] = ix < 0 ? 0.0f : xr[ix];
      };
      for (int64_t s = 0; s < s_lo; ++s) edge(s);
      std::memcpy(dst + s_lo, xr + (s_lo - g.pad.w), static_cast<size_t>(s_hi - s_lo) * sizeof(float));
      for (int64_t s = s_hi; s < ncols; ++s) edge(s);
    }
}

// forward() without im2col: threads take bands of output rows of one image and group, copy the
// band's padded input rows once (fill_band) and run the microkernel on each output row's pixel tiles
// with B read at the taps' offsets in the band. Every output is the same sum in the same order as
// forward()'s, so the results are bit for bit the same.
void forward_direct(const GemmPlan& pl, const float* x, const float* w, const float* b, float* y, bool accumulate,
                    float* ws, const ConvEpilogue* ep) {
  const ConvGeom& g = pl.g;
  const int64_t cog = g.cout_g(), cig = g.cin_g(), k = pl.k, p = pl.p, hw = g.h * g.w, oh = g.oh(), ow = g.ow();
  const int64_t image = epilogue_image(ep, g.cout * p), rows = pl.band_rows, nb = ceil_div(oh, rows);
  const int64_t cob = round_up(cog, kMrF) / kMrF, jobs = g.n * g.groups * nb;
  float* packed = ws;
  float* bands = ws + round_up(g.groups * cob * kMrF * k, 16);
  const int32_t* off = pl.offsets.data();
#pragma omp parallel num_threads(pl.threads)
  {
    pack_weights(pl, w, packed);
    float* band = bands + omp_get_thread_num() * round_up(cig * pl.band_cs, 16);
#pragma omp for schedule(static)
    for (int64_t job = 0; job < jobs; ++job) {
      const int64_t n = job / (g.groups * nb), grp = (job / nb) % g.groups, oy0 = job % nb * rows;
      const int64_t oy1 = std::min(oh, oy0 + rows);
      fill_band(pl, x + (n * g.cin + grp * cig) * hw, oy0, oy1 - oy0, band);
      float* yg = y + n * image + grp * cog * p + oy0 * ow;
      for (int64_t blk = 0; blk < cob; ++blk) {
        const float* a = packed + (grp * cob + blk) * k * kMrF;
        const int mr = int(std::min<int64_t>(kMrF, cog - blk * kMrF));
        for (int64_t oy = oy0; oy < oy1; ++oy) {
          const float* brow = band + (oy - oy0) * g.sh * pl.band_rs;
          float* yrow = yg + blk * kMrF * p + (oy - oy0) * ow;
          for (int64_t j = 0; j < ow; j += kNrF)
            mk::kernel_offsets<kMrF, kNvF>(k, a, brow + j, off, yrow + j, p, mr, int(std::min<int64_t>(kNrF, ow - j)),
                                           accumulate);
        }
      }
      finish_tile(pl, b, yg, grp, (oy1 - oy0) * ow, ep);
    }
  }
}
#endif

// y (+)= W x-columns (+ b), then the epilogue on the tile: threads take whole pixel tiles; weights
// packed once per call.
void forward(const GemmPlan& pl, const float* x, const float* w, const float* b, float* y, bool accumulate, float* ws,
             const ConvEpilogue* ep) {
#if defined(__AVX512F__)
  if (pl.direct) return forward_direct(pl, x, w, b, y, accumulate, ws, ep);
#endif
  const ConvGeom& g = pl.g;
  const int64_t cog = g.cout_g(), cig = g.cin_g(), k = pl.k, p = pl.p, hw = g.h * g.w, tile_f = pl.tile_f;
  const int64_t image = epilogue_image(ep, g.cout * p);
  const int64_t cob = round_up(cog, kMrF) / kMrF;
  float* packed = ws;  // [group][block][k][8]
  float* tiles = ws + round_up(g.groups * cob * kMrF * k, 16);
  const int64_t ntiles = (p + tile_f - 1) / tile_f, jobs = g.n * g.groups * ntiles;
#pragma omp parallel num_threads(pl.threads)
  {
    pack_weights(pl, w, packed);
    float* col = tiles + omp_get_thread_num() * round_up(k * tile_f, 16);
#pragma omp for schedule(static)
    for (int64_t job = 0; job < jobs; ++job) {
      const int64_t n = job / (g.groups * ntiles), grp = (job / ntiles) % g.groups, tile = job % ntiles;
      const int64_t p0 = tile * tile_f, p1 = std::min(p, p0 + tile_f), t = p1 - p0;
      const float* xg = x + (n * g.cin + grp * cig) * hw;
      const float* bmat;
      int64_t ldb;
      if (pl.pointwise) {
        bmat = xg + p0, ldb = p;
      } else {
        pack_rows(pl, xg, 0, k, p0, p1, col);
        bmat = col, ldb = t;
      }
      float* yg = y + n * image + grp * cog * p + p0;
      for (int64_t blk = 0; blk < cob; ++blk) {
        const float* a = packed + (grp * cob + blk) * k * kMrF;
        const int mr = int(std::min<int64_t>(kMrF, cog - blk * kMrF));
        for (int64_t j = 0; j < t; j += kNrF)
          mk::kernel<kMrF, kNvF, true>(k, a, 0, 0, bmat + j, ldb, yg + blk * kMrF * p + j, p, mr,
                                       int(std::min<int64_t>(kNrF, t - j)), accumulate);
      }
      finish_tile(pl, b, yg, grp, t, ep);
    }
  }
}

// dW^T (K x Cout/g) = col (K x P) dy^T (P x Cout/g), threads owning disjoint 12-row blocks of K:
// every element is summed by one thread over (image, tile, pixel) in order.
void backward_weight(const GemmPlan& pl, const float* x, const float* dy, float* dw, bool accumulate, float* ws) {
  const ConvGeom& g = pl.g;
  const int64_t cog = g.cout_g(), cig = g.cin_g(), k = pl.k, p = pl.p, hw = g.h * g.w, ldc = pl.ld_c;
  const int64_t rows_w = pl.rows_w, tile_w = pl.tile_w;
  const int64_t nrb = (k + kMrG - 1) / kMrG;
  const int64_t per_thread = round_up(rows_w * ldc + (!pl.pointwise ? rows_w * tile_w : 0) + tile_w * ldc, 16);
#pragma omp parallel num_threads(pl.threads)
  {
    const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
    int64_t rb0, rb1;
    split(nrb, tid, nth, &rb0, &rb1);
    const int64_t r0 = std::min(k, rb0 * kMrG), r1 = std::min(k, rb1 * kMrG), rows = r1 - r0;
    float* acc = ws + tid * per_thread;
    float* dyt = acc + rows_w * ldc;
    float* col = dyt + tile_w * ldc;
    for (int64_t grp = 0; grp < g.groups && rows > 0; ++grp) {
      std::fill(acc, acc + rows * ldc, 0.0f);
      for (int64_t n = 0; n < g.n; ++n) {
        const float* xg = x + (n * g.cin + grp * cig) * hw;
        const float* dyg = dy + (n * g.cout + grp * cog) * p;
        for (int64_t p0 = 0; p0 < p; p0 += tile_w) {
          const int64_t p1 = std::min(p, p0 + tile_w), t = p1 - p0;
          mk::transpose(dyg + p0, p, cog, t, dyt, ldc);
          const float* a;
          int64_t rs;
          if (pl.pointwise) {
            a = xg + r0 * p + p0, rs = p;
          } else {
            pack_rows(pl, xg, r0, r1, p0, p1, col);
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
void backward_input_col2im(const GemmPlan& pl, const float* dy, const float* w, float* dx, bool accumulate, float* ws) {
  const ConvGeom& g = pl.g;
  const int64_t cog = g.cout_g(), cig = g.cin_g(), k = pl.k, p = pl.p, hw = g.h * g.w, khw = g.kh * g.kw;
  const int64_t rows_d = pl.rows_d, tile_d = pl.tile_d;
  const int64_t per_thread = round_up(rows_d * cog + (!pl.pointwise ? rows_d * tile_d : 0), 16);
#pragma omp parallel num_threads(pl.threads)
  {
    const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
    int64_t c0, c1;
    split(cig, tid, nth, &c0, &c1);
    const int64_t r0 = c0 * khw, r1 = c1 * khw, rows = r1 - r0;
    float* packed = ws + tid * per_thread;  // [block][co][12]
    float* col = packed + rows_d * cog;
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
        if (!pl.pointwise && !accumulate) std::fill(dxg + c0 * hw, dxg + c1 * hw, 0.0f);
        for (int64_t p0 = 0; p0 < p; p0 += tile_d) {
          const int64_t p1 = std::min(p, p0 + tile_d), t = p1 - p0;
          float* c = pl.pointwise ? dxg + r0 * p + p0 : col;
          const int64_t ldc = pl.pointwise ? p : t;
          const bool acc = pl.pointwise && accumulate;
          for (int64_t rb = 0; rb < rows; rb += kMrG)
            for (int64_t j = 0; j < t; j += kNrG)
              mk::kernel<kMrG, kNvG, true>(cog, packed + rb / kMrG * cog * kMrG, 0, 0, dyg + p0 + j, p,
                                           c + rb * ldc + j, ldc, int(std::min<int64_t>(kMrG, rows - rb)),
                                           int(std::min<int64_t>(kNrG, t - j)), acc);
          if (!pl.pointwise) unpack_rows(pl, col, r0, r1, p0, p1, dxg);
        }
      }
    }
  }
}

// dx (+)= conv^T(dy): for stride-1 "same" convolutions the forward conv of dy with w transposed per
// group and flipped in both axes (the adjoint plan), else col2im.
void backward_input(const GemmPlan& pl, const float* dy, const float* w, float* dx, bool accumulate, float* ws) {
  if (!pl.adjoint) return backward_input_col2im(pl, dy, w, dx, accumulate, ws);
  // w' (Cin, Cout/g, KH, KW): w transposed per group and flipped in both axes.
  const ConvGeom& g = pl.g;
  const int64_t cog = g.cout_g(), cig = g.cin_g(), khw = g.kh * g.kw;
  float* wt = ws;
#pragma omp parallel for schedule(static) num_threads(pl.threads)
  for (int64_t ci = 0; ci < g.cin; ++ci) {
    const int64_t grp = ci / cig, cl = ci % cig;
    for (int64_t co = 0; co < cog; ++co)
      for (int64_t kk = 0; kk < khw; ++kk)
        wt[(ci * cog + co) * khw + (khw - 1 - kk)] = w[((grp * cog + co) * cig + cl) * khw + kk];
  }
  forward(*pl.adjoint, dy, wt, nullptr, dx, accumulate, ws + round_up(g.cin * cog * khw, 16), nullptr);
}

#if defined(__AVX512F__)
// ------------------------------------------------------------------ bf16 forward (AVX512-BF16)
// The forward GEMM with bf16 inputs and fp32 accumulation: vdpbf16ps adds the products of pairs of
// bf16 values along k, so both operands are packed as pairs of consecutive k: the weights as
// (k/2, 8 output channels) pairs broadcast per row, the pixels as (k/2, pixels, 2). Called only on
// CPUs with AVX512-BF16 (ConvKernel checks), hence the target pragma rather than the level's flags.
#if defined(__clang__)  // clang ignores GCC's target pragma
#pragma clang attribute push(__attribute__((target("avx512bf16"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512bf16")
#endif

// fp32 -> bf16, rounded to nearest even (NaN kept a quiet NaN): what vcvtne2ps2bf16 does.
inline uint32_t bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// Rows [0, k) of an fp32 matrix (row stride ld, t valid columns) as pairs of rows: out (k/2 rounded
// up, tp) 32-bit lanes, lane c of pair kk holding rows 2kk and 2kk+1 of column c (bf16, low half
// first); an odd last row is paired with zeros, columns [t, tp) are zeros.
void pair_rows(const float* src, int64_t ld, int64_t k, int64_t t, int64_t tp, uint32_t* out) {
  alignas(64) static constexpr int16_t kInterleave[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                          8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i inter = _mm512_load_si512(kInterleave);
  for (int64_t kk = 0; 2 * kk < k; ++kk) {
    const float* r0 = src + 2 * kk * ld;
    const float* r1 = 2 * kk + 1 < k ? r0 + ld : nullptr;
    uint32_t* o = out + kk * tp;
    for (int64_t c = 0; c < tp; c += 16) {
      const __mmask16 m = mk::lane_mask(int(t - c));
      const __m512 lo = _mm512_maskz_loadu_ps(m, r0 + c);
      const __m512 hi = r1 ? _mm512_maskz_loadu_ps(m, r1 + c) : _mm512_setzero_ps();
      const __m512i v = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);  // lo in elements 0..15, hi in 16..31
      _mm512_storeu_si512(o + c, _mm512_permutexvar_epi16(inter, v));
    }
  }
}

// C (MR x 16 NV) (+)= A B over kp pairs of k: a (kp, MR) bf16 pairs, b (kp, ldb) bf16 pairs with
// 16 NV readable lanes per row; the C columns beyond nr_valid are neither read nor written.
template <int MR, int NV>
inline void kernel_bf16(int64_t kp, const uint32_t* a, const uint32_t* b, int64_t ldb, float* c, int64_t ldc,
                        int mr_valid, int nr_valid, bool accumulate) {
  __m512 acc[MR][NV];
  __mmask16 m[NV];
  mk::start_tile<MR, NV>(acc, m, nr_valid);
  for (int64_t kk = 0; kk < kp; ++kk) {
    __m512bh bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = (__m512bh)_mm512_loadu_si512(b + 16 * j);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(int(a[i]));
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], av, bv[j]);
    }
    a += MR;
    b += ldb;
  }
  mk::store_tile<MR, NV>(acc, m, c, ldc, mr_valid, accumulate);
}

// y = W x-columns (+ b) as forward(), in bf16 with fp32 sums. Workspace: plan.ws_forward_bf16.
void forward_bf16(const GemmPlan& pl, const float* x, const float* w, const float* b, float* y, float* ws,
                  const ConvEpilogue* ep) {
  const ConvGeom& g = pl.g;
  const int64_t image = epilogue_image(ep, g.cout * pl.p);
  const int64_t cog = g.cout_g(), cig = g.cin_g(), k = pl.k, kp = (k + 1) / 2, p = pl.p, hw = g.h * g.w;
  const int64_t tile_f = pl.tile_f, tp = round_up(tile_f, kNrF), cob = round_up(cog, kMrF) / kMrF;
  uint32_t* packed = reinterpret_cast<uint32_t*>(ws);  // [group][block][k/2][8]
  float* tiles = ws + round_up(g.groups * cob * kMrF * kp, 16);
  const int64_t col_floats = pl.pointwise ? 0 : round_up(k * tile_f, 16);
  const int64_t per_thread = col_floats + round_up(kp * tp, 16);
  const int64_t ntiles = (p + tile_f - 1) / tile_f, jobs = g.n * g.groups * ntiles;
#pragma omp parallel num_threads(pl.threads)
  {
#pragma omp for schedule(static)
    for (int64_t gb = 0; gb < g.groups * cob; ++gb) {
      const int64_t grp = gb / cob, blk = gb % cob;
      uint32_t* dst = packed + gb * kp * kMrF;
      for (int i = 0; i < kMrF; ++i) {
        const int64_t co = blk * kMrF + i;
        const float* src = w + (grp * cog + std::min(co, cog - 1)) * k;
        for (int64_t kk = 0; kk < kp; ++kk) {
          const uint32_t lo = co < cog ? bf16_bits(src[2 * kk]) : 0;
          const uint32_t hi = co < cog && 2 * kk + 1 < k ? bf16_bits(src[2 * kk + 1]) : 0;
          dst[kk * kMrF + i] = lo | (hi << 16);
        }
      }
    }
    float* col = tiles + omp_get_thread_num() * per_thread;
    uint32_t* pairs = reinterpret_cast<uint32_t*>(col + col_floats);
#pragma omp for schedule(static)
    for (int64_t job = 0; job < jobs; ++job) {
      const int64_t n = job / (g.groups * ntiles), grp = (job / ntiles) % g.groups, tile = job % ntiles;
      const int64_t p0 = tile * tile_f, p1 = std::min(p, p0 + tile_f), t = p1 - p0;
      const float* xg = x + (n * g.cin + grp * cig) * hw;
      if (pl.pointwise) {
        pair_rows(xg + p0, p, k, t, round_up(t, kNrF), pairs);
      } else {
        pack_rows(pl, xg, 0, k, p0, p1, col);
        pair_rows(col, t, k, t, round_up(t, kNrF), pairs);
      }
      const int64_t ldb = round_up(t, kNrF);
      float* yg = y + n * image + grp * cog * p + p0;
      for (int64_t blk = 0; blk < cob; ++blk) {
        const uint32_t* a = packed + (grp * cob + blk) * kp * kMrF;
        const int mr = int(std::min<int64_t>(kMrF, cog - blk * kMrF));
        for (int64_t j = 0; j < t; j += kNrF)
          kernel_bf16<kMrF, kNvF>(kp, a, pairs + j, ldb, yg + blk * kMrF * p + j, p, mr,
                                  int(std::min<int64_t>(kNrF, t - j)), false);
      }
      finish_tile(pl, b, yg, grp, t, ep);
    }
  }
}
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

}  // namespace

const GemmKernels gemm_kernels = {
    .forward = &forward,
    .backward_input = &backward_input,
    .backward_weight = &backward_weight,
};

#if defined(__AVX512F__)
const GemmBf16Kernels gemm_bf16_kernels = {.forward = &forward_bf16};
#endif

}  // namespace climseg::nn::CLIMSEG_KERNEL_NS
