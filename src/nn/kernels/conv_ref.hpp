// Reference 2-D convolution kernels on plain buffers, templated on the scalar type: the double
// instantiation is checked by finite differences, the float one is the yardstick of the fast paths.
#pragma once

#include <cstdint>

#include "nn/padding.hpp"

namespace climseg::nn {

// The geometry of one conv2d: input (N, Cin, H, W), weight (Cout, Cin/groups, KH, KW),
// output (N, Cout, OH, OW). Padding is applied by index mapping (see padding.hpp).
struct ConvGeom {
  int64_t n = 1, cin = 1, h = 1, w = 1;
  int64_t cout = 1, kh = 1, kw = 1;
  int64_t sh = 1, sw = 1;  // stride
  int64_t dh = 1, dw = 1;  // dilation
  int64_t groups = 1;
  Padding pad;
  int64_t oh() const { return (h + 2 * pad.h - dh * (kh - 1) - 1) / sh + 1; }
  int64_t ow() const { return (w + 2 * pad.w - dw * (kw - 1) - 1) / sw + 1; }
  int64_t cin_g() const { return cin / groups; }
  int64_t cout_g() const { return cout / groups; }
  double flops() const { return 2.0 * n * cout * oh() * ow() * cin_g() * kh * kw; }  // forward
};

// What an inference graph folds into a convolution's forward (graph.hpp, Graph::set_fusion): where
// the output goes and the eval-mode BatchNorm (+ PReLU) that follows it, y = prelu(y * scale[c] +
// shift[c]), applied to each output tile right after it is computed (still in cache) by the very
// kernel the BatchNorm op runs (OpsKernels::bn_apply_plane): the results are bit for bit those of
// the two ops apart.
struct ConvEpilogue {
  int64_t image_stride = 0;      // floats between the images of y (0: dense, Cout*OH*OW)
  const float* scale = nullptr;  // per output channel (null: no affine, no PReLU)
  const float* shift = nullptr;
  const float* alpha = nullptr;  // PReLU slope: alpha[0] (na == 1) or alpha[c] (null: no PReLU)
  int64_t na = 1;

  // Channel c's affine and PReLU on n values of its plane, in place, with `ops`' BatchNorm kernel
  // (the kernels of the caller's instruction-set level).
  template <class Ops>
  void apply(const Ops& ops, float* plane, int64_t n, int64_t c) const {
    ops.bn_apply_plane(plane, plane, n, scale[c], shift[c], alpha ? alpha + (na == 1 ? 0 : c) : nullptr);
  }
};
// Floats between the images of y under `ep` (may be null): its stride, or `dense` (Cout*OH*OW).
inline int64_t epilogue_image(const ConvEpilogue* ep, int64_t dense) {
  return ep != nullptr && ep->image_stride > 0 ? ep->image_stride : dense;
}
// Whether `ep` (may be null) applies a folded norm.
inline bool epilogue_affine(const ConvEpilogue* ep) { return ep != nullptr && ep->scale != nullptr; }

// Throws Error naming `what` when the geometry is impossible (channels not divisible by groups,
// empty output, reflect padding as large as the axis).
void check_conv_geom(const ConvGeom& g, const char* what);

namespace ref {

// y (N, Cout, OH, OW) = conv(x, w) + b; b may be null.
template <class T>
void conv2d_forward(const ConvGeom& g, const T* x, const T* w, const T* b, T* y) {
  const int64_t oh = g.oh(), ow = g.ow(), cig = g.cin_g(), cog = g.cout_g();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t co = 0; co < g.cout; ++co) {
      const int64_t grp = co / cog;
      T* yp = y + (n * g.cout + co) * oh * ow;
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          T acc = b ? b[co] : T(0);
          for (int64_t ci = 0; ci < cig; ++ci) {
            const T* xp = x + (n * g.cin + grp * cig + ci) * g.h * g.w;
            const T* wp = w + (co * cig + ci) * g.kh * g.kw;
            for (int64_t ky = 0; ky < g.kh; ++ky) {
              int64_t iy = pad_index(oy * g.sh - g.pad.h + ky * g.dh, g.h, g.pad.rows);
              if (iy < 0) continue;
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                int64_t ix = pad_index(ox * g.sw - g.pad.w + kx * g.dw, g.w, g.pad.cols);
                if (ix < 0) continue;
                acc += xp[iy * g.w + ix] * wp[ky * g.kw + kx];
              }
            }
          }
          yp[oy * ow + ox] = acc;
        }
    }
}

// dx (N, Cin, H, W) (+)= conv2d backward with respect to the input. Scatter form, so every padding
// mode (including taps that wrap onto the same pixel several times) is exact.
template <class T>
void conv2d_backward_input(const ConvGeom& g, const T* dy, const T* w, T* dx, bool accumulate) {
  const int64_t oh = g.oh(), ow = g.ow(), cig = g.cin_g(), cog = g.cout_g();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      T* dxn = dx + (n * g.cin + grp * cig) * g.h * g.w;
      if (!accumulate)
        for (int64_t i = 0; i < cig * g.h * g.w; ++i) dxn[i] = T(0);
      for (int64_t col = 0; col < cog; ++col) {
        const int64_t co = grp * cog + col;
        const T* dyp = dy + (n * g.cout + co) * oh * ow;
        for (int64_t oy = 0; oy < oh; ++oy)
          for (int64_t ox = 0; ox < ow; ++ox) {
            const T d = dyp[oy * ow + ox];
            for (int64_t ci = 0; ci < cig; ++ci) {
              T* dxp = dxn + ci * g.h * g.w;
              const T* wp = w + (co * cig + ci) * g.kh * g.kw;
              for (int64_t ky = 0; ky < g.kh; ++ky) {
                int64_t iy = pad_index(oy * g.sh - g.pad.h + ky * g.dh, g.h, g.pad.rows);
                if (iy < 0) continue;
                for (int64_t kx = 0; kx < g.kw; ++kx) {
                  int64_t ix = pad_index(ox * g.sw - g.pad.w + kx * g.dw, g.w, g.pad.cols);
                  if (ix < 0) continue;
                  dxp[iy * g.w + ix] += d * wp[ky * g.kw + kx];
                }
              }
            }
          }
      }
    }
}

// dw (Cout, Cin/groups, KH, KW) (+)= and db (Cout) (+)= (db may be null).
template <class T>
void conv2d_backward_weight(const ConvGeom& g, const T* x, const T* dy, T* dw, T* db, bool accumulate) {
  const int64_t oh = g.oh(), ow = g.ow(), cig = g.cin_g(), cog = g.cout_g();
#pragma omp parallel for schedule(static)
  for (int64_t co = 0; co < g.cout; ++co) {
    const int64_t grp = co / cog;
    if (db) {
      T s = accumulate ? db[co] : T(0);
      for (int64_t n = 0; n < g.n; ++n) {
        const T* dyp = dy + (n * g.cout + co) * oh * ow;
        for (int64_t i = 0; i < oh * ow; ++i) s += dyp[i];
      }
      db[co] = s;
    }
    for (int64_t ci = 0; ci < cig; ++ci)
      for (int64_t ky = 0; ky < g.kh; ++ky)
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          T* dwp = dw + ((co * cig + ci) * g.kh + ky) * g.kw + kx;
          T s = accumulate ? *dwp : T(0);
          for (int64_t n = 0; n < g.n; ++n) {
            const T* xp = x + (n * g.cin + grp * cig + ci) * g.h * g.w;
            const T* dyp = dy + (n * g.cout + co) * oh * ow;
            for (int64_t oy = 0; oy < oh; ++oy) {
              int64_t iy = pad_index(oy * g.sh - g.pad.h + ky * g.dh, g.h, g.pad.rows);
              if (iy < 0) continue;
              for (int64_t ox = 0; ox < ow; ++ox) {
                int64_t ix = pad_index(ox * g.sw - g.pad.w + kx * g.dw, g.w, g.pad.cols);
                if (ix < 0) continue;
                s += xp[iy * g.w + ix] * dyp[oy * ow + ox];
              }
            }
          }
          *dwp = s;
        }
  }
}

}  // namespace ref
}  // namespace climseg::nn
