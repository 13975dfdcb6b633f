// The ops a network is written with: each call checks shapes, adds one node (forward + backward
// kernels) to the Values' graph and returns its output. Layouts are PyTorch's: activations NCHW,
// conv weights OIHW, linear weights (out, in). Padding happens inside the kernels.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/graph.hpp"
#include "nn/padding.hpp"

namespace climseg::nn {

struct Conv2dOptions {
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
  Padding padding;  // amounts and modes (zeros, circular, spherical); see padding.hpp

  Conv2dOptions& stride(int64_t s) { return stride_h = stride_w = s, *this; }
  Conv2dOptions& dilation(int64_t d) { return dilation_h = dilation_w = d, *this; }
  Conv2dOptions& group_count(int64_t g) { return groups = g, *this; }
  Conv2dOptions& pad(Padding p) { return padding = p, *this; }
};

// x (N, Cin, H, W), w (Cout, Cin/groups, KH, KW), b (Cout) or none -> (N, Cout, OH, OW).
Value conv2d(Value x, Value w, Value b = {}, const Conv2dOptions& o = {});

struct ConvTranspose2dOptions {
  int64_t stride = 1, padding = 0, output_padding = 0, dilation = 1, groups = 1;
};
// x (N, Cin, H, W), w (Cin, Cout/groups, KH, KW), b (Cout) -> (N, Cout, (H-1)s - 2p + d(K-1) + op + 1, ...).
Value conv_transpose2d(Value x, Value w, Value b = {}, const ConvTranspose2dOptions& o = {});

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;  // running = (1 - momentum) * running + momentum * batch (unbiased variance)
  // Batch statistics (and running-stat updates) in train graphs, running statistics in eval graphs,
  // unless frozen: then running statistics everywhere (e.g. fine-tuning with small batches).
  bool frozen = false;
};
// x (N, C, H, W); gamma, beta (C); running_mean, running_var: buffers (C).
Value batch_norm2d(Value x, Value gamma, Value beta, Param& running_mean, Param& running_var,
                   const BatchNormOptions& o = {});
// BatchNorm followed by PReLU (alpha (C) or (1)) in one pass forward and one backward; the
// normalised value is recomputed in backward instead of stored.
Value batch_norm_prelu(Value x, Value gamma, Value beta, Value alpha, Param& running_mean, Param& running_var,
                       const BatchNormOptions& o = {});

Value relu(Value x);
Value leaky_relu(Value x, double negative_slope = 0.01);
Value prelu(Value x, Value alpha);  // alpha (C) per channel of (N, C, ...) or (1)
Value sigmoid(Value x);
Value tanh(Value x);

// Zero-padded ("-inf") max pooling as torch.nn.functional.max_pool2d (dilation 1, floor mode).
Value max_pool2d(Value x, int64_t kernel, int64_t stride, int64_t padding = 0);
// Average pooling with any padding mode; with zeros, count_include_pad as PyTorch's.
Value avg_pool2d(Value x, int64_t kernel, int64_t stride, Padding padding = {}, bool count_include_pad = true);
// (N, C, H, W) -> (N, C)
Value global_avg_pool(Value x);

// x (N, in), w (out, in), b (out) -> (N, out)
Value linear(Value x, Value w, Value b = {});

// -> (N, C, out_h, out_w), PyTorch's interpolate(mode='bilinear', align_corners) / mode='nearest'.
Value upsample_bilinear(Value x, int64_t out_h, int64_t out_w, bool align_corners = false);
Value upsample_nearest(Value x, int64_t out_h, int64_t out_w);

Value concat(const std::vector<Value>& xs);  // along channels (dim 1)
Value add(Value a, Value b);                 // same shapes
Value mul(Value a, Value b);                 // same shapes
Value scale(Value x, double factor);         // x * factor
Value scale_channels(Value x, Value gate);   // x (N, C, H, W) * gate (N, C)
Value dropout(Value x, double p);            // identity in eval graphs
Value softmax(Value x);                      // over channels (dim 1)
Value reshape(Value x, Shape shape);         // no copy

// The most probable class of each pixel of one sample's logits x (c, hw), ties to the lower class:
// the argmax of softmax(x) as the softmax op computes it (same kernels, same bits), without writing
// the probabilities (the memory pass and the storage a mask alone does not need). For `rows` rows
// of `len` pixels starting every `stride` pixels (the unpadded corner of a padded plane), into out
// (rows * len) as float class indices, on the compute threads (core/threads.hpp).
void softmax_argmax(const float* x, int64_t c, int64_t hw, int64_t rows, int64_t stride, int64_t len, float* out);

// Per-pixel losses of logits (N, C, H, W) against labels (N, H, W) (int32, see Graph::input_labels).
// class_weights (C) and row_weights (H, e.g. cos(latitude)) are optional (empty = all ones);
// pixels labelled ignore_index count for nothing.
struct LossOptions {
  std::vector<float> class_weights;
  std::vector<float> row_weights;
  int32_t ignore_index = -100;
  double eps = 1e-7;  // Jaccard/Dice denominators
};
// sum_i w_i * -log softmax(x_i)[y_i] / sum_i w_i with w_i = class_weights[y_i] * row_weights[row]:
// exactly F.cross_entropy(weight=class_weights, ignore_index=..., reduction='mean') without row weights.
Value cross_entropy(Value logits, Value labels, const LossOptions& o = {});
// 1 - mean_c I_c / (S_c - I_c + eps), I_c = sum r p_c t_c, S_c = sum r (p_c + t_c), p = softmax(logits).
Value jaccard_loss(Value logits, Value labels, const LossOptions& o = {});
// 1 - mean_c 2 I_c / (S_c + eps).
Value dice_loss(Value logits, Value labels, const LossOptions& o = {});

}  // namespace climseg::nn
