// GEMM convolutions (private to src/nn/kernels): 1x1 convolutions as GEMM straight on the
// activations, everything else as implicit GEMM over packed im2col tiles sized for L2, padding done
// by index mapping while packing. The plan is built once per geometry (conv.cpp); the kernels that
// run it are compiled once per ISA level (conv_gemm_kernels.cpp). Every output element is computed
// by one thread in a fixed order: the results do not depend on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "nn/kernels/conv_common.hpp"

namespace climseg::nn {

// Microkernel shapes: forward C (8 x 48) over output channels x pixels; the gradients C (12 x 32)
// over im2col rows x output channels (weights) or im2col rows x pixels (input). The same at every
// ISA level, so that tiles and workspace do not depend on the level.
constexpr int kMrF = 8, kNvF = 3, kNrF = 16 * kNvF;
constexpr int kMrG = 12, kNvG = 2, kNrG = 16 * kNvG;
// Packed tiles aim at this many floats (256 KiB), to stay in L2 while the microkernel streams them.
constexpr int64_t kTileFloats = 64 * 1024;

struct GemmPlan {
  GemmPlan(const ConvGeom& g, int threads, bool pointwise, bool with_adjoint);

  ConvGeom g;
  bool pointwise;  // 1x1, stride 1, no padding: the activations are the GEMM operand
  int threads;
  PadMaps maps;
  int64_t k = 1, p = 1;            // GEMM reduction per group (Cin/g * KH * KW), output pixels per image
  int64_t tile_f = 0;              // forward: pixels per im2col tile
  int64_t tile_w = 0;              // weight gradient: pixels per tile (the reduction)
  int64_t tile_d = 0;              // input gradient: pixels per tile
  int64_t rows_w = 0, rows_d = 0;  // per-thread rows of the weight-gradient / input-gradient GEMMs
  int64_t ld_c = 0;                // padded Cout/g for the weight-gradient scratch
  int64_t ws_forward = 0, ws_weight = 0, ws_input = 0;
  int64_t ws_forward_bf16 = 0;  // the bf16 forward's workspace (GemmBf16Kernels)
  // The forward without im2col (direct: column stride 1, where a band fits; avx512 level only): each
  // thread copies a band of padded input rows, so that every im2col row of a pixel tile within one
  // output row is a contiguous run of the band, at offsets[k] from the tile's start.
  bool direct = false;
  int64_t band_rows = 0;         // output rows per band (the job)
  int64_t band_rs = 0;           // floats per band row: the padded columns the output row reads
  int64_t band_cs = 0;           // floats per input channel of a band
  std::vector<int32_t> offsets;  // per im2col row k: its first tap's offset in the band
  // Stride-1 "same" convolutions (zeros or circular): the input gradient is the forward conv of dy
  // with the flipped, transposed kernel; this is that conv (null: dx by col2im).
  std::unique_ptr<GemmPlan> adjoint;

  int64_t workspace_floats() const { return std::max({ws_forward, ws_weight, ws_input}); }
};

// The kernels of one ISA level. Workspaces hold plan.workspace_floats() floats.
struct GemmKernels {
  // y (+)= conv(x, w) (+ b: may be null), then the epilogue (may be null; conv.hpp).
  void (*forward)(const GemmPlan& plan, const float* x, const float* w, const float* b, float* y, bool accumulate,
                  float* ws, const ConvEpilogue* ep);
  // dx (+)= conv^T(dy): by the adjoint conv when the plan has one, else by col2im.
  void (*backward_input)(const GemmPlan& plan, const float* dy, const float* w, float* dx, bool accumulate, float* ws);
  // dw (+)= the weight gradient.
  void (*backward_weight)(const GemmPlan& plan, const float* x, const float* dy, float* dw, bool accumulate, float* ws);
};

// The bf16 forward (AVX512-BF16: bf16 inputs, fp32 sums), at the avx512 level on CPUs that have it.
struct GemmBf16Kernels {
  // y = conv(x, w) (+ b: may be null), x and w rounded to bf16, then the epilogue (may be null) as
  // the fp32 forward's. Workspace: plan.ws_forward_bf16 floats.
  void (*forward)(const GemmPlan& plan, const float* x, const float* w, const float* b, float* y, float* ws,
                  const ConvEpilogue* ep);
};

}  // namespace climseg::nn
