// Fast float conv2d: 1x1 as GEMM, depthwise as direct loops, the rest as im2col tiles + GEMM.
#include "nn/kernels/conv.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "core/error.hpp"

namespace climseg::nn {
namespace {

// Floor and ceiling of a / b for b > 0 and any sign of a.
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// im2col tiles aim at this many bytes so that a tile, once packed, is still in L2 when GEMM reads it.
constexpr int64_t kTileBytes = 1 << 20;

}  // namespace

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

ConvKernel::ConvKernel(const ConvGeom& g, int threads)
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
  const bool depthwise = g.groups > 1 && g.groups == g.cin && g.cin == g.cout;
  const bool pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pad.h == 0 && g.pad.w == 0;
  if (depthwise && g.kh * g.kw <= 64) {
    algo_ = Algo::depthwise;
  } else if (pointwise) {
    algo_ = Algo::gemm1x1;
  } else {
    algo_ = Algo::im2col;
    const int64_t k = g.cin_g() * g.kh * g.kw, p = g.oh() * ow;
    tile_ = std::max<int64_t>(64, kTileBytes / (4 * k)) / 16 * 16;
    tile_ = std::min(tile_, p);
    workspace_ = k * tile_;
  }
}

const char* ConvKernel::algo_name() const {
  switch (algo_) {
    case Algo::gemm1x1:
      return "gemm1x1";
    case Algo::im2col:
      return "im2col-gemm";
    case Algo::depthwise:
      return "depthwise-direct";
  }
  return "?";
}

// col (K, p1 - p0) <- the input taps of output pixels [p0, p1) of one group, K = Cin/g * KH * KW.
void ConvKernel::pack_cols(const float* xg, int64_t p0, int64_t p1, float* col) const {
  const ConvGeom& g = g_;
  const int64_t ow = g.ow(), t = p1 - p0, khw = g.kh * g.kw, k = g.cin_g() * khw;
#pragma omp parallel for schedule(static) num_threads(threads_)
  for (int64_t r = 0; r < k; ++r) {
    const int64_t ci = r / khw, ky = (r % khw) / g.kw, kx = r % g.kw;
    const float* xp = xg + ci * g.h * g.w;
    const int64_t off = kx * g.dw - g.pad.w, lo = interior_lo_[static_cast<size_t>(kx)],
                  hi = interior_hi_[static_cast<size_t>(kx)];
    float* out = col + r * t;
    for (int64_t p = p0; p < p1;) {
      const int64_t oy = p / ow, a = p % ow, b = std::min(ow, a + (p1 - p));
      float* o = out + (p - p0) - a;  // o[ox] is pixel (oy, ox)
      const int64_t iy = pad_index(oy * g.sh - g.pad.h + ky * g.dh, g.h, g.pad.rows);
      if (iy < 0) {
        std::fill(o + a, o + b, 0.0f);
      } else {
        const float* xr = xp + iy * g.w;
        const int64_t ia = std::max(a, lo), ib = std::min(b, hi);
        for (int64_t ox = a; ox < std::min(b, ia); ++ox) {
          int64_t ix = pad_index(ox * g.sw + off, g.w, g.pad.cols);
          o[ox] = ix < 0 ? 0.0f : xr[ix];
        }
        if (g.sw == 1) {
          if (ib > ia) std::memcpy(o + ia, xr + ia + off, static_cast<size_t>(ib - ia) * sizeof(float));
        } else {
          for (int64_t ox = ia; ox < ib; ++ox) o[ox] = xr[ox * g.sw + off];
        }
        for (int64_t ox = std::max(ia, ib); ox < b; ++ox) {
          int64_t ix = pad_index(ox * g.sw + off, g.w, g.pad.cols);
          o[ox] = ix < 0 ? 0.0f : xr[ix];
        }
      }
      p += b - a;
    }
  }
}

// dxg (Cin/g, H, W) += the taps in col (K, p1 - p0), each input channel by one thread (no races,
// fixed order).
void ConvKernel::unpack_cols(const float* col, int64_t p0, int64_t p1, float* dxg) const {
  const ConvGeom& g = g_;
  const int64_t ow = g.ow(), t = p1 - p0, khw = g.kh * g.kw;
#pragma omp parallel for schedule(static) num_threads(threads_)
  for (int64_t ci = 0; ci < g.cin_g(); ++ci) {
    float* dxp = dxg + ci * g.h * g.w;
    for (int64_t kk = 0; kk < khw; ++kk) {
      const int64_t ky = kk / g.kw, kx = kk % g.kw, r = ci * khw + kk;
      const int64_t off = kx * g.dw - g.pad.w, lo = interior_lo_[static_cast<size_t>(kx)],
                    hi = interior_hi_[static_cast<size_t>(kx)];
      const float* in = col + r * t;
      for (int64_t p = p0; p < p1;) {
        const int64_t oy = p / ow, a = p % ow, b = std::min(ow, a + (p1 - p));
        const float* o = in + (p - p0) - a;
        const int64_t iy = pad_index(oy * g.sh - g.pad.h + ky * g.dh, g.h, g.pad.rows);
        if (iy >= 0) {
          float* dr = dxp + iy * g.w;
          const int64_t ia = std::max(a, lo), ib = std::min(b, hi);
          for (int64_t ox = a; ox < std::min(b, ia); ++ox) {
            int64_t ix = pad_index(ox * g.sw + off, g.w, g.pad.cols);
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
            int64_t ix = pad_index(ox * g.sw + off, g.w, g.pad.cols);
            if (ix >= 0) dr[ix] += o[ox];
          }
        }
        p += b - a;
      }
    }
  }
}

// One depthwise plane: y (OH, OW) = bias + sum_k w[k] * x (H, W) shifted; interior columns
// vectorised, edge columns through the padding map.
void ConvKernel::dw_forward_plane(const float* x, const float* w, float bias, float* y, float*) const {
  const ConvGeom& g = g_;
  const int64_t oh = g.oh(), ow = g.ow();
  for (int64_t oy = 0; oy < oh; ++oy) {
    float* yr = y + oy * ow;
    std::fill(yr, yr + ow, bias);
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const int64_t iy = pad_index(oy * g.sh - g.pad.h + ky * g.dh, g.h, g.pad.rows);
      if (iy < 0) continue;
      const float* xr = x + iy * g.w;
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const float wk = w[ky * g.kw + kx];
        const int64_t off = kx * g.dw - g.pad.w, lo = interior_lo_[static_cast<size_t>(kx)],
                      hi = interior_hi_[static_cast<size_t>(kx)];
        for (int64_t ox = 0; ox < lo; ++ox) {
          int64_t ix = pad_index(ox * g.sw + off, g.w, g.pad.cols);
          if (ix >= 0) yr[ox] += wk * xr[ix];
        }
        if (g.sw == 1) {
          const float* xs = xr + off;
#pragma omp simd
          for (int64_t ox = lo; ox < hi; ++ox) yr[ox] += wk * xs[ox];
        } else {
          for (int64_t ox = lo; ox < hi; ++ox) yr[ox] += wk * xr[ox * g.sw + off];
        }
        for (int64_t ox = hi; ox < ow; ++ox) {
          int64_t ix = pad_index(ox * g.sw + off, g.w, g.pad.cols);
          if (ix >= 0) yr[ox] += wk * xr[ix];
        }
      }
    }
  }
}

// dx (H, W) += conv^T(dy (OH, OW)) for one depthwise plane.
void ConvKernel::dw_backward_input_plane(const float* dy, const float* w, float* dx, float*) const {
  const ConvGeom& g = g_;
  const int64_t oh = g.oh(), ow = g.ow();
  for (int64_t oy = 0; oy < oh; ++oy) {
    const float* dyr = dy + oy * ow;
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      const int64_t iy = pad_index(oy * g.sh - g.pad.h + ky * g.dh, g.h, g.pad.rows);
      if (iy < 0) continue;
      float* dr = dx + iy * g.w;
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const float wk = w[ky * g.kw + kx];
        const int64_t off = kx * g.dw - g.pad.w, lo = interior_lo_[static_cast<size_t>(kx)],
                      hi = interior_hi_[static_cast<size_t>(kx)];
        for (int64_t ox = 0; ox < lo; ++ox) {
          int64_t ix = pad_index(ox * g.sw + off, g.w, g.pad.cols);
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
          int64_t ix = pad_index(ox * g.sw + off, g.w, g.pad.cols);
          if (ix >= 0) dr[ix] += wk * dyr[ox];
        }
      }
    }
  }
}

// dw (KH, KW) of channel c (+)= sum over the batch and the plane; float partials per row, summed in
// double in a fixed order.
void ConvKernel::dw_backward_weight_channel(const float* x, const float* dy, int64_t c, float* dw, float*,
                                            bool accumulate) const {
  const ConvGeom& g = g_;
  const int64_t oh = g.oh(), ow = g.ow();
  double acc[64] = {};  // kh * kw <= 64 is checked by the caller
  for (int64_t n = 0; n < g.n; ++n) {
    const float* xp = x + (n * g.cin + c) * g.h * g.w;
    const float* dyp = dy + (n * g.cout + c) * oh * ow;
    for (int64_t oy = 0; oy < oh; ++oy) {
      const float* dyr = dyp + oy * ow;
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        const int64_t iy = pad_index(oy * g.sh - g.pad.h + ky * g.dh, g.h, g.pad.rows);
        if (iy < 0) continue;
        const float* xr = xp + iy * g.w;
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t off = kx * g.dw - g.pad.w, lo = interior_lo_[static_cast<size_t>(kx)],
                        hi = interior_hi_[static_cast<size_t>(kx)];
          float s = 0;
          for (int64_t ox = 0; ox < lo; ++ox) {
            int64_t ix = pad_index(ox * g.sw + off, g.w, g.pad.cols);
            if (ix >= 0) s += dyr[ox] * xr[ix];
          }
          float si = 0;
          if (g.sw == 1) {
            const float* xs = xr + off;
#pragma omp simd reduction(+ : si)
            for (int64_t ox = lo; ox < hi; ++ox) si += dyr[ox] * xs[ox];
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) si += dyr[ox] * xr[ox * g.sw + off];
          }
          s += si;
          for (int64_t ox = hi; ox < ow; ++ox) {
            int64_t ix = pad_index(ox * g.sw + off, g.w, g.pad.cols);
            if (ix >= 0) s += dyr[ox] * xr[ix];
          }
          acc[ky * g.kw + kx] += s;
        }
      }
    }
  }
  for (int64_t k = 0; k < g.kh * g.kw; ++k) dw[k] = accumulate ? dw[k] + float(acc[k]) : float(acc[k]);
}

void ConvKernel::forward(const float* x, const float* w, const float* b, float* y, float* ws) const {
  const ConvGeom& g = g_;
  const int64_t p = g.oh() * g.ow(), cig = g.cin_g(), cog = g.cout_g(), k = cig * g.kh * g.kw;
  if (algo_ == Algo::depthwise) {
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int64_t pl = 0; pl < g.n * g.cin; ++pl) {
      const int64_t c = pl % g.cin;
      dw_forward_plane(x + pl * g.h * g.w, w + c * g.kh * g.kw, b ? b[c] : 0.0f, y + pl * p, nullptr);
    }
    return;
  }
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const float* xg = x + (n * g.cin + grp * cig) * g.h * g.w;
      const float* wg = w + grp * cog * k;
      float* yg = y + (n * g.cout + grp * cog) * p;
      if (algo_ == Algo::gemm1x1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(cog), int(p), int(cig), 1.0f, wg, int(cig), xg,
                    int(p), 0.0f, yg, int(p));
      } else {
        for (int64_t p0 = 0; p0 < p; p0 += tile_) {
          const int64_t p1 = std::min(p, p0 + tile_), t = p1 - p0;
          pack_cols(xg, p0, p1, ws);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(cog), int(t), int(k), 1.0f, wg, int(k), ws, int(t),
                      0.0f, yg + p0, int(p));
        }
      }
    }
  if (b) {
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads_)
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t co = 0; co < g.cout; ++co) {
        float* yp = y + (n * g.cout + co) * p;
        const float bv = b[co];
#pragma omp simd
        for (int64_t i = 0; i < p; ++i) yp[i] += bv;
      }
  }
}

void ConvKernel::backward_input(const float* dy, const float* w, float* dx, bool accumulate, float* ws) const {
  const ConvGeom& g = g_;
  const int64_t p = g.oh() * g.ow(), cig = g.cin_g(), cog = g.cout_g(), k = cig * g.kh * g.kw, hw = g.h * g.w;
  if (algo_ == Algo::depthwise) {
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int64_t pl = 0; pl < g.n * g.cin; ++pl) {
      const int64_t c = pl % g.cin;
      float* dxp = dx + pl * hw;
      if (!accumulate) std::fill(dxp, dxp + hw, 0.0f);
      dw_backward_input_plane(dy + pl * p, w + c * g.kh * g.kw, dxp, nullptr);
    }
    return;
  }
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      float* dxg = dx + (n * g.cin + grp * cig) * hw;
      const float* wg = w + grp * cog * k;
      const float* dyg = dy + (n * g.cout + grp * cog) * p;
      if (algo_ == Algo::gemm1x1) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(cig), int(p), int(cog), 1.0f, wg, int(cig), dyg,
                    int(p), accumulate ? 1.0f : 0.0f, dxg, int(p));
      } else {
        if (!accumulate) std::memset(dxg, 0, static_cast<size_t>(cig * hw) * sizeof(float));
        for (int64_t p0 = 0; p0 < p; p0 += tile_) {
          const int64_t p1 = std::min(p, p0 + tile_), t = p1 - p0;
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(k), int(t), int(cog), 1.0f, wg, int(k), dyg + p0,
                      int(p), 0.0f, ws, int(t));
          unpack_cols(ws, p0, p1, dxg);
        }
      }
    }
}

void ConvKernel::backward_weight(const float* x, const float* dy, float* dw, bool accumulate, float* db,
                                 bool accumulate_b, float* ws) const {
  const ConvGeom& g = g_;
  const int64_t p = g.oh() * g.ow(), cig = g.cin_g(), cog = g.cout_g(), k = cig * g.kh * g.kw, hw = g.h * g.w;
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
    for (int64_t c = 0; c < g.cin; ++c) dw_backward_weight_channel(x, dy, c, dw + c * g.kh * g.kw, nullptr, accumulate);
    return;
  }
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const float* xg = x + (n * g.cin + grp * cig) * hw;
      const float* dyg = dy + (n * g.cout + grp * cog) * p;
      float* dwg = dw + grp * cog * k;
      const float beta0 = (accumulate || n > 0) ? 1.0f : 0.0f;
      if (algo_ == Algo::gemm1x1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(cog), int(cig), int(p), 1.0f, dyg, int(p), xg, int(p),
                    beta0, dwg, int(cig));
      } else {
        for (int64_t p0 = 0; p0 < p; p0 += tile_) {
          const int64_t p1 = std::min(p, p0 + tile_), t = p1 - p0;
          pack_cols(xg, p0, p1, ws);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(cog), int(k), int(t), 1.0f, dyg + p0, int(p), ws,
                      int(t), p0 > 0 ? 1.0f : beta0, dwg, int(k));
        }
      }
    }
}

}  // namespace climseg::nn
