// 3x3 "same" depthwise convolutions with stride 1 by row groups (CGNet's local and surround
// branches; private to src/nn/kernels), on AVX-512 only. Output rows are computed R at a time,
// spaced by the dilation d (rows oy, oy+d, ..., oy+(R-1)d), so the R+2 input rows they read are
// loaded once for all of them: 3(R+2)/R loads per output vector instead of 9 (3.75 with the
// forward's R = 8), against 9 FMAs. The -d and +d taps are permuted out of the aligned vectors
// around them rather than loaded unaligned: on Zen 4 a 64-byte load that straddles two cache lines
// costs at least two load slots, and two taps of three straddled (permuting measured 1.1-1.3x
// faster even with R = 8, where the loads alone would not bind). Rows are read straight from the
// plane (no padded copy): a row outside the plane is a row of zeros or another row (the padding
// map); the few vectors whose taps cross the row's ends build those taps from the row's first and
// last 16 columns with one two-table permute (circular: wrapped lanes; zeros: masked lanes). The
// backward computes dx and the weight sums in one sweep over dy. The plan is built once per
// geometry (conv.cpp); the kernels are compiled at the avx512 level (conv_rowgroups_kernels.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/kernels/conv_common.hpp"

namespace climseg::nn {

struct RowGroupPlan {
  // R: rows per group, forward (NV = 1 vector per block beyond 4 rows: the accumulators fill the
  // registers) and backward (its accumulators are R for dx, R of x and nine weight sums).
  enum : int { kRowsForward = 8, kRowsBackward = 4 };

  // The plan for g, or null when the geometry does not fit (not 3x3 "same" with stride 1, reflected
  // columns, rows narrower than 16).
  static std::unique_ptr<RowGroupPlan> make(const ConvGeom& g, int threads, int64_t ahead);

  ConvGeom g;
  int threads = 1;
  int64_t ahead = 2;            // rows of prefetch distance
  bool same = false;            // rows not reflected: dx by the flipped kernel, both gradients in one sweep
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

  // The one-sweep backward keeps each plane's nine weight sums (doubles).
  int64_t workspace_floats() const { return same ? 2 * 9 * g.n * g.cin : 0; }
};

// The kernels (AVX-512 only: levels below have none). Workspaces hold plan.workspace_floats() floats.
struct RowGroupKernels {
  // y = conv(x, w) + b (b may be null), then the epilogue (may be null; conv.hpp).
  void (*forward)(const RowGroupPlan& plan, const float* x, const float* w, const float* b, float* y,
                  const ConvEpilogue* ep);
  // dx (+)= conv^T(dy) as the conv of dy with the flipped kernel (plan.same only).
  void (*backward_input)(const RowGroupPlan& plan, const float* dy, const float* w, float* dx, bool accumulate);
  // dw (+)= the weight gradient.
  void (*backward_weight)(const RowGroupPlan& plan, const float* x, const float* dy, float* dw, bool accumulate);
  // Both in one sweep over x and dy (plan.same only).
  void (*backward)(const RowGroupPlan& plan, const float* x, const float* dy, const float* w, float* dx,
                   bool accumulate_x, float* dw, bool accumulate_w, float* ws);
};

}  // namespace climseg::nn
