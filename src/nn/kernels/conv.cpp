// Fast float conv2d: the choice of algorithm per geometry and the one dispatch of every call to the
// chosen algorithm's kernels at the planned ISA level.
#include "nn/kernels/conv.hpp"

#include <omp.h>

#include <algorithm>

#include "core/error.hpp"
#include "nn/kernels/conv_depthwise.hpp"
#include "nn/kernels/conv_gemm.hpp"
#include "nn/kernels/conv_rowgroups.hpp"
#include "nn/kernels/kernel_set.hpp"
#include "nn/kernels/ops_kernels.hpp"

namespace climseg::nn {

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

PadMaps::PadMaps(const ConvGeom& g) : oh(g.oh()), ow(g.ow()) {
  interior_lo.resize(static_cast<size_t>(g.kw));
  interior_hi.resize(static_cast<size_t>(g.kw));
  for (int64_t kx = 0; kx < g.kw; ++kx) {
    const int64_t off = kx * g.dw - g.pad.w;  // ix = ox * sw + off
    const int64_t l = std::clamp<int64_t>(ceil_div(-off, g.sw), 0, ow);
    interior_lo[static_cast<size_t>(kx)] = l;
    interior_hi[static_cast<size_t>(kx)] = std::clamp<int64_t>(ceil_div(g.w - off, g.sw), l, ow);
  }
  col_map.resize(static_cast<size_t>(g.kw * ow));
  row_map.resize(static_cast<size_t>(g.kh * oh));
  for (int64_t kx = 0; kx < g.kw; ++kx)
    for (int64_t ox = 0; ox < ow; ++ox)
      col_map[static_cast<size_t>(kx * ow + ox)] =
          static_cast<int32_t>(pad_index(ox * g.sw - g.pad.w + kx * g.dw, g.w, g.pad.cols));
  for (int64_t ky = 0; ky < g.kh; ++ky)
    for (int64_t oy = 0; oy < oh; ++oy)
      row_map[static_cast<size_t>(ky * oh + oy)] =
          static_cast<int32_t>(pad_index(oy * g.sh - g.pad.h + ky * g.dh, g.h, g.pad.rows));
}

ConvKernel::~ConvKernel() = default;

ConvKernel::ConvKernel(const ConvGeom& g, int threads, Isa isa, Precision precision)
    : g_(g), k_(&kernel_set(isa)), precision_(precision), threads_(threads > 0 ? threads : omp_get_max_threads()) {
  check_conv_geom(g, "conv2d");
  if (precision == Precision::bf16 && (!k_->gemm_bf16 || !cpu_has_avx512_bf16()))
    fail_usage("bf16 convolutions need AVX512-BF16 and the avx512 kernels (this CPU: {}, kernels: {}); use fp32",
               isa_description(cpu_isa()), isa_name(isa));
  if (is_depthwise(g)) {
    algo_ = Algo::depthwise;
    precision_ = Precision::fp32;  // the depthwise kernels have no bf16 form (memory-bound)
    dw_ = std::make_unique<DepthwisePlan>(g, threads_);
    workspace_ = dw_->workspace_floats();
    if (k_->rowgroups) rows_ = RowGroupPlan::make(g, threads_, dw_->ahead);
    if (rows_) workspace_ = std::max(workspace_, rows_->workspace_floats());
    return;
  }
  const bool pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pad.h == 0 && g.pad.w == 0;
  algo_ = pointwise ? Algo::gemm1x1 : Algo::im2col;
  gemm_ = std::make_unique<GemmPlan>(g, threads_, pointwise, true);
  workspace_ = gemm_->workspace_floats();
  if (precision_ == Precision::bf16) workspace_ = std::max(workspace_, gemm_->ws_forward_bf16);
}

Isa ConvKernel::isa() const { return k_->isa; }

std::string ConvKernel::algo_name() const {
  switch (algo_) {
    case Algo::gemm1x1:
      return precision_ == Precision::bf16 ? "gemm1x1 bf16" : "gemm1x1";
    case Algo::im2col:
      return std::string(precision_ == Precision::bf16             ? "im2col-gemm bf16"
                         : gemm_->direct && k_->isa == Isa::avx512 ? "direct-gemm"
                                                                   : "im2col-gemm") +
             (gemm_->adjoint ? ", dx by adjoint conv" : ", dx by col2im");
    case Algo::depthwise:
      return rows_ ? "depthwise-rowgroups" : "depthwise-direct";
  }
  return "?";
}

void ConvKernel::forward(const float* x, const float* w, const float* b, float* y, float* ws,
                         const ConvEpilogue* ep) const {
  if (rows_) return k_->rowgroups->forward(*rows_, x, w, b, y, ep);
  if (dw_) return k_->depthwise->forward(*dw_, x, w, b, y, ws, ep);
  if (precision_ == Precision::bf16) return k_->gemm_bf16->forward(*gemm_, x, w, b, y, ws, ep);
  k_->gemm->forward(*gemm_, x, w, b, y, false, ws, ep);
}

void ConvKernel::backward_input(const float* dy, const float* w, float* dx, bool accumulate, float* ws) const {
  if (rows_ && rows_->same) return k_->rowgroups->backward_input(*rows_, dy, w, dx, accumulate);
  if (dw_) return k_->depthwise->backward_input(*dw_, dy, w, dx, accumulate, ws);
  k_->gemm->backward_input(*gemm_, dy, w, dx, accumulate, ws);
}

void ConvKernel::backward(const float* x, const float* dy, const float* w, float* dx, bool accumulate_x, float* dw,
                          bool accumulate_w, float* db, bool accumulate_b, float* ws) const {
  if (rows_ && rows_->same && dx && dw) {
    // One sweep per plane for both gradients (the bias gradient first: the sweep's sums use ws).
    if (db) backward_weight(x, dy, nullptr, false, db, accumulate_b, ws);
    return k_->rowgroups->backward(*rows_, x, dy, w, dx, accumulate_x, dw, accumulate_w, ws);
  }
  if (dw || db) backward_weight(x, dy, dw, accumulate_w, db, accumulate_b, ws);
  if (dx) backward_input(dy, w, dx, accumulate_x, ws);
}

void ConvKernel::backward_weight(const float* x, const float* dy, float* dw, bool accumulate, float* db,
                                 bool accumulate_b, float* ws) const {
  if (db) k_->ops->bias_grad(dy, g_.n, g_.cout, g_.oh() * g_.ow(), db, accumulate_b, threads_);
  if (dw == nullptr) return;
  if (rows_) return k_->rowgroups->backward_weight(*rows_, x, dy, dw, accumulate);
  if (dw_) return k_->depthwise->backward_weight(*dw_, x, dy, dw, accumulate, ws);
  k_->gemm->backward_weight(*gemm_, x, dy, dw, accumulate, ws);
}

}  // namespace climseg::nn
