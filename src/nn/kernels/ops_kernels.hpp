// The non-convolution op kernels of one ISA level (private to src/nn): the float instantiations of
// ops_ref.hpp compiled for that level (ops_kernels.cpp, see kernel_set.hpp). ops.cpp runs every op
// through the table of the level active when the op was built. Signatures as in ops_ref.hpp.
#pragma once

#include <cstdint>

#include "nn/kernels/ops_ref.hpp"

namespace climseg::nn {

struct OpsKernels {
  using OverlapKind = ref::OverlapKind;
  void (*relu_forward)(const float* x, float* y, int64_t n);
  void (*relu_backward)(const float* y, const float* dy, float* dx, int64_t n, bool accumulate);
  void (*leaky_relu_forward)(const float* x, float* y, int64_t n, float slope);
  void (*leaky_relu_backward)(const float* x, const float* dy, float* dx, int64_t n, float slope, bool accumulate);
  void (*sigmoid_forward)(const float* x, float* y, int64_t n);
  void (*sigmoid_backward)(const float* y, const float* dy, float* dx, int64_t n, bool accumulate);
  void (*tanh_forward)(const float* x, float* y, int64_t n);
  void (*tanh_backward)(const float* y, const float* dy, float* dx, int64_t n, bool accumulate);
  void (*prelu_forward)(const float* x, const float* a, float* y, int64_t n, int64_t c, int64_t hw, int64_t na);
  void (*prelu_backward)(const float* x, const float* a, const float* dy, float* dx, float* da, int64_t n, int64_t c,
                         int64_t hw, int64_t na, bool accumulate_dx, bool accumulate_da);
  void (*bn_channel_sums_one)(const float* x, int64_t n, int64_t c, int64_t hw, int64_t ch, double* sum, double* sumsq);
  void (*bn_channel_sums)(const float* x, int64_t n, int64_t c, int64_t hw, double* sum, double* sumsq);
  void (*bn_apply_plane)(const float* xp, float* yp, int64_t hw, float sc, float sh, const float* al);
  void (*bn_apply)(const float* x, float* y, int64_t n, int64_t c, int64_t hw, const float* scale, const float* shift,
                   const float* a, int64_t na);
  void (*bn_backward_sums_one)(const float* x, const float* dy, int64_t n, int64_t c, int64_t hw, int64_t ch,
                               const float* mean, const float* invstd, const float* scale, const float* shift,
                               const float* a, int64_t na, double* sum_dz, double* sum_dz_xhat, double* da_sum);
  void (*bn_backward_sums)(const float* x, const float* dy, int64_t n, int64_t c, int64_t hw, const float* mean,
                           const float* invstd, const float* scale, const float* shift, const float* a, int64_t na,
                           double* sum_dz, double* sum_dz_xhat, double* da_sum);
  void (*bn_backward_apply_plane)(const float* xp, const float* dyp, float* dxp, int64_t hw, int64_t ch,
                                  const float* mean, const float* invstd, const float* gamma, const float* k1,
                                  const float* k2, const float* scale, const float* shift, const float* al,
                                  bool accumulate);
  void (*bn_backward_apply)(const float* x, const float* dy, float* dx, int64_t n, int64_t c, int64_t hw,
                            const float* mean, const float* invstd, const float* gamma, const float* k1,
                            const float* k2, const float* scale, const float* shift, const float* a, int64_t na,
                            bool accumulate);
  void (*max_pool2d_forward)(const float* x, float* y, int32_t* arg, int64_t n, int64_t c, int64_t h, int64_t w,
                             int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t oh,
                             int64_t ow);
  void (*max_pool2d_backward)(const float* dy, const int32_t* arg, float* dx, int64_t n, int64_t c, int64_t h,
                              int64_t w, int64_t oh, int64_t ow, bool accumulate);
  void (*avg_pool2d_forward)(const float* x, float* y, int64_t nc, int64_t h, int64_t w, int64_t k, int64_t oh,
                             int64_t ow, const int32_t* rmap, const int32_t* cmap, const float* cnt_r,
                             const float* cnt_c);
  void (*avg_pool2d_backward)(const float* dy, float* dx, int64_t nc, int64_t h, int64_t w, int64_t k, int64_t oh,
                              int64_t ow, const int32_t* rmap, const int32_t* cmap, const float* cnt_r,
                              const float* cnt_c, bool accumulate);
  void (*global_avg_pool_forward)(const float* x, float* y, int64_t nc, int64_t hw);
  void (*global_avg_pool_backward)(const float* dy, float* dx, int64_t nc, int64_t hw, bool accumulate);
  void (*linear_forward)(const float* x, const float* wt, const float* b, float* y, int64_t n, int64_t in, int64_t out);
  void (*linear_backward)(const float* x, const float* wt, const float* dy, float* dx, float* dw, float* db, int64_t n,
                          int64_t in, int64_t out, bool acc_dx, bool acc_dw, bool acc_db);
  void (*upsample_bilinear_forward)(const float* x, float* y, int64_t nc, int64_t h, int64_t w, int64_t oh, int64_t ow,
                                    bool align_corners, int32_t* taps_i, float* taps_w);
  void (*upsample_bilinear_backward)(const float* dy, float* dx, int64_t nc, int64_t h, int64_t w, int64_t oh,
                                     int64_t ow, bool align_corners, bool accumulate);
  void (*upsample_nearest_forward)(const float* x, float* y, int64_t nc, int64_t h, int64_t w, int64_t oh, int64_t ow);
  void (*upsample_nearest_backward)(const float* dy, float* dx, int64_t nc, int64_t h, int64_t w, int64_t oh,
                                    int64_t ow, bool accumulate);
  void (*copy_channels)(const float* src, int64_t src_c, int64_t src_c0, float* dst, int64_t dst_c, int64_t dst_c0,
                        int64_t n, int64_t c, int64_t hw, bool accumulate);
  void (*add_forward)(const float* a, const float* b, float* y, int64_t n);
  void (*axpy_grad)(const float* dy, float* dx, int64_t n, float scale, bool accumulate);
  void (*mul_forward)(const float* a, const float* b, float* y, int64_t n);
  void (*mul_backward)(const float* dy, const float* b, float* da, int64_t n, bool accumulate);
  void (*scale_channels_forward)(const float* x, const float* g, float* y, int64_t nc, int64_t hw);
  // y = a + x * g per channel, in one pass: add(a, scale_channels(x, g)) bit for bit (an inference
  // graph's folded gate, Graph::set_fusion).
  void (*add_scaled_channels_forward)(const float* a, const float* x, const float* g, float* y, int64_t nc, int64_t hw);
  void (*scale_channels_backward)(const float* x, const float* g, const float* dy, float* dx, float* dg, int64_t nc,
                                  int64_t hw, bool acc_dx, bool acc_dg);
  void (*bias_grad)(const float* dy, int64_t n, int64_t c, int64_t hw, float* db, bool accumulate, int threads);
  void (*softmax_channels_forward)(const float* x, float* y, int64_t n, int64_t c, int64_t hw);
  void (*softmax_argmax_channels)(const float* x, int64_t c, int64_t hw, int64_t rows, int64_t stride, int64_t len,
                                  float* out);
  void (*softmax_channels_backward)(const float* y, const float* dy, float* dx, int64_t n, int64_t c, int64_t hw,
                                    bool accumulate);
  void (*dropout_apply)(const float* x, float* y, int64_t n, double p, uint64_t seed, bool accumulate);
  double (*cross_entropy_forward)(const float* x, const int32_t* labels, int64_t n, int64_t c, int64_t h, int64_t w,
                                  const float* class_w, const float* row_w, int32_t ignore_index, double* wsum,
                                  int64_t* bad_label);
  void (*cross_entropy_backward)(const float* x, const int32_t* labels, float* dx, int64_t n, int64_t c, int64_t h,
                                 int64_t w, const float* class_w, const float* row_w, int32_t ignore_index, double wsum,
                                 double dloss, bool accumulate);
  double (*overlap_forward)(OverlapKind kind, const float* x, const int32_t* labels, int64_t n, int64_t c, int64_t h,
                            int64_t w, const float* row_w, int32_t ignore_index, double eps, double* sums,
                            int64_t* bad_label);
  void (*overlap_backward)(OverlapKind kind, const float* x, const int32_t* labels, float* dx, int64_t n, int64_t c,
                           int64_t h, int64_t w, const float* row_w, int32_t ignore_index, double eps,
                           const double* sums, double dloss, bool accumulate);
};

}  // namespace climseg::nn
