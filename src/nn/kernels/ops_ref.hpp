// Every non-convolution op's forward and backward on plain NCHW buffers, templated on the scalar
// type: double for finite-difference checks, float for the engine (these loops are already the
// fast path where they are bandwidth-bound and vectorise). Backward kernels write their input
// gradients with `accumulate` false (=) or true (+=), so the graph never needs to zero gradients.
// Reductions run in a fixed order per output element, so results do not depend on thread count.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "nn/padding.hpp"

namespace climseg::nn::ref {
// Which overlap loss (the kernels' one type shared by every copy below).
enum class OverlapKind { jaccard, dice };
}  // namespace climseg::nn::ref

// ops_kernels.cpp compiles these kernels once more per ISA level, with CLIMSEG_KERNEL_NS defined:
// its copies then live in climseg::nn::isa_<level>::ref (see kernel_set.hpp).
#if defined(CLIMSEG_KERNEL_NS)
namespace climseg::nn::CLIMSEG_KERNEL_NS::ref {
using nn::ref::OverlapKind;
#else
namespace climseg::nn::ref {
#endif

template <class T>
inline void store(T* p, T v, bool accumulate) {
  *p = accumulate ? *p + v : v;
}

// Long reductions sum blocks of this many elements in the data type (vectorised), then add the
// block sums in double, in a fixed order.
constexpr int64_t kSumBlock = 512;

// exp that vectorises inside `omp simd` loops (std::exp does not without -ffast-math): 2^n times a
// degree-6 polynomial on |r| <= ln2/2, within 2 ulp of expf; NaN stays NaN, the range is clamped to
// [-87, 88] (results below 1.7e-38 are returned as that). The double version is std::exp.
inline float vexp(float x) {
  const bool nan = x != x;
  float v = nan ? 0.0f : std::min(std::max(x, -87.0f), 88.0f);
  const float n = (v * 1.44269504f + 12582912.0f) - 12582912.0f;  // round to nearest
  float r = v - n * 0.693145752f;                                 // ln2, high part
  r = r - n * 1.42860677e-06f;                                    // ln2, low part
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float scale = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return nan ? x : p * scale;
}
inline double vexp(double x) { return std::exp(x); }

// Pixels per vector chunk of the per-pixel channel loops (softmax, losses).
constexpr int64_t kLanes = 16;

// ---------------------------------------------------------------- elementwise activations

template <class T>
void relu_forward(const T* x, T* y, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}
// From the output, as PyTorch does (y > 0 where x > 0).
template <class T>
void relu_backward(const T* y, const T* dy, T* dx, int64_t n, bool accumulate) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    T g = y[i] > T(0) ? dy[i] : T(0);
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

template <class T>
void leaky_relu_forward(const T* x, T* y, int64_t n, T slope) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : slope * x[i];
}
template <class T>
void leaky_relu_backward(const T* x, const T* dy, T* dx, int64_t n, T slope, bool accumulate) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    T g = x[i] > T(0) ? dy[i] : slope * dy[i];
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

template <class T>
void sigmoid_forward(const T* x, T* y, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = T(1) / (T(1) + vexp(-x[i]));
}
template <class T>
void sigmoid_backward(const T* y, const T* dy, T* dx, int64_t n, bool accumulate) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    T g = dy[i] * (T(1) - y[i]) * y[i];
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

template <class T>
void tanh_forward(const T* x, T* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}
template <class T>
void tanh_backward(const T* y, const T* dy, T* dx, int64_t n, bool accumulate) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    T g = dy[i] * (T(1) - y[i] * y[i]);
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

// PReLU over (N, C, HW) with one slope per channel (na == C) or one shared (na == 1).
template <class T>
void prelu_forward(const T* x, const T* a, T* y, int64_t n, int64_t c, int64_t hw, int64_t na) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t s = 0; s < n; ++s)
    for (int64_t ch = 0; ch < c; ++ch) {
      const T al = a[na == 1 ? 0 : ch];
      const T* xp = x + (s * c + ch) * hw;
      T* yp = y + (s * c + ch) * hw;
#pragma omp simd
      for (int64_t i = 0; i < hw; ++i) yp[i] = xp[i] > T(0) ? xp[i] : al * xp[i];
    }
}
// dx (+)= dy * (x > 0 ? 1 : a); da (+)= sum dy * x over x <= 0 (summed per channel in a fixed
// order: over the batch, then the plane).
template <class T>
void prelu_backward(const T* x, const T* a, const T* dy, T* dx, T* da, int64_t n, int64_t c, int64_t hw, int64_t na,
                    bool accumulate_dx, bool accumulate_da) {
  if (da) {
    // Per channel in a fixed order (over the batch, then blocks of the plane), with dx in the same
    // pass when it is wanted; channels in parallel, a shared slope's channel sums then added in
    // channel order.
    auto channel = [&](int64_t ch) {
      const T al = a[na == 1 ? 0 : ch];
      double s_ch = 0;
      for (int64_t s = 0; s < n; ++s) {
        const T* xp = x + (s * c + ch) * hw;
        const T* dyp = dy + (s * c + ch) * hw;
        T* dxp = dx ? dx + (s * c + ch) * hw : nullptr;
        for (int64_t i0 = 0; i0 < hw; i0 += kSumBlock) {
          const int64_t i1 = std::min(hw, i0 + kSumBlock);
          T acc = 0;
          if (!dxp) {
#pragma omp simd reduction(+ : acc)
            for (int64_t i = i0; i < i1; ++i) acc += xp[i] > T(0) ? T(0) : xp[i] * dyp[i];
          } else if (accumulate_dx) {
#pragma omp simd reduction(+ : acc)
            for (int64_t i = i0; i < i1; ++i) {
              const bool pos = xp[i] > T(0);
              dxp[i] += pos ? dyp[i] : al * dyp[i];
              acc += pos ? T(0) : xp[i] * dyp[i];
            }
          } else {
#pragma omp simd reduction(+ : acc)
            for (int64_t i = i0; i < i1; ++i) {
              const bool pos = xp[i] > T(0);
              dxp[i] = pos ? dyp[i] : al * dyp[i];
              acc += pos ? T(0) : xp[i] * dyp[i];
            }
          }
          s_ch += double(acc);
        }
      }
      return s_ch;
    };
    if (na == 1) {
      constexpr int64_t kChunk = 256;
      double part[kChunk];
      double total = 0;
      for (int64_t c0 = 0; c0 < c; c0 += kChunk) {
        const int64_t c1 = std::min(c, c0 + kChunk);
#pragma omp parallel for schedule(static)
        for (int64_t ch = c0; ch < c1; ++ch) part[ch - c0] = channel(ch);
        for (int64_t ch = c0; ch < c1; ++ch) total += part[ch - c0];
      }
      store(da, T(total), accumulate_da);
    } else {
#pragma omp parallel for schedule(static)
      for (int64_t ch = 0; ch < c; ++ch) store(da + ch, T(channel(ch)), accumulate_da);
    }
    return;
  }
  if (dx) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t s = 0; s < n; ++s)
      for (int64_t ch = 0; ch < c; ++ch) {
        const T al = a[na == 1 ? 0 : ch];
        const T* xp = x + (s * c + ch) * hw;
        const T* dyp = dy + (s * c + ch) * hw;
        T* dxp = dx + (s * c + ch) * hw;
#pragma omp simd
        for (int64_t i = 0; i < hw; ++i) {
          T g = xp[i] > T(0) ? dyp[i] : al * dyp[i];
          dxp[i] = accumulate_dx ? dxp[i] + g : g;
        }
      }
  }
}

// ---------------------------------------------------------------- batch norm (split in phases)
// Phase 1: per-channel sums over (N, HW) — the numbers a synchronised BatchNorm allreduces.
template <class T>
void bn_channel_sums_one(const T* x, int64_t n, int64_t c, int64_t hw, int64_t ch, double* sum, double* sumsq) {
  double s = 0, q = 0;
  for (int64_t b = 0; b < n; ++b) {
    const T* xp = x + (b * c + ch) * hw;
    double s1 = 0, q1 = 0;
#pragma omp simd reduction(+ : s1, q1)
    for (int64_t i = 0; i < hw; ++i) {
      double v = xp[i];
      s1 += v;
      q1 += v * v;
    }
    s += s1;
    q += q1;
  }
  *sum = s;
  *sumsq = q;
}
template <class T>
void bn_channel_sums(const T* x, int64_t n, int64_t c, int64_t hw, double* sum, double* sumsq) {
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch) bn_channel_sums_one(x, n, c, hw, ch, sum + ch, sumsq + ch);
}

// Phase 2: y = x * scale[c] + shift[c], optionally followed by PReLU with slopes a (na = C or 1).
template <class T>
void bn_apply_plane(const T* xp, T* yp, int64_t hw, T sc, T sh, const T* al) {
  if (al) {
    const T slope = *al;
#pragma omp simd
    for (int64_t i = 0; i < hw; ++i) {
      T z = xp[i] * sc + sh;
      yp[i] = z > T(0) ? z : slope * z;
    }
  } else {
#pragma omp simd
    for (int64_t i = 0; i < hw; ++i) yp[i] = xp[i] * sc + sh;
  }
}
template <class T>
void bn_apply(const T* x, T* y, int64_t n, int64_t c, int64_t hw, const T* scale, const T* shift, const T* a,
              int64_t na) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      bn_apply_plane(x + (b * c + ch) * hw, y + (b * c + ch) * hw, hw, scale[ch], shift[ch],
                     a ? a + (na == 1 ? 0 : ch) : nullptr);
}

// Backward phase 1: per channel sum(dz) and sum(dz * xhat), xhat = (x - mean) * invstd, where dz is
// dy itself, or dy through a PReLU whose input z = x * scale + shift is recomputed (never stored).
// With PReLU also the slope gradient's per-channel sums (da_sum, summed over na later).
template <class T>
void bn_backward_sums_one(const T* x, const T* dy, int64_t n, int64_t c, int64_t hw, int64_t ch, const T* mean,
                          const T* invstd, const T* scale, const T* shift, const T* a, int64_t na, double* sum_dz,
                          double* sum_dz_xhat, double* da_sum) {
  const T mu = mean[ch], is = invstd[ch];
  double s = 0, q = 0, sa = 0;
  for (int64_t b = 0; b < n; ++b) {
    const T* xp = x + (b * c + ch) * hw;
    const T* dyp = dy + (b * c + ch) * hw;
    // Blocks summed in T (vector lanes), block sums in double: fast and accurate.
    for (int64_t i0 = 0; i0 < hw; i0 += kSumBlock) {
      const int64_t i1 = std::min(hw, i0 + kSumBlock);
      {
        // Fetch x and dy a few blocks ahead (within the plane; the planes of a channel are C*H*W
        // apart, which the hardware prefetcher does not follow).
        const int64_t ahead = i0 + 4 * kSumBlock;
        const int64_t stop = std::min(hw, ahead + kSumBlock);
        const int64_t step = int64_t(64 / sizeof(T));
        for (int64_t i = ahead; i < stop; i += step) {
          __builtin_prefetch(xp + i, 0, 3);
          __builtin_prefetch(dyp + i, 0, 3);
        }
      }
      T s1 = 0, q1 = 0, a1 = 0;
      if (a) {
        const T al = a[na == 1 ? 0 : ch], sc = scale[ch], sh = shift[ch];
#pragma omp simd reduction(+ : s1, q1, a1)
        for (int64_t i = i0; i < i1; ++i) {
          const T z = xp[i] * sc + sh;
          const bool pos = z > T(0);
          const T dz = pos ? dyp[i] : al * dyp[i];
          a1 += pos ? T(0) : dyp[i] * z;
          s1 += dz;
          q1 += dz * ((xp[i] - mu) * is);
        }
      } else {
#pragma omp simd reduction(+ : s1, q1)
        for (int64_t i = i0; i < i1; ++i) {
          s1 += dyp[i];
          q1 += dyp[i] * ((xp[i] - mu) * is);
        }
      }
      s += double(s1);
      q += double(q1);
      sa += double(a1);
    }
  }
  sum_dz[ch] = s;
  sum_dz_xhat[ch] = q;
  if (da_sum) da_sum[ch] = sa;
}
template <class T>
void bn_backward_sums(const T* x, const T* dy, int64_t n, int64_t c, int64_t hw, const T* mean, const T* invstd,
                      const T* scale, const T* shift, const T* a, int64_t na, double* sum_dz, double* sum_dz_xhat,
                      double* da_sum) {
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch)
    bn_backward_sums_one(x, dy, n, c, hw, ch, mean, invstd, scale, shift, a, na, sum_dz, sum_dz_xhat, da_sum);
}

// Backward phase 2: dx (+)= gamma * invstd * (dz - k1 - xhat * k2) with k1 = mean_dz and
// k2 = mean(dz * xhat) over the (possibly global) count; eval mode passes k1 = k2 = 0.
template <class T>
void bn_backward_apply_plane(const T* xp, const T* dyp, T* dxp, int64_t hw, int64_t ch, const T* mean, const T* invstd,
                             const T* gamma, const T* k1, const T* k2, const T* scale, const T* shift, const T* al,
                             bool accumulate) {
  const T mu = mean[ch], is = invstd[ch], g = gamma ? gamma[ch] * is : is, c1 = k1[ch], c2 = k2[ch];
  if (al) {
    const T slope = *al, sc = scale[ch], sh = shift[ch];
    if (accumulate) {
#pragma omp simd
      for (int64_t i = 0; i < hw; ++i) {
        T z = xp[i] * sc + sh;
        T dz = z > T(0) ? dyp[i] : slope * dyp[i];
        dxp[i] += g * (dz - c1 - (xp[i] - mu) * is * c2);
      }
    } else {
#pragma omp simd
      for (int64_t i = 0; i < hw; ++i) {
        T z = xp[i] * sc + sh;
        T dz = z > T(0) ? dyp[i] : slope * dyp[i];
        dxp[i] = g * (dz - c1 - (xp[i] - mu) * is * c2);
      }
    }
  } else if (accumulate) {
#pragma omp simd
    for (int64_t i = 0; i < hw; ++i) dxp[i] += g * (dyp[i] - c1 - (xp[i] - mu) * is * c2);
  } else {
#pragma omp simd
    for (int64_t i = 0; i < hw; ++i) dxp[i] = g * (dyp[i] - c1 - (xp[i] - mu) * is * c2);
  }
}
template <class T>
void bn_backward_apply(const T* x, const T* dy, T* dx, int64_t n, int64_t c, int64_t hw, const T* mean, const T* invstd,
                       const T* gamma, const T* k1, const T* k2, const T* scale, const T* shift, const T* a, int64_t na,
                       bool accumulate) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch) {
      const int64_t off = (b * c + ch) * hw;
      bn_backward_apply_plane(x + off, dy + off, dx + off, hw, ch, mean, invstd, gamma, k1, k2, scale, shift,
                              a ? a + (na == 1 ? 0 : ch) : nullptr, accumulate);
    }
}

// ---------------------------------------------------------------- pooling

// Max pooling with zero-size "-inf" padding (PyTorch's), dilation 1. `arg` (N, C, OH, OW) receives the
// flat index in the input plane of each maximum (first one on ties, the last NaN wins).
template <class T>
void max_pool2d_forward(const T* x, T* y, int32_t* arg, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh,
                        int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t oh, int64_t ow) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < n * c; ++p) {
    const T* xp = x + p * h * w;
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        T best = -std::numeric_limits<T>::infinity();
        int64_t bi = -1;
        for (int64_t ky = 0; ky < kh; ++ky) {
          int64_t iy = oy * sh - ph + ky;
          if (iy < 0 || iy >= h) continue;
          for (int64_t kx = 0; kx < kw; ++kx) {
            int64_t ix = ox * sw - pw + kx;
            if (ix < 0 || ix >= w) continue;
            T v = xp[iy * w + ix];
            if (bi < 0 || v > best || std::isnan(v)) {  // PyTorch's rule: NaN propagates
              best = v;
              bi = iy * w + ix;
            }
          }
        }
        y[(p * oh + oy) * ow + ox] = best;
        arg[(p * oh + oy) * ow + ox] = static_cast<int32_t>(bi);
      }
  }
}
template <class T>
void max_pool2d_backward(const T* dy, const int32_t* arg, T* dx, int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh,
                         int64_t ow, bool accumulate) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < n * c; ++p) {
    T* dxp = dx + p * h * w;
    if (!accumulate) std::fill(dxp, dxp + h * w, T(0));
    for (int64_t i = 0; i < oh * ow; ++i) {
      int32_t a = arg[p * oh * ow + i];
      if (a >= 0) dxp[a] += dy[p * oh * ow + i];
    }
  }
}

// Average pooling with any padding mode. Divisor: taps inside [-p, size + p) when
// count_include_pad (PyTorch's default), else taps that read an input value; with circular or
// reflect padding every tap reads a value, so both are k*k.
template <class T>
int64_t avg_pool_divisor(int64_t oy, int64_t ox, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                         const Padding& pad, bool count_include_pad) {
  int64_t cnt = 0;
  for (int64_t ky = 0; ky < kh; ++ky) {
    int64_t y = oy * sh - pad.h + ky;
    bool yin = count_include_pad ? (y >= -pad.h && y < h + pad.h) : pad_index(y, h, pad.rows) >= 0;
    if (!yin) continue;
    for (int64_t kx = 0; kx < kw; ++kx) {
      int64_t x = ox * sw - pad.w + kx;
      bool xin = count_include_pad ? (x >= -pad.w && x < w + pad.w) : pad_index(x, w, pad.cols) >= 0;
      if (xin) ++cnt;
    }
  }
  return std::max<int64_t>(cnt, 1);
}

template <class T>
void avg_pool2d_forward(const T* x, T* y, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                        int64_t sh, int64_t sw, const Padding& pad, bool count_include_pad, int64_t oh, int64_t ow) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < n * c; ++p) {
    const T* xp = x + p * h * w;
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        T s = 0;
        for (int64_t ky = 0; ky < kh; ++ky) {
          int64_t iy = pad_index(oy * sh - pad.h + ky, h, pad.rows);
          if (iy < 0) continue;
          for (int64_t kx = 0; kx < kw; ++kx) {
            int64_t ix = pad_index(ox * sw - pad.w + kx, w, pad.cols);
            if (ix >= 0) s += xp[iy * w + ix];
          }
        }
        y[(p * oh + oy) * ow + ox] = s / T(avg_pool_divisor<T>(oy, ox, h, w, kh, kw, sh, sw, pad, count_include_pad));
      }
  }
}
template <class T>
void avg_pool2d_backward(const T* dy, T* dx, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                         int64_t sh, int64_t sw, const Padding& pad, bool count_include_pad, int64_t oh, int64_t ow,
                         bool accumulate) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < n * c; ++p) {
    T* dxp = dx + p * h * w;
    if (!accumulate) std::fill(dxp, dxp + h * w, T(0));
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        T g =
            dy[(p * oh + oy) * ow + ox] / T(avg_pool_divisor<T>(oy, ox, h, w, kh, kw, sh, sw, pad, count_include_pad));
        for (int64_t ky = 0; ky < kh; ++ky) {
          int64_t iy = pad_index(oy * sh - pad.h + ky, h, pad.rows);
          if (iy < 0) continue;
          for (int64_t kx = 0; kx < kw; ++kx) {
            int64_t ix = pad_index(ox * sw - pad.w + kx, w, pad.cols);
            if (ix >= 0) dxp[iy * w + ix] += g;
          }
        }
      }
  }
}

// Average pooling through precomputed padding maps and separable divisors (AvgPoolOp): rmap
// (k, oh) input rows, cmap (k, ow) input columns (-1: zero), cnt_r (oh) and cnt_c (ow) the taps
// counted per axis.
// Per output row: the border columns through the maps (as the reference), the interior columns
// [lo, hi), whose k taps are the consecutive inputs cmap[ox] + kx with cmap[ox] stepping by a
// constant stride, as direct strided loads. Each output sums its taps in the same order (ky, then
// kx) as the reference, so the results are bit-identical; parallel over (plane, output row).
template <int S, class T>
inline void avg_pool_row_interior(const T* xr, T* yr, int64_t n, int64_t stride) {
  const int64_t st = S > 0 ? S : stride;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) yr[i] += xr[i * st];
}
template <class T>
void avg_pool2d_forward(const T* x, T* y, int64_t nc, int64_t h, int64_t w, int64_t k, int64_t oh, int64_t ow,
                        const int32_t* rmap, const int32_t* cmap, const T* cnt_r, const T* cnt_c) {
  auto regular = [&](int64_t ox) {
    if (cmap[ox] < 0) return false;
    for (int64_t kx = 1; kx < k; ++kx)
      if (cmap[kx * ow + ox] != cmap[ox] + kx) return false;
    return true;
  };
  int64_t lo = 0;
  while (lo < ow && !regular(lo)) ++lo;
  int64_t hi = std::min(lo + 1, ow), stride = 1;
  if (hi < ow && regular(hi) && cmap[hi] > cmap[lo]) {
    stride = cmap[hi] - cmap[lo];
    while (hi < ow && regular(hi) && cmap[hi] == cmap[lo] + (hi - lo) * stride) ++hi;
  }
  if (lo >= ow) hi = lo;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t pl = 0; pl < nc; ++pl)
    for (int64_t oy = 0; oy < oh; ++oy) {
      const T* xp = x + pl * h * w;
      T* yr = y + (pl * oh + oy) * ow;
      for (int64_t ox = 0; ox < ow; ++ox) yr[ox] = T(0);
      for (int64_t ky = 0; ky < k; ++ky) {
        const int32_t iy = rmap[ky * oh + oy];
        if (iy < 0) continue;
        const T* xr = xp + iy * w;
        for (int64_t kx = 0; kx < k; ++kx) {
          const int32_t* cm = cmap + kx * ow;
          for (int64_t ox = 0; ox < lo; ++ox) yr[ox] += cm[ox] >= 0 ? xr[cm[ox]] : T(0);
          if (hi > lo) {
            const T* xs = xr + cm[lo];
            if (stride == 1)
              avg_pool_row_interior<1>(xs, yr + lo, hi - lo, 1);
            else if (stride == 2)
              avg_pool_row_interior<2>(xs, yr + lo, hi - lo, 2);
            else
              avg_pool_row_interior<0>(xs, yr + lo, hi - lo, stride);
          }
          for (int64_t ox = hi; ox < ow; ++ox) yr[ox] += cm[ox] >= 0 ? xr[cm[ox]] : T(0);
        }
      }
      const T rr = cnt_r[oy];
#pragma omp simd
      for (int64_t ox = 0; ox < ow; ++ox) yr[ox] /= rr * cnt_c[ox];
    }
}
template <class T>
void avg_pool2d_backward(const T* dy, T* dx, int64_t nc, int64_t h, int64_t w, int64_t k, int64_t oh, int64_t ow,
                         const int32_t* rmap, const int32_t* cmap, const T* cnt_r, const T* cnt_c, bool accumulate) {
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < nc; ++pl) {
    T* dxp = dx + pl * h * w;
    if (!accumulate)
      for (int64_t i = 0; i < h * w; ++i) dxp[i] = T(0);
    for (int64_t oy = 0; oy < oh; ++oy) {
      const T* dyr = dy + (pl * oh + oy) * ow;
      const T rr = cnt_r[oy];
      for (int64_t ky = 0; ky < k; ++ky) {
        const int32_t iy = rmap[ky * oh + oy];
        if (iy < 0) continue;
        T* dr = dxp + iy * w;
        for (int64_t kx = 0; kx < k; ++kx) {
          const int32_t* cm = cmap + kx * ow;
          for (int64_t ox = 0; ox < ow; ++ox)
            if (cm[ox] >= 0) dr[cm[ox]] += dyr[ox] / (rr * cnt_c[ox]);
        }
      }
    }
  }
}

// (N, C, H, W) -> (N, C): mean over the plane.
template <class T>
void global_avg_pool_forward(const T* x, T* y, int64_t nc, int64_t hw) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < nc; ++p) {
    double s = 0;
    const T* xp = x + p * hw;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < hw; ++i) s += xp[i];
    y[p] = T(s / double(hw));
  }
}
template <class T>
void global_avg_pool_backward(const T* dy, T* dx, int64_t nc, int64_t hw, bool accumulate) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < nc; ++p) {
    const T g = dy[p] / T(hw);
    T* dxp = dx + p * hw;
#pragma omp simd
    for (int64_t i = 0; i < hw; ++i) dxp[i] = accumulate ? dxp[i] + g : g;
  }
}

// ---------------------------------------------------------------- linear: y (N, out) = x (N, in) W^T + b

template <class T>
void linear_forward(const T* x, const T* wt, const T* b, T* y, int64_t n, int64_t in, int64_t out) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t s = 0; s < n; ++s)
    for (int64_t o = 0; o < out; ++o) {
      T acc = b ? b[o] : T(0);
      for (int64_t i = 0; i < in; ++i) acc += x[s * in + i] * wt[o * in + i];
      y[s * out + o] = acc;
    }
}
template <class T>
void linear_backward(const T* x, const T* wt, const T* dy, T* dx, T* dw, T* db, int64_t n, int64_t in, int64_t out,
                     bool acc_dx, bool acc_dw, bool acc_db) {
  if (dx) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t s = 0; s < n; ++s)
      for (int64_t i = 0; i < in; ++i) {
        T acc = 0;
        for (int64_t o = 0; o < out; ++o) acc += dy[s * out + o] * wt[o * in + i];
        store(dx + s * in + i, acc, acc_dx);
      }
  }
  if (dw) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        T acc = 0;
        for (int64_t s = 0; s < n; ++s) acc += dy[s * out + o] * x[s * in + i];
        store(dw + o * in + i, acc, acc_dw);
      }
  }
  if (db) {
    for (int64_t o = 0; o < out; ++o) {
      T acc = 0;
      for (int64_t s = 0; s < n; ++s) acc += dy[s * out + o];
      store(db + o, acc, acc_db);
    }
  }
}

// ---------------------------------------------------------------- upsampling (PyTorch's index rules)

// Source coordinate of output index d for bilinear interpolation.
template <class T>
inline T bilinear_source(int64_t d, int64_t in, int64_t out, bool align_corners) {
  if (align_corners) {
    T scale = out > 1 ? T(in - 1) / T(out - 1) : T(0);
    return scale * T(d);
  }
  T scale = T(in) / T(out);
  T s = scale * (T(d) + T(0.5)) - T(0.5);
  return s < T(0) ? T(0) : s;
}

template <class T>
struct LinearTap {
  int64_t i0, i1;
  T l0, l1;
};
template <class T>
inline LinearTap<T> bilinear_tap(int64_t d, int64_t in, int64_t out, bool align_corners) {
  T s = bilinear_source<T>(d, in, out, align_corners);
  int64_t i0 = static_cast<int64_t>(s);
  if (i0 > in - 1) i0 = in - 1;
  int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
  T l1 = s - T(i0);
  return {i0, i1, T(1) - l1, l1};
}

template <class T>
void upsample_bilinear_forward(const T* x, T* y, int64_t nc, int64_t h, int64_t w, int64_t oh, int64_t ow,
                               bool align_corners) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < nc; ++p) {
    const T* xp = x + p * h * w;
    T* yp = y + p * oh * ow;
    for (int64_t oy = 0; oy < oh; ++oy) {
      auto ty = bilinear_tap<T>(oy, h, oh, align_corners);
      for (int64_t ox = 0; ox < ow; ++ox) {
        auto tx = bilinear_tap<T>(ox, w, ow, align_corners);
        yp[oy * ow + ox] = ty.l0 * (tx.l0 * xp[ty.i0 * w + tx.i0] + tx.l1 * xp[ty.i0 * w + tx.i1]) +
                           ty.l1 * (tx.l0 * xp[ty.i1 * w + tx.i0] + tx.l1 * xp[ty.i1 * w + tx.i1]);
      }
    }
  }
}
// Fast forward (UpsampleOp): the taps of every output row and column computed once per call by
// bilinear_tap (into ti: (oh + ow, 2) source indices i0, i1; tw: (oh + ow, 2) weights l0, l1, rows
// first), then the reference's expression (bit-identical), parallel over (plane, output row).
template <class T>
void upsample_bilinear_forward_taps(const T* x, T* y, int64_t nc, int64_t h, int64_t w, int64_t oh, int64_t ow,
                                    bool align_corners, int32_t* ti, T* tw) {
  for (int64_t d = 0; d < oh + ow; ++d) {
    const auto t = d < oh ? bilinear_tap<T>(d, h, oh, align_corners) : bilinear_tap<T>(d - oh, w, ow, align_corners);
    ti[2 * d] = static_cast<int32_t>(t.i0);
    ti[2 * d + 1] = static_cast<int32_t>(t.i1);
    tw[2 * d] = t.l0;
    tw[2 * d + 1] = t.l1;
  }
  const int32_t *iy = ti, *ix = ti + 2 * oh;
  const T *ly = tw, *lx = tw + 2 * oh;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t p = 0; p < nc; ++p)
    for (int64_t oy = 0; oy < oh; ++oy) {
      const T* r0 = x + (p * h + iy[2 * oy]) * w;
      const T* r1 = x + (p * h + iy[2 * oy + 1]) * w;
      const T l0 = ly[2 * oy], l1 = ly[2 * oy + 1];
      T* yr = y + (p * oh + oy) * ow;
#pragma omp simd
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int32_t i0 = ix[2 * ox], i1 = ix[2 * ox + 1];
        const T m0 = lx[2 * ox], m1 = lx[2 * ox + 1];
        yr[ox] = l0 * (m0 * r0[i0] + m1 * r0[i1]) + l1 * (m0 * r1[i0] + m1 * r1[i1]);
      }
    }
}
template <class T>
void upsample_bilinear_backward(const T* dy, T* dx, int64_t nc, int64_t h, int64_t w, int64_t oh, int64_t ow,
                                bool align_corners, bool accumulate) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < nc; ++p) {
    T* dxp = dx + p * h * w;
    if (!accumulate) std::fill(dxp, dxp + h * w, T(0));
    const T* dyp = dy + p * oh * ow;
    for (int64_t oy = 0; oy < oh; ++oy) {
      auto ty = bilinear_tap<T>(oy, h, oh, align_corners);
      for (int64_t ox = 0; ox < ow; ++ox) {
        auto tx = bilinear_tap<T>(ox, w, ow, align_corners);
        T g = dyp[oy * ow + ox];
        dxp[ty.i0 * w + tx.i0] += ty.l0 * tx.l0 * g;
        dxp[ty.i0 * w + tx.i1] += ty.l0 * tx.l1 * g;
        dxp[ty.i1 * w + tx.i0] += ty.l1 * tx.l0 * g;
        dxp[ty.i1 * w + tx.i1] += ty.l1 * tx.l1 * g;
      }
    }
  }
}

// PyTorch's 'nearest': src = min(floor(d * (in / out)), in - 1) with the scale in float.
inline int64_t nearest_source(int64_t d, int64_t in, int64_t out) {
  float scale = static_cast<float>(in) / static_cast<float>(out);
  return std::min(static_cast<int64_t>(std::floor(static_cast<float>(d) * scale)), in - 1);
}
template <class T>
void upsample_nearest_forward(const T* x, T* y, int64_t nc, int64_t h, int64_t w, int64_t oh, int64_t ow) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < nc; ++p)
    for (int64_t oy = 0; oy < oh; ++oy) {
      const T* xr = x + (p * h + nearest_source(oy, h, oh)) * w;
      T* yr = y + (p * oh + oy) * ow;
      for (int64_t ox = 0; ox < ow; ++ox) yr[ox] = xr[nearest_source(ox, w, ow)];
    }
}
template <class T>
void upsample_nearest_backward(const T* dy, T* dx, int64_t nc, int64_t h, int64_t w, int64_t oh, int64_t ow,
                               bool accumulate) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < nc; ++p) {
    T* dxp = dx + p * h * w;
    if (!accumulate) std::fill(dxp, dxp + h * w, T(0));
    for (int64_t oy = 0; oy < oh; ++oy) {
      T* dxr = dxp + nearest_source(oy, h, oh) * w;
      const T* dyr = dy + (p * oh + oy) * ow;
      for (int64_t ox = 0; ox < ow; ++ox) dxr[nearest_source(ox, w, ow)] += dyr[ox];
    }
  }
}

// ---------------------------------------------------------------- channel concat, add, mul, gates

// Copies x (N, C, HW) into channels [c0, c0 + C) of y (N, CT, HW), or the reverse for backward.
template <class T>
void copy_channels(const T* src, int64_t src_c, int64_t src_c0, T* dst, int64_t dst_c, int64_t dst_c0, int64_t n,
                   int64_t c, int64_t hw, bool accumulate) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch) {
      const T* s = src + (b * src_c + src_c0 + ch) * hw;
      T* d = dst + (b * dst_c + dst_c0 + ch) * hw;
      if (accumulate) {
#pragma omp simd
        for (int64_t i = 0; i < hw; ++i) d[i] += s[i];
      } else {
        std::memcpy(d, s, static_cast<size_t>(hw) * sizeof(T));
      }
    }
}

template <class T>
void add_forward(const T* a, const T* b, T* y, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
// dx (+)= dy (scaled by `scale`): the backward of add, and a plain gradient copy.
template <class T>
void axpy_grad(const T* dy, T* dx, int64_t n, T scale, bool accumulate) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) dx[i] = accumulate ? dx[i] + scale * dy[i] : scale * dy[i];
}
template <class T>
void mul_forward(const T* a, const T* b, T* y, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}
// da (+)= dy * b
template <class T>
void mul_backward(const T* dy, const T* b, T* da, int64_t n, bool accumulate) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) da[i] = accumulate ? da[i] + dy[i] * b[i] : dy[i] * b[i];
}

// y (N, C, HW) = x * g (N, C): the squeeze-excitation gate.
template <class T>
void scale_channels_forward(const T* x, const T* g, T* y, int64_t nc, int64_t hw) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < nc; ++p) {
    const T s = g[p];
#pragma omp simd
    for (int64_t i = 0; i < hw; ++i) y[p * hw + i] = x[p * hw + i] * s;
  }
}
// y = a + x * g (N, C) per channel, one block of a plane at a time: the products stored, then the
// sums read them back from L1 (GCC contracts a product and a sum in one loop into an FMA, which
// rounds once: separate loops keep the bits of scale_channels_forward then add_forward).
template <class T>
void add_scaled_channels_forward(const T* a, const T* x, const T* g, T* y, int64_t nc, int64_t hw) {
  constexpr int64_t kBlock = 2048;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < nc; ++p) {
    const T s = g[p];
    for (int64_t i0 = p * hw; i0 < (p + 1) * hw; i0 += kBlock) {
      const int64_t i1 = std::min((p + 1) * hw, i0 + kBlock);
#pragma omp simd
      for (int64_t i = i0; i < i1; ++i) y[i] = x[i] * s;
#pragma omp simd
      for (int64_t i = i0; i < i1; ++i) y[i] = a[i] + y[i];
    }
  }
}
template <class T>
void scale_channels_backward(const T* x, const T* g, const T* dy, T* dx, T* dg, int64_t nc, int64_t hw, bool acc_dx,
                             bool acc_dg) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < nc; ++p) {
    const T s = g[p];
    if (dx) {
#pragma omp simd
      for (int64_t i = 0; i < hw; ++i)
        dx[p * hw + i] = acc_dx ? dx[p * hw + i] + dy[p * hw + i] * s : dy[p * hw + i] * s;
    }
    if (dg) {
      double acc = 0;
      for (int64_t i0 = 0; i0 < hw; i0 += kSumBlock) {
        const int64_t i1 = std::min(hw, i0 + kSumBlock);
        T part = 0;
#pragma omp simd reduction(+ : part)
        for (int64_t i = i0; i < i1; ++i) part += dy[p * hw + i] * x[p * hw + i];
        acc += double(part);
      }
      store(dg + p, T(acc), acc_dg);
    }
  }
}

// A convolution's bias gradient: db (C) (+)= dy (N, C, HW) summed per channel over the batch and
// the plane (each plane's sum in vector lanes of double, then the planes in order).
template <class T>
void bias_grad(const T* dy, int64_t n, int64_t c, int64_t hw, T* db, bool accumulate, int threads) {
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t co = 0; co < c; ++co) {
    double s = 0;
    for (int64_t b = 0; b < n; ++b) {
      const T* dyp = dy + (b * c + co) * hw;
      double s1 = 0;
#pragma omp simd reduction(+ : s1)
      for (int64_t i = 0; i < hw; ++i) s1 += dyp[i];
      s += s1;
    }
    db[co] = accumulate ? db[co] + T(s) : T(s);
  }
}

// ---------------------------------------------------------------- softmax over channels

// Per-pixel max and sum of exp(x - max) over channels for kLanes pixels starting at xp (len valid).
template <class T>
inline void channel_max_sum(const T* xp, int64_t c, int64_t hw, int64_t len, T* m, T* s) {
#pragma omp simd
  for (int64_t j = 0; j < len; ++j) m[j] = xp[j];
  for (int64_t ch = 1; ch < c; ++ch)
#pragma omp simd
    for (int64_t j = 0; j < len; ++j) m[j] = std::max(m[j], xp[ch * hw + j]);
#pragma omp simd
  for (int64_t j = 0; j < len; ++j) s[j] = 0;
  for (int64_t ch = 0; ch < c; ++ch)
#pragma omp simd
    for (int64_t j = 0; j < len; ++j) s[j] += vexp(xp[ch * hw + j] - m[j]);
}

template <class T>
void softmax_channels_forward(const T* x, T* y, int64_t n, int64_t c, int64_t hw) {
  const int64_t chunks = (hw + kLanes - 1) / kLanes;
#pragma omp parallel for schedule(static)
  for (int64_t job = 0; job < n * chunks; ++job) {
    const int64_t b = job / chunks, i0 = (job % chunks) * kLanes, len = std::min(kLanes, hw - i0);
    const T* xp = x + b * c * hw + i0;
    T* yp = y + b * c * hw + i0;
    T m[kLanes], s[kLanes];
    channel_max_sum(xp, c, hw, len, m, s);
    for (int64_t ch = 0; ch < c; ++ch)
#pragma omp simd
      for (int64_t j = 0; j < len; ++j) yp[ch * hw + j] = vexp(xp[ch * hw + j] - m[j]) / s[j];
  }
}
// The class of largest softmax probability of each pixel of x (c, hw) (one sample), ties to the
// lower class: each probability computed as softmax_channels_forward computes it (the same
// expression, so the same bits), compared at once and never stored. For `rows` rows of `len`
// pixels starting every `stride` pixels (the unpadded corner of a padded plane), into out
// (rows * len) as float class indices.
template <class T>
void softmax_argmax_channels(const T* x, int64_t c, int64_t hw, int64_t rows, int64_t stride, int64_t len, float* out) {
  const int64_t chunks = (len + kLanes - 1) / kLanes;
#pragma omp parallel for schedule(static)
  for (int64_t job = 0; job < rows * chunks; ++job) {
    const int64_t i = job / chunks, j0 = (job % chunks) * kLanes, n = std::min(kLanes, len - j0);
    const T* xp = x + i * stride + j0;
    T m[kLanes], s[kLanes], best[kLanes];
    float cls[kLanes];
    channel_max_sum(xp, c, hw, n, m, s);
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
      best[j] = vexp(xp[j] - m[j]) / s[j];
      cls[j] = 0.0f;
    }
    for (int64_t ch = 1; ch < c; ++ch)
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) {
        const T y = vexp(xp[ch * hw + j] - m[j]) / s[j];
        const bool more = y > best[j];
        best[j] = more ? y : best[j];
        cls[j] = more ? static_cast<float>(ch) : cls[j];
      }
    float* o = out + i * len + j0;
    for (int64_t j = 0; j < n; ++j) o[j] = cls[j];
  }
}

template <class T>
void softmax_channels_backward(const T* y, const T* dy, T* dx, int64_t n, int64_t c, int64_t hw, bool accumulate) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < hw; ++i) {
      const int64_t o = b * c * hw + i;
      T dot = 0;
      for (int64_t ch = 0; ch < c; ++ch) dot += y[o + ch * hw] * dy[o + ch * hw];
      for (int64_t ch = 0; ch < c; ++ch) store(dx + o + ch * hw, y[o + ch * hw] * (dy[o + ch * hw] - dot), accumulate);
    }
}

// ---------------------------------------------------------------- dropout (counter-based RNG)

// A 64-bit mix (splitmix64's finaliser): the random stream is a pure function of (seed, index),
// so forward and backward agree without storing a mask, and any thread count gives the same bits.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// Uniform in [0, 1) with 24 random bits.
inline float uniform01(uint64_t seed, uint64_t index) {
  return static_cast<float>(mix64(seed ^ mix64(index + 0x9e3779b97f4a7c15ULL)) >> 40) * (1.0f / 16777216.0f);
}

// y = x * keep / (1 - p), keep = uniform >= p. backward: dx (+)= dy * keep / (1 - p).
template <class T>
void dropout_apply(const T* x, T* y, int64_t n, double p, uint64_t seed, bool accumulate) {
  const T scale = T(1.0 / (1.0 - p));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    T v = uniform01(seed, static_cast<uint64_t>(i)) >= static_cast<float>(p) ? x[i] * scale : T(0);
    y[i] = accumulate ? y[i] + v : v;
  }
}

// ---------------------------------------------------------------- losses

// Per-pixel weight: class weight of the label times the row (latitude) weight; 0 for ignored pixels.
template <class T>
inline double pixel_weight(int32_t label, int64_t row, const T* class_w, const T* row_w, int32_t ignore_index) {
  if (label == ignore_index) return 0.0;
  double wgt = class_w ? double(class_w[label]) : 1.0;
  return row_w ? wgt * double(row_w[row]) : wgt;
}

// Weighted cross-entropy over pixels of logits (N, C, H, W) and labels (N, H, W):
// loss = sum_i w_i * -log softmax(x_i)[y_i] / sum_i w_i, w_i = class_w[y_i] * row_w[row(i)], ignored
// pixels excluded — PyTorch's cross_entropy(weight=class_w, ignore_index, reduction='mean') when
// row_w is null. Returns the loss and writes the total weight to *wsum (for the backward).
// Labels outside [0, C) that are not the ignore index are reported by `bad_label`.
template <class T>
double cross_entropy_forward(const T* x, const int32_t* labels, int64_t n, int64_t c, int64_t h, int64_t w,
                             const T* class_w, const T* row_w, int32_t ignore_index, double* wsum, int64_t* bad_label) {
  const int64_t hw = h * w;
  double total = 0, wtotal = 0;
  int64_t bad = -1;
  // Per (sample, row) partial sums, combined in order: deterministic for any thread count.
#pragma omp parallel for schedule(static) reduction(max : bad) ordered
  for (int64_t r = 0; r < n * h; ++r) {
    const int64_t b = r / h, row = r % h;
    double part = 0, wpart = 0;
    for (int64_t c0 = 0; c0 < w; c0 += kLanes) {
      const int64_t len = std::min(kLanes, w - c0), i0 = row * w + c0;
      const T* xp = x + b * c * hw + i0;
      T m[kLanes], s[kLanes];
      channel_max_sum(xp, c, hw, len, m, s);
      for (int64_t j = 0; j < len; ++j) {
        const int32_t y = labels[b * hw + i0 + j];
        if (y == ignore_index) continue;
        if (y < 0 || y >= c) {
          bad = std::max(bad, b * hw + i0 + j);
          continue;
        }
        const double wi = pixel_weight(y, row, class_w, row_w, ignore_index);
        part += wi * (std::log(double(s[j])) - double(xp[y * hw + j] - m[j]));
        wpart += wi;
      }
    }
#pragma omp ordered
    {
      total += part;
      wtotal += wpart;
    }
  }
  *wsum = wtotal;
  *bad_label = bad;
  return wtotal > 0 ? total / wtotal : 0.0;
}
// dx (+)= dloss * w_i * (softmax(x_i) - onehot(y_i)) / wsum
template <class T>
void cross_entropy_backward(const T* x, const int32_t* labels, T* dx, int64_t n, int64_t c, int64_t h, int64_t w,
                            const T* class_w, const T* row_w, int32_t ignore_index, double wsum, double dloss,
                            bool accumulate) {
  const int64_t hw = h * w;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n * h; ++r) {
    const int64_t b = r / h, row = r % h;
    for (int64_t c0 = 0; c0 < w; c0 += kLanes) {
      const int64_t len = std::min(kLanes, w - c0), i0 = row * w + c0;
      const T* xp = x + b * c * hw + i0;
      T* dp = dx + b * c * hw + i0;
      T m[kLanes], s[kLanes], coef[kLanes];
      int32_t lab[kLanes];
      channel_max_sum(xp, c, hw, len, m, s);
      for (int64_t j = 0; j < len; ++j) {
        const int32_t y = labels[b * hw + i0 + j];
        const bool valid = y != ignore_index && y >= 0 && y < c && wsum > 0;
        coef[j] = valid ? T(pixel_weight(y, row, class_w, row_w, ignore_index) * dloss / wsum) : T(0);
        lab[j] = valid ? y : -1;
        s[j] = T(1) / s[j];
      }
      for (int64_t ch = 0; ch < c; ++ch)
#pragma omp simd
        for (int64_t j = 0; j < len; ++j) {
          const T p = vexp(xp[ch * hw + j] - m[j]) * s[j];
          const T g = coef[j] * (p - (lab[j] == ch ? T(1) : T(0)));
          dp[ch * hw + j] = accumulate ? dp[ch * hw + j] + g : g;
        }
    }
  }
}

// Soft Jaccard (IoU) and Dice losses on softmax(x) against one-hot labels, per class over all
// pixels (weights r_i = row_w[row], 0 where ignored):
//   I_c = sum r p_c t_c,  S_c = sum r (p_c + t_c)
//   jaccard = 1 - mean_c I_c / (S_c - I_c + eps),   dice = 1 - mean_c 2 I_c / (S_c + eps)
// `sums` (2C) receives I and S for the backward.
template <class T>
double overlap_forward(OverlapKind kind, const T* x, const int32_t* labels, int64_t n, int64_t c, int64_t h, int64_t w,
                       const T* row_w, int32_t ignore_index, double eps, double* sums, int64_t* bad_label) {
  const int64_t hw = h * w;
  std::fill(sums, sums + 2 * c, 0.0);
  int64_t bad = -1;
  // Serial over rows, each row's class sums added in order (C is small: a few classes).
  for (int64_t r = 0; r < n * h; ++r) {
    const int64_t b = r / h, row = r % h;
    double isum[64] = {}, ssum[64] = {};
    for (int64_t col = 0; col < w; ++col) {
      const int64_t i = row * w + col;
      const int32_t y = labels[b * hw + i];
      if (y == ignore_index) continue;
      if (y < 0 || y >= c) {
        bad = std::max(bad, b * hw + i);
        continue;
      }
      const double rw = row_w ? double(row_w[row]) : 1.0;
      const T* xp = x + b * c * hw + i;
      T m = xp[0];
      for (int64_t ch = 1; ch < c; ++ch) m = std::max(m, xp[ch * hw]);
      double s = 0;
      for (int64_t ch = 0; ch < c; ++ch) s += std::exp(double(xp[ch * hw] - m));
      for (int64_t ch = 0; ch < c; ++ch) {
        double p = std::exp(double(xp[ch * hw] - m)) / s;
        double t = ch == y ? 1.0 : 0.0;
        isum[ch] += rw * p * t;
        ssum[ch] += rw * (p + t);
      }
    }
    for (int64_t ch = 0; ch < c; ++ch) {
      sums[ch] += isum[ch];
      sums[c + ch] += ssum[ch];
    }
  }
  *bad_label = bad;
  double score = 0;
  for (int64_t ch = 0; ch < c; ++ch) {
    double in = sums[ch], s = sums[c + ch];
    score += kind == OverlapKind::jaccard ? in / (s - in + eps) : 2.0 * in / (s + eps);
  }
  return 1.0 - score / double(c);
}

template <class T>
void overlap_backward(OverlapKind kind, const T* x, const int32_t* labels, T* dx, int64_t n, int64_t c, int64_t h,
                      int64_t w, const T* row_w, int32_t ignore_index, double eps, const double* sums, double dloss,
                      bool accumulate) {
  const int64_t hw = h * w;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n * h; ++r) {
    const int64_t b = r / h, row = r % h;
    double dp[64];
    for (int64_t col = 0; col < w; ++col) {
      const int64_t i = row * w + col;
      const int32_t y = labels[b * hw + i];
      const T* xp = x + b * c * hw + i;
      T* dxp = dx + b * c * hw + i;
      if (y == ignore_index || y < 0 || y >= c) {
        for (int64_t ch = 0; ch < c; ++ch) store(dxp + ch * hw, T(0), accumulate);
        continue;
      }
      const double rw = row_w ? double(row_w[row]) : 1.0;
      T m = xp[0];
      for (int64_t ch = 1; ch < c; ++ch) m = std::max(m, xp[ch * hw]);
      double s = 0;
      for (int64_t ch = 0; ch < c; ++ch) s += std::exp(double(xp[ch * hw] - m));
      double p[64], dot = 0;
      for (int64_t ch = 0; ch < c; ++ch) {
        p[ch] = std::exp(double(xp[ch * hw] - m)) / s;
        const double t = ch == y ? 1.0 : 0.0, in = sums[ch], sc = sums[c + ch];
        double dscore;  // d(score_c)/d(p_c) at this pixel
        if (kind == OverlapKind::jaccard) {
          const double u = sc - in + eps;
          dscore = (rw * t * u - in * rw * (1.0 - t)) / (u * u);
        } else {
          const double d = sc + eps;
          dscore = (2.0 * rw * t * d - 2.0 * in * rw) / (d * d);
        }
        dp[ch] = -dloss * dscore / double(c);
        dot += p[ch] * dp[ch];
      }
      for (int64_t ch = 0; ch < c; ++ch) store(dxp + ch * hw, T(p[ch] * (dp[ch] - dot)), accumulate);
    }
  }
}

}  // namespace climseg::nn::ref (or isa_<level>::ref)
