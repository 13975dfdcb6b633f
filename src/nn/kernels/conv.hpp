// The fast float conv2d: picks an algorithm per geometry once (1x1 straight to GEMM, depthwise as
// direct row loops, everything else as packed im2col tiles feeding GEMM), with padding done by
// index mapping while packing — never by copying a padded tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/kernels/conv_ref.hpp"

namespace climseg::nn {

class ConvKernel {
 public:
  enum class Algo { gemm1x1, im2col, depthwise };

  // Plans for `threads` OpenMP threads (<= 0: the current count); index tables are built here so
  // that running allocates nothing.
  explicit ConvKernel(const ConvGeom& g, int threads = 0);

  const ConvGeom& geom() const { return g_; }
  Algo algo() const { return algo_; }
  const char* algo_name() const;
  // Scratch floats the calls below need (one buffer, reused by every call).
  int64_t workspace_floats() const { return workspace_; }

  // y (N, Cout, OH, OW) = conv(x (N, Cin, H, W), w (Cout, Cin/g, KH, KW)) + b (Cout, may be null).
  void forward(const float* x, const float* w, const float* b, float* y, float* ws) const;
  // dx (+)= conv^T(dy).
  void backward_input(const float* dy, const float* w, float* dx, bool accumulate, float* ws) const;
  // dw (+)= and db (+)= (either may be null), each with its own accumulate flag.
  void backward_weight(const float* x, const float* dy, float* dw, bool accumulate_w, float* db, bool accumulate_b,
                       float* ws) const;

 private:
  void pack_cols(const float* xg, int64_t p0, int64_t p1, float* col) const;
  void unpack_cols(const float* col, int64_t p0, int64_t p1, float* dxg) const;
  void dw_forward_plane(const float* x, const float* w, float bias, float* y, float* row) const;
  void dw_backward_input_plane(const float* dy, const float* w, float* dx, float* row) const;
  void dw_backward_weight_channel(const float* x, const float* dy, int64_t c, float* dw, float* row,
                                  bool accumulate) const;

  ConvGeom g_;
  Algo algo_ = Algo::im2col;
  int threads_ = 1;
  int64_t tile_ = 0;       // output pixels per im2col tile
  int64_t workspace_ = 0;  // floats
  int64_t row_len_ = 0;    // padded row length (depthwise)
  // For each kernel column kx: output columns [lo, hi) whose input column needs no mapping.
  std::vector<int64_t> interior_lo_, interior_hi_;
};

}  // namespace climseg::nn
