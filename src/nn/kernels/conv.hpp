// The fast float conv2d. Chosen once per geometry: 1x1 convolutions as GEMM straight on the
// activations, depthwise as direct row loops (3x3 "same" ones by row groups on AVX-512), everything
// else as implicit GEMM over packed im2col tiles sized for L2, with padding done by index mapping
// while packing — never by copying a padded tensor. The GEMMs run on a register-blocked
// microkernel inside one OpenMP region per call, each output element computed by one thread in a
// fixed order: the results do not depend on the thread count. Each algorithm keeps its plan in its
// own private header (conv_gemm.hpp, conv_depthwise.hpp, conv_rowgroups.hpp); the kernels that run
// it are those of one instruction-set level (kernel_set.hpp), fixed when the kernel is planned.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/isa.hpp"
#include "nn/kernels/conv_ref.hpp"
#include "nn/precision.hpp"

namespace climseg::nn {

struct GemmPlan;
struct DepthwisePlan;
struct RowGroupPlan;
struct KernelSet;

class ConvKernel {
 public:
  enum class Algo { gemm1x1, im2col, depthwise };

  // Plans for `threads` OpenMP threads (<= 0: the current count) and the kernels of level `isa`
  // (which this build must have and this CPU run); buffers of index tables are built here so that
  // running allocates nothing. Precision::bf16 makes the forward of the GEMM convolutions (1x1 and
  // im2col) take bf16 inputs with fp32 sums (AVX512-BF16, avx512 level; UsageError elsewhere);
  // depthwise convolutions and every backward stay fp32.
  explicit ConvKernel(const ConvGeom& g, int threads = 0, Isa isa = active_isa(),
                      Precision precision = Precision::fp32);
  ~ConvKernel();
  ConvKernel(const ConvKernel&) = delete;
  ConvKernel& operator=(const ConvKernel&) = delete;

  const ConvGeom& geom() const { return g_; }
  Algo algo() const { return algo_; }
  Isa isa() const;
  Precision precision() const { return precision_; }
  std::string algo_name() const;
  // Scratch floats the calls below need (one buffer, reused by every call).
  int64_t workspace_floats() const { return workspace_; }

  // y (N, Cout, OH, OW) = conv(x (N, Cin, H, W), w (Cout, Cin/g, KH, KW)) + b (Cout, may be null),
  // then the epilogue if one is given (fp32 only).
  void forward(const float* x, const float* w, const float* b, float* y, float* ws,
               const ConvEpilogue* ep = nullptr) const;
  // dx (+)= conv^T(dy).
  void backward_input(const float* dy, const float* w, float* dx, bool accumulate, float* ws) const;
  // All the gradients wanted (dx, dw, db: each may be null), each with its own accumulate flag: the
  // same results as backward_weight and backward_input, and for the 3x3 "same" depthwise of the row
  // groups one sweep over x and dy instead of two.
  void backward(const float* x, const float* dy, const float* w, float* dx, bool accumulate_x, float* dw,
                bool accumulate_w, float* db, bool accumulate_b, float* ws) const;
  // dw (+)= and db (+)= (either may be null), each with its own accumulate flag.
  void backward_weight(const float* x, const float* dy, float* dw, bool accumulate_w, float* db, bool accumulate_b,
                       float* ws) const;

 private:
  ConvGeom g_;
  Algo algo_ = Algo::im2col;
  const KernelSet* k_;
  Precision precision_ = Precision::fp32;
  int threads_ = 1;
  int64_t workspace_ = 0;
  // The plan of the chosen algorithm (depthwise: the ring's, and the row groups' where they apply).
  std::unique_ptr<GemmPlan> gemm_;
  std::unique_ptr<DepthwisePlan> dw_;
  std::unique_ptr<RowGroupPlan> rows_;
};

}  // namespace climseg::nn
