// Depthwise convolutions of any geometry by direct row loops (private to src/nn/kernels): a ring of
// padded input rows per thread, so every output column reads plain contiguous memory. The plan is
// built once per geometry (conv.cpp); the kernels are compiled once per ISA level
// (conv_depthwise_kernels.cpp). Each plane is computed by one thread, each weight-gradient sum in a
// fixed order: the results do not depend on the thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/kernels/conv_common.hpp"

namespace climseg::nn {

struct DepthwisePlan {
  DepthwisePlan(const ConvGeom& g, int threads);

  ConvGeom g;
  int threads;
  PadMaps maps;
  // Stride-1 "same" padding (zeros or circular): the adjoint is the same conv with the kernel
  // flipped in both axes.
  bool same = false;
  int64_t ahead = 2;                     // rows of prefetch distance
  int64_t span = 0, len = 0, slice = 0;  // ring rows (a power of two), padded row length, floats per thread
  std::vector<int32_t> pad_src;          // source column of each padding column (-1: zero)
  int64_t workspace_floats() const { return threads * slice; }
};

// Whether a geometry is depthwise (one input and one output channel per group, at most 64 taps).
inline bool is_depthwise(const ConvGeom& g) {
  return g.groups > 1 && g.groups == g.cin && g.cin == g.cout && g.kh * g.kw <= 64;
}

// The kernels of one ISA level. Workspaces hold plan.workspace_floats() floats.
struct DepthwiseKernels {
  // y = conv(x, w) + b (b may be null), then the epilogue (may be null; conv.hpp).
  void (*forward)(const DepthwisePlan& plan, const float* x, const float* w, const float* b, float* y, float* ws,
                  const ConvEpilogue* ep);
  // dx (+)= conv^T(dy).
  void (*backward_input)(const DepthwisePlan& plan, const float* dy, const float* w, float* dx, bool accumulate,
                         float* ws);
  // dw (+)= the weight gradient.
  void (*backward_weight)(const DepthwisePlan& plan, const float* x, const float* dy, float* dw, bool accumulate,
                          float* ws);
};

}  // namespace climseg::nn
