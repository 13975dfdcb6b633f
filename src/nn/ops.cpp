// Op nodes: shape checks at build time, then forward/backward through the kernels.
#include "nn/ops.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "core/error.hpp"
#include "nn/kernels/conv.hpp"
#include "nn/kernels/kernel_set.hpp"
#include "nn/kernels/ops_kernels.hpp"
#include "nn/kernels/ops_ref.hpp"

namespace climseg::nn {
namespace {

void require_rank(Value x, int rank, const char* op, const char* what = "input") {
  if (static_cast<int>(x.shape().size()) != rank)
    fail("{}: {} '{}' must have {} dimensions, got {}", op, what, x.name(), rank, shape_str(x.shape()));
  if (x.dtype() != DType::f32) fail("{}: {} '{}' must be float", op, what, x.name());
}

void require_same_graph(Value a, Value b, const char* op) {
  if (!a.valid() || !b.valid() || &a.graph() != &b.graph()) fail("{}: values from different graphs", op);
}

// An op that runs kernels: those of the ISA level active when it was built (kernel_set.hpp).
class KernelOp : public Op {
 protected:
  const OpsKernels& ops_ = *kernel_set().ops;
};

int64_t plane(const Shape& s) {
  int64_t n = 1;
  for (size_t i = 2; i < s.size(); ++i) n *= s[i];
  return n;
}

// The affine of one channel of an eval-mode BatchNorm (running statistics): the BatchNorm op and a
// convolution it is folded into (Graph::set_fusion) compute it with this one function.
inline void running_affine(float gamma, float beta, float mean, float var, double eps, float* invstd, float* scale,
                           float* shift) {
  *invstd = float(1.0 / std::sqrt(double(var) + eps));
  *scale = gamma * *invstd;
  *shift = beta - mean * *scale;
}

// ------------------------------------------------------------------ conv2d

class Conv2dOp : public KernelOp {
 public:
  Conv2dOp(const ConvGeom& g, bool bias, Precision precision) : k_(g, 0, active_isa(), precision), bias_(bias) {}
  std::string kind() const override { return "conv2d"; }
  std::string detail() const override {
    const ConvGeom& g = k_.geom();
    return fmt::format("{}x{} s{} d{} g{} pad {} [{}]{}", g.kh, g.kw, g.sh, g.dh, g.groups, padding_str(g.pad),
                       k_.algo_name(), folded_ ? " + batch norm" : "");
  }
  double flops() const override { return k_.geom().flops(); }
  OpNeeds needs() const override {
    OpNeeds n;
    n.input_in_backward = {true, true, false};
    n.forward_workspace_bytes = n.backward_workspace_bytes = k_.workspace_floats() * 4;
    return n;
  }
  void forward(const OpContext& c) override {
    if (!folded_) return k_.forward(c.input(0), c.input(1), bias_ ? c.input(2) : nullptr, c.output(), c.scratch());
    // The folded norm's affine for this conv's channels, from its parameters as they are now.
    const int64_t co = k_.geom().cout;
    float* scale = affine_.data();
    float* shift = scale + co;
    for (int64_t ch = 0; ch < co; ++ch) {
      const int64_t j = norm_.c0 + ch;
      float invstd;
      running_affine(norm_.gamma[j], norm_.beta[j], norm_.mean[j], norm_.var[j], norm_.eps, &invstd, scale + ch,
                     shift + ch);
    }
    k_.forward(c.input(0), c.input(1), bias_ ? c.input(2) : nullptr, c.output(), c.scratch(), &epilogue_);
  }
  void backward(const OpContext& c) override {
    CLIMSEG_ASSERT(!folded_);  // folds happen in eval graphs only
    k_.backward(c.input(0), c.grad_output(), c.input(1), c.grad_input(0), c.accumulate[0], c.grad_input(1),
                c.accumulate[1], bias_ ? c.grad_input(2) : nullptr, bias_ && c.accumulate[2], c.scratch());
  }
  bool can_fold_norm() const override { return !folded_; }
  void fold_norm(const FoldedNorm& f) override {
    CLIMSEG_ASSERT(can_fold_norm());
    folded_ = true;
    norm_ = f;
    affine_.assign(static_cast<size_t>(2 * k_.geom().cout), 0.0f);
    epilogue_.image_stride = f.image_stride;
    epilogue_.scale = affine_.data();
    epilogue_.shift = affine_.data() + k_.geom().cout;
    epilogue_.alpha = f.alpha == nullptr ? nullptr : f.na == 1 ? f.alpha : f.alpha + f.c0;
    epilogue_.na = f.na;
  }

 private:
  ConvKernel k_;
  bool bias_;
  bool folded_ = false;
  FoldedNorm norm_;
  std::vector<float> affine_;  // scale, shift (Cout each)
  ConvEpilogue epilogue_;
};

// conv_transpose2d is the adjoint of the conv2d that maps its output back to its input: the same
// kernel object with forward and backward-input swapped.
class ConvTranspose2dOp : public KernelOp {
 public:
  ConvTranspose2dOp(const ConvGeom& g, bool bias) : k_(g), bias_(bias) {}
  std::string kind() const override { return "conv_transpose2d"; }
  std::string detail() const override { return fmt::format("[{}]", k_.algo_name()); }
  double flops() const override { return k_.geom().flops(); }
  OpNeeds needs() const override {
    OpNeeds n;
    n.input_in_backward = {true, true, false};
    const ConvGeom& g = k_.geom();
    n.forward_workspace_bytes = k_.workspace_floats() * 4;
    // plus room for dx when it must be added to an existing gradient
    n.backward_workspace_bytes = (k_.workspace_floats() + g.n * g.cout * g.oh() * g.ow()) * 4;
    return n;
  }
  void forward(const OpContext& c) override {
    const ConvGeom& g = k_.geom();
    float* y = c.output();
    k_.backward_input(c.input(0), c.input(1), y, false, c.scratch());
    if (bias_) {
      const float* b = c.input(2);
      const int64_t hw = g.h * g.w;
      for (int64_t n = 0; n < g.n; ++n)
        for (int64_t ch = 0; ch < g.cin; ++ch) {
          float* p = y + (n * g.cin + ch) * hw;
          for (int64_t i = 0; i < hw; ++i) p[i] += b[ch];
        }
    }
  }
  void backward(const OpContext& c) override {
    const ConvGeom& g = k_.geom();
    float* ws = c.scratch();
    if (c.grad_input(1))
      k_.backward_weight(c.grad_output(), c.input(0), c.grad_input(1), c.accumulate[1], nullptr, false, ws);
    if (bias_ && c.grad_input(2)) {
      const int64_t hw = g.h * g.w;
      float* db = c.grad_input(2);
      for (int64_t ch = 0; ch < g.cin; ++ch) {
        double s = 0;
        for (int64_t n = 0; n < g.n; ++n) {
          const float* p = c.grad_output() + (n * g.cin + ch) * hw;
          for (int64_t i = 0; i < hw; ++i) s += p[i];
        }
        ref::store(db + ch, float(s), c.accumulate[2]);
      }
    }
    if (c.grad_input(0)) {
      const int64_t nx = g.n * g.cout * g.oh() * g.ow();
      if (!c.accumulate[0]) {
        k_.forward(c.grad_output(), c.input(1), nullptr, c.grad_input(0), ws);
      } else {
        float* tmp = ws + k_.workspace_floats();
        k_.forward(c.grad_output(), c.input(1), nullptr, tmp, ws);
        ops_.axpy_grad(tmp, c.grad_input(0), nx, 1.0f, true);
      }
    }
  }

 private:
  ConvKernel k_;
  bool bias_;
};

// ------------------------------------------------------------------ batch norm (+ PReLU)

class BatchNormOp : public KernelOp {
 public:
  BatchNormOp(int64_t n, int64_t c, int64_t hw, int64_t na, bool prelu, bool batch_stats, bool update_running,
              const BatchNormOptions& o, Param& rm, Param& rv)
      : n_(n),
        c_(c),
        hw_(hw),
        na_(na),
        prelu_(prelu),
        batch_stats_(batch_stats),
        update_running_(update_running),
        o_(o),
        rm_(rm),
        rv_(rv) {}
  std::string kind() const override { return prelu_ ? "batch_norm_prelu" : "batch_norm2d"; }
  bool foldable_norm(FoldedNorm* f) const override {
    if (batch_stats_) return false;
    f->na = na_;
    f->mean = rm_.data;
    f->var = rv_.data;
    f->eps = o_.eps;
    return true;
  }
  std::string detail() const override {
    return fmt::format("eps {:g}{}", o_.eps, batch_stats_ ? " batch stats" : " running stats");
  }
  OpNeeds needs() const override {
    OpNeeds n;
    n.input_in_backward = {true, true, false, true};
    n.saved_bytes = {4 * c_ * 4, 8};  // mean, invstd, scale, shift (C each); the (global) count
    n.forward_workspace_bytes = (2 * c_ + 1) * 8;
    n.backward_workspace_bytes = 3 * c_ * 8 + 2 * c_ * 4;
    return n;
  }
  void forward(const OpContext& c) override {
    const float* x = c.input(0);
    const float* gamma = c.input(1);
    const float* beta = c.input(2);
    const float* alpha = prelu_ ? c.input(3) : nullptr;
    float* mean = c.save<float>(0);
    float* invstd = mean + c_;
    float* scale = invstd + c_;
    float* shift = scale + c_;
    double* count = c.save<double>(1);
    if (batch_stats_ && !c.graph->stats_reducer()) {
      // Local statistics: each channel's sums and then its output, while the channel (N planes) is
      // still in cache: x comes from memory once instead of twice. Same arithmetic as the phases.
      const double m = double(n_ * hw_);
      *count = m;
      float* y = c.output();
#pragma omp parallel for schedule(static)
      for (int64_t ch = 0; ch < c_; ++ch) {
        double s = 0, q = 0;
        ops_.bn_channel_sums_one(x, n_, c_, hw_, ch, &s, &q);
        channel_stats(ch, s, q, m, gamma, beta, mean, invstd, scale, shift);
        const float* al = alpha ? alpha + (na_ == 1 ? 0 : ch) : nullptr;
        for (int64_t b = 0; b < n_; ++b)
          ops_.bn_apply_plane(x + (b * c_ + ch) * hw_, y + (b * c_ + ch) * hw_, hw_, scale[ch], shift[ch], al);
      }
      return;
    }
    if (batch_stats_) {
      double* sums = c.scratch<double>();  // [sum (C), sumsq (C), count]
      ops_.bn_channel_sums(x, n_, c_, hw_, sums, sums + c_);
      sums[2 * c_] = double(n_ * hw_);
      if (StatsReducer* r = c.graph->stats_reducer()) r->allreduce_sum(sums, 2 * c_ + 1);
      const double m = sums[2 * c_];
      *count = m;
      for (int64_t ch = 0; ch < c_; ++ch)
        channel_stats(ch, sums[ch], sums[c_ + ch], m, gamma, beta, mean, invstd, scale, shift);
    } else {
      *count = double(n_ * hw_);
      for (int64_t ch = 0; ch < c_; ++ch) {
        mean[ch] = rm_.data[ch];
        running_affine(gamma[ch], beta[ch], mean[ch], rv_.data[ch], o_.eps, invstd + ch, scale + ch, shift + ch);
      }
    }
    ops_.bn_apply(x, c.output(), n_, c_, hw_, scale, shift, alpha, na_);
  }
  void backward(const OpContext& c) override {
    const float* x = c.input(0);
    const float* gamma = c.input(1);
    const float* alpha = prelu_ ? c.input(3) : nullptr;
    const float* dy = c.grad_output();
    const float* mean = c.save<float>(0);
    const float* invstd = mean + c_;
    const float* scale = invstd + c_;
    const float* shift = scale + c_;
    const double m = *c.save<double>(1);
    double* sums = c.scratch<double>();  // [sum dz (C), sum dz*xhat (C), dalpha (C)]
    float* k1 = reinterpret_cast<float*>(sums + 3 * c_);
    float* k2 = k1 + c_;
    if (!(batch_stats_ && c.graph->stats_reducer())) {
      // No statistics to reduce across ranks: each channel's sums, its parameter gradients and its dx
      // in one visit, so x and dy of the channel are re-read from cache rather than from memory.
      float* dx = c.grad_input(0);
#pragma omp parallel for schedule(static)
      for (int64_t ch = 0; ch < c_; ++ch) {
        ops_.bn_backward_sums_one(x, dy, n_, c_, hw_, ch, mean, invstd, scale, shift, alpha, na_, sums, sums + c_,
                                  prelu_ ? sums + 2 * c_ : nullptr);
        if (!dx) continue;
        k1[ch] = batch_stats_ ? float(sums[ch] / m) : 0.0f;
        k2[ch] = batch_stats_ ? float(sums[c_ + ch] / m) : 0.0f;
        const float* al = alpha ? alpha + (na_ == 1 ? 0 : ch) : nullptr;
        for (int64_t b = 0; b < n_; ++b) {
          const int64_t off = (b * c_ + ch) * hw_;
          ops_.bn_backward_apply_plane(x + off, dy + off, dx + off, hw_, ch, mean, invstd, gamma, k1, k2, scale, shift,
                                       al, c.accumulate[0]);
        }
      }
      store_parameter_grads(c, sums);
      return;
    }
    // Batch statistics summed over ranks (synchronised BatchNorm). The input gradient needs the
    // global [sum dz, sum dz*xhat]; the weight and bias gradients are those same sums, so they are
    // stored as the global sums times this rank's share of the count (1/P for equal batches): the
    // gradient allreduce's average over ranks then leaves G/P, the average of the local sums,
    // rounded to float once. (Storing each rank's local sum rounds each share to float before the
    // average: where the shares cancel, as in CGNet's first BatchNorm weights at ~700x their sum,
    // that costs ~1e-5 of the result.)
    ops_.bn_backward_sums(x, dy, n_, c_, hw_, mean, invstd, scale, shift, alpha, na_, sums, sums + c_,
                          prelu_ ? sums + 2 * c_ : nullptr);
    c.graph->stats_reducer()->allreduce_sum(sums, 2 * c_);
    store_parameter_grads(c, sums, double(n_ * hw_) / m);
    float* dx = c.grad_input(0);
    if (!dx) return;
    for (int64_t ch = 0; ch < c_; ++ch) {
      k1[ch] = float(sums[ch] / m);
      k2[ch] = float(sums[c_ + ch] / m);
    }
    ops_.bn_backward_apply(x, dy, dx, n_, c_, hw_, mean, invstd, gamma, k1, k2, scale, shift, alpha, na_,
                           c.accumulate[0]);
  }

  // Parameter gradients from the sums [sum dz, sum dz*xhat, dalpha] (C each); data-parallel
  // training averages them later. The weight and bias sums are scaled by `share` (synchronised
  // BatchNorm: global sums times this rank's share of the count); the PReLU slope's are local.
  void store_parameter_grads(const OpContext& c, const double* sums, double share = 1.0) const {
    if (float* dg = c.grad_input(1))
      for (int64_t ch = 0; ch < c_; ++ch) ref::store(dg + ch, float(sums[c_ + ch] * share), c.accumulate[1]);
    if (float* db = c.grad_input(2))
      for (int64_t ch = 0; ch < c_; ++ch) ref::store(db + ch, float(sums[ch] * share), c.accumulate[2]);
    float* da = prelu_ ? c.grad_input(3) : nullptr;
    if (!da) return;
    if (na_ == 1) {
      double s = 0;
      for (int64_t ch = 0; ch < c_; ++ch) s += sums[2 * c_ + ch];
      ref::store(da, float(s), c.accumulate[3]);
    } else {
      for (int64_t ch = 0; ch < c_; ++ch) ref::store(da + ch, float(sums[2 * c_ + ch]), c.accumulate[3]);
    }
  }

  // One channel's batch statistics from its sums over m values: mean, 1/std, the running averages
  // (unbiased variance, as PyTorch), and the folded affine y = x * scale + shift.
  void channel_stats(int64_t ch, double sum, double sumsq, double m, const float* gamma, const float* beta, float* mean,
                     float* invstd, float* scale, float* shift) {
    const double mu = sum / m;
    const double var = std::max(0.0, sumsq / m - mu * mu);
    mean[ch] = float(mu);
    invstd[ch] = float(1.0 / std::sqrt(var + o_.eps));
    if (update_running_) {
      const float mom = float(o_.momentum);
      rm_.data[ch] = (1.0f - mom) * rm_.data[ch] + mom * float(mu);
      rv_.data[ch] = (1.0f - mom) * rv_.data[ch] + mom * float(m > 1 ? var * m / (m - 1) : var);
    }
    scale[ch] = gamma[ch] * invstd[ch];
    shift[ch] = beta[ch] - mean[ch] * scale[ch];
  }

 private:
  int64_t n_, c_, hw_, na_;
  bool prelu_, batch_stats_, update_running_;
  BatchNormOptions o_;
  Param& rm_;
  Param& rv_;
};

// ------------------------------------------------------------------ activations

enum class Act { relu, leaky_relu, sigmoid, tanh };

class ActivationOp : public KernelOp {
 public:
  ActivationOp(Act a, int64_t n, float slope) : a_(a), n_(n), slope_(slope) {}
  std::string kind() const override {
    switch (a_) {
      case Act::relu:
        return "relu";
      case Act::leaky_relu:
        return "leaky_relu";
      case Act::sigmoid:
        return "sigmoid";
      case Act::tanh:
        return "tanh";
    }
    return "?";
  }
  OpNeeds needs() const override {
    OpNeeds n;
    n.input_in_backward = {a_ == Act::leaky_relu};
    n.output_in_backward = a_ != Act::leaky_relu;
    return n;
  }
  void forward(const OpContext& c) override {
    switch (a_) {
      case Act::relu:
        return ops_.relu_forward(c.input(0), c.output(), n_);
      case Act::leaky_relu:
        return ops_.leaky_relu_forward(c.input(0), c.output(), n_, slope_);
      case Act::sigmoid:
        return ops_.sigmoid_forward(c.input(0), c.output(), n_);
      case Act::tanh:
        return ops_.tanh_forward(c.input(0), c.output(), n_);
    }
  }
  void backward(const OpContext& c) override {
    float* dx = c.grad_input(0);
    if (!dx) return;
    switch (a_) {
      case Act::relu:
        return ops_.relu_backward(static_cast<const float*>(c.out), c.grad_output(), dx, n_, c.accumulate[0]);
      case Act::leaky_relu:
        return ops_.leaky_relu_backward(c.input(0), c.grad_output(), dx, n_, slope_, c.accumulate[0]);
      case Act::sigmoid:
        return ops_.sigmoid_backward(static_cast<const float*>(c.out), c.grad_output(), dx, n_, c.accumulate[0]);
      case Act::tanh:
        return ops_.tanh_backward(static_cast<const float*>(c.out), c.grad_output(), dx, n_, c.accumulate[0]);
    }
  }

 private:
  Act a_;
  int64_t n_;
  float slope_;
};

class PreluOp : public KernelOp {
 public:
  PreluOp(int64_t n, int64_t c, int64_t hw, int64_t na) : n_(n), c_(c), hw_(hw), na_(na) {}
  std::string kind() const override { return "prelu"; }
  OpNeeds needs() const override {
    OpNeeds n;
    n.input_in_backward = {true, true};
    return n;
  }
  void forward(const OpContext& c) override {
    ops_.prelu_forward(c.input(0), c.input(1), c.output(), n_, c_, hw_, na_);
  }
  void backward(const OpContext& c) override {
    ops_.prelu_backward(c.input(0), c.input(1), c.grad_output(), c.grad_input(0), c.grad_input(1), n_, c_, hw_, na_,
                        c.accumulate[0], c.accumulate[1]);
  }

 private:
  int64_t n_, c_, hw_, na_;
};

// ------------------------------------------------------------------ pooling

class MaxPoolOp : public KernelOp {
 public:
  MaxPoolOp(const Shape& s, int64_t k, int64_t st, int64_t p, int64_t oh, int64_t ow)
      : n_(s[0]), c_(s[1]), h_(s[2]), w_(s[3]), k_(k), s_(st), p_(p), oh_(oh), ow_(ow) {}
  std::string kind() const override { return "max_pool2d"; }
  OpNeeds needs() const override {
    OpNeeds n;
    n.input_in_backward = {false};
    n.saved_bytes = {n_ * c_ * oh_ * ow_ * 4};
    return n;
  }
  void forward(const OpContext& c) override {
    ops_.max_pool2d_forward(c.input(0), c.output(), c.save<int32_t>(0), n_, c_, h_, w_, k_, k_, s_, s_, p_, p_, oh_,
                            ow_);
  }
  void backward(const OpContext& c) override {
    if (c.grad_input(0))
      ops_.max_pool2d_backward(c.grad_output(), c.save<int32_t>(0), c.grad_input(0), n_, c_, h_, w_, oh_, ow_,
                               c.accumulate[0]);
  }

 private:
  int64_t n_, c_, h_, w_, k_, s_, p_, oh_, ow_;
};

// Average pooling through precomputed padding maps and separable divisors (taps counted per axis:
// within [-p, size + p) when count_include_pad, else reading a value).
class AvgPoolOp : public KernelOp {
 public:
  AvgPoolOp(const Shape& s, int64_t k, int64_t st, Padding p, bool cip, int64_t oh, int64_t ow)
      : n_(s[0]), c_(s[1]), h_(s[2]), w_(s[3]), k_(k), s_(st), p_(p), oh_(oh), ow_(ow) {
    rmap_.resize(static_cast<size_t>(k * oh));
    cmap_.resize(static_cast<size_t>(k * ow));
    cnt_r_.resize(static_cast<size_t>(oh));
    cnt_c_.resize(static_cast<size_t>(ow));
    auto axis = [&](int64_t out, int64_t size, int64_t pad, Pad mode, std::vector<int32_t>& map,
                    std::vector<float>& cnt) {
      for (int64_t o = 0; o < out; ++o) {
        int64_t n = 0;
        for (int64_t t = 0; t < k; ++t) {
          const int64_t i = o * st - pad + t;
          const int64_t m = pad_index(i, size, mode);
          map[static_cast<size_t>(t * out + o)] = static_cast<int32_t>(m);
          n += cip ? (i >= -pad && i < size + pad) : (m >= 0);
        }
        cnt[static_cast<size_t>(o)] = float(std::max<int64_t>(n, 1));
      }
    };
    axis(oh, h_, p.h, p.rows, rmap_, cnt_r_);
    axis(ow, w_, p.w, p.cols, cmap_, cnt_c_);
  }
  std::string kind() const override { return "avg_pool2d"; }
  std::string detail() const override { return fmt::format("{}x{} s{} pad {}", k_, k_, s_, padding_str(p_)); }
  OpNeeds needs() const override {
    OpNeeds n;
    n.input_in_backward = {false};
    return n;
  }
  void forward(const OpContext& c) override {
    ops_.avg_pool2d_forward(c.input(0), c.output(), n_ * c_, h_, w_, k_, oh_, ow_, rmap_.data(), cmap_.data(),
                            cnt_r_.data(), cnt_c_.data());
  }
  void backward(const OpContext& c) override {
    if (float* dx = c.grad_input(0))
      ops_.avg_pool2d_backward(c.grad_output(), dx, n_ * c_, h_, w_, k_, oh_, ow_, rmap_.data(), cmap_.data(),
                               cnt_r_.data(), cnt_c_.data(), c.accumulate[0]);
  }

 private:
  int64_t n_, c_, h_, w_, k_, s_;
  Padding p_;
  int64_t oh_, ow_;
  std::vector<int32_t> rmap_, cmap_;  // (k, oh) input row, (k, ow) input column; -1 for zeros
  std::vector<float> cnt_r_, cnt_c_;  // taps counted per output row / column
};

class GlobalAvgPoolOp : public KernelOp {
 public:
  GlobalAvgPoolOp(int64_t nc, int64_t hw) : nc_(nc), hw_(hw) {}
  std::string kind() const override { return "global_avg_pool"; }
  OpNeeds needs() const override { return OpNeeds{{false}}; }
  void forward(const OpContext& c) override { ops_.global_avg_pool_forward(c.input(0), c.output(), nc_, hw_); }
  void backward(const OpContext& c) override {
    if (c.grad_input(0)) ops_.global_avg_pool_backward(c.grad_output(), c.grad_input(0), nc_, hw_, c.accumulate[0]);
  }

 private:
  int64_t nc_, hw_;
};

// ------------------------------------------------------------------ linear

class LinearOp : public KernelOp {
 public:
  LinearOp(int64_t n, int64_t in, int64_t out, bool bias) : n_(n), in_(in), out_(out), bias_(bias) {}
  std::string kind() const override { return "linear"; }
  double flops() const override { return 2.0 * double(n_ * in_ * out_); }
  OpNeeds needs() const override { return OpNeeds{{true, true, false}}; }
  void forward(const OpContext& c) override {
    ops_.linear_forward(c.input(0), c.input(1), bias_ ? c.input(2) : nullptr, c.output(), n_, in_, out_);
  }
  void backward(const OpContext& c) override {
    ops_.linear_backward(c.input(0), c.input(1), c.grad_output(), c.grad_input(0), c.grad_input(1),
                         bias_ ? c.grad_input(2) : nullptr, n_, in_, out_, c.accumulate[0], c.accumulate[1],
                         bias_ && c.accumulate[2]);
  }

 private:
  int64_t n_, in_, out_;
  bool bias_;
};

// ------------------------------------------------------------------ upsampling

class UpsampleOp : public KernelOp {
 public:
  UpsampleOp(bool bilinear, bool ac, int64_t nc, int64_t h, int64_t w, int64_t oh, int64_t ow)
      : bilinear_(bilinear), ac_(ac), nc_(nc), h_(h), w_(w), oh_(oh), ow_(ow) {
    if (bilinear) {  // the kernel's room for its per-call taps (the forward allocates nothing)
      taps_i_.resize(static_cast<size_t>(2 * (oh + ow)));
      taps_w_.resize(static_cast<size_t>(2 * (oh + ow)));
    }
  }
  std::string kind() const override { return bilinear_ ? "upsample_bilinear" : "upsample_nearest"; }
  std::string detail() const override { return bilinear_ ? fmt::format("align_corners={}", ac_) : ""; }
  OpNeeds needs() const override { return OpNeeds{{false}}; }
  void forward(const OpContext& c) override {
    if (bilinear_)
      ops_.upsample_bilinear_forward(c.input(0), c.output(), nc_, h_, w_, oh_, ow_, ac_, taps_i_.data(),
                                     taps_w_.data());
    else
      ops_.upsample_nearest_forward(c.input(0), c.output(), nc_, h_, w_, oh_, ow_);
  }
  void backward(const OpContext& c) override {
    if (!c.grad_input(0)) return;
    if (bilinear_)
      ops_.upsample_bilinear_backward(c.grad_output(), c.grad_input(0), nc_, h_, w_, oh_, ow_, ac_, c.accumulate[0]);
    else
      ops_.upsample_nearest_backward(c.grad_output(), c.grad_input(0), nc_, h_, w_, oh_, ow_, c.accumulate[0]);
  }

 private:
  bool bilinear_, ac_;
  int64_t nc_, h_, w_, oh_, ow_;
  std::vector<int32_t> taps_i_;  // (oh + ow, 2): bilinear source rows, then columns (i0, i1)
  std::vector<float> taps_w_;    // (oh + ow, 2): their weights (l0, l1)
};

// ------------------------------------------------------------------ structure and elementwise

class ConcatOp : public KernelOp {
 public:
  ConcatOp(int64_t n, std::vector<int64_t> cs, int64_t hw) : n_(n), cs_(std::move(cs)), hw_(hw) {
    for (int64_t c : cs_) total_ += c;
  }
  std::string kind() const override { return "concat"; }
  std::string detail() const override { return folded_ ? "+ batch norm" : ""; }
  OpNeeds needs() const override { return OpNeeds{std::vector<bool>(cs_.size(), false)}; }
  // A norm folded into the concat itself (when its inputs' producers cannot take it): each plane is
  // normalised as it is copied, by the BatchNorm op's own plane kernel, so bit for bit the two ops.
  bool can_fold_own_norm() const override { return !folded_; }
  void fold_norm(const FoldedNorm& f) override {
    CLIMSEG_ASSERT(can_fold_own_norm() && f.c0 == 0 && f.image_stride == 0);
    folded_ = true;
    norm_ = f;
    affine_.assign(static_cast<size_t>(2 * total_), 0.0f);
  }
  void forward(const OpContext& c) override {
    if (!folded_) {
      int64_t c0 = 0;
      for (size_t i = 0; i < cs_.size(); ++i) {
        ops_.copy_channels(c.input(int(i)), cs_[i], 0, c.output(), total_, c0, n_, cs_[i], hw_, false);
        c0 += cs_[i];
      }
      return;
    }
    float* scale = affine_.data();
    float* shift = scale + total_;
    for (int64_t ch = 0; ch < total_; ++ch) {
      float invstd;
      running_affine(norm_.gamma[ch], norm_.beta[ch], norm_.mean[ch], norm_.var[ch], norm_.eps, &invstd, scale + ch,
                     shift + ch);
    }
    std::vector<const float*> in(cs_.size());
    std::vector<int64_t> first(cs_.size() + 1, 0);  // the output channel of each input's first
    for (size_t i = 0; i < cs_.size(); ++i) in[i] = c.input(int(i)), first[i + 1] = first[i] + cs_[i];
    float* y = c.output();
    const float* alpha = norm_.alpha;
    const int64_t na = norm_.na, total = total_, hw = hw_;
    const auto& ops = ops_;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < n_; ++b)
      for (int64_t ch = 0; ch < total; ++ch) {
        size_t i = 0;
        while (ch >= first[i + 1]) ++i;
        const float* src = in[i] + (b * cs_[i] + ch - first[i]) * hw;
        ops.bn_apply_plane(src, y + (b * total + ch) * hw, hw, scale[ch], shift[ch],
                           alpha ? alpha + (na == 1 ? 0 : ch) : nullptr);
      }
  }
  void backward(const OpContext& c) override {
    int64_t c0 = 0;
    for (size_t i = 0; i < cs_.size(); ++i) {
      if (float* dx = c.grad_input(int(i)))
        ops_.copy_channels(c.grad_output(), total_, c0, dx, cs_[i], 0, n_, cs_[i], hw_, c.accumulate[i]);
      c0 += cs_[i];
    }
  }

 private:
  int64_t n_;
  std::vector<int64_t> cs_;
  int64_t hw_, total_ = 0;
  bool folded_ = false;
  FoldedNorm norm_;
  std::vector<float> affine_;  // scale, shift (all channels)
};

class AddOp : public KernelOp {
 public:
  explicit AddOp(int64_t n) : n_(n) {}
  std::string kind() const override { return "add"; }
  OpNeeds needs() const override { return gated_ ? OpNeeds{{false, false, false}} : OpNeeds{{false, false}}; }
  std::string detail() const override { return gated_ ? "+ scale_channels (folded)" : ""; }
  bool can_fold_gate() const override { return !gated_; }
  void fold_gate(int64_t nc, int64_t hw) override {
    CLIMSEG_ASSERT(nc * hw == n_);
    gated_ = true, nc_ = nc, hw_ = hw;
  }
  void forward(const OpContext& c) override {
    if (gated_) return ops_.add_scaled_channels_forward(c.input(0), c.input(1), c.input(2), c.output(), nc_, hw_);
    ops_.add_forward(c.input(0), c.input(1), c.output(), n_);
  }
  void backward(const OpContext& c) override {
    CLIMSEG_ASSERT(!gated_);  // folded in eval graphs only
    for (int i = 0; i < 2; ++i)
      if (float* dx = c.grad_input(i)) ops_.axpy_grad(c.grad_output(), dx, n_, 1.0f, c.accumulate[i]);
  }

 private:
  int64_t n_;
  bool gated_ = false;
  int64_t nc_ = 0, hw_ = 0;
};

class MulOp : public KernelOp {
 public:
  explicit MulOp(int64_t n) : n_(n) {}
  std::string kind() const override { return "mul"; }
  OpNeeds needs() const override { return OpNeeds{{true, true}}; }
  void forward(const OpContext& c) override { ops_.mul_forward(c.input(0), c.input(1), c.output(), n_); }
  void backward(const OpContext& c) override {
    if (float* da = c.grad_input(0)) ops_.mul_backward(c.grad_output(), c.input(1), da, n_, c.accumulate[0]);
    if (float* db = c.grad_input(1)) ops_.mul_backward(c.grad_output(), c.input(0), db, n_, c.accumulate[1]);
  }

 private:
  int64_t n_;
};

class ScaleOp : public KernelOp {
 public:
  ScaleOp(int64_t n, float f) : n_(n), f_(f) {}
  std::string kind() const override { return "scale"; }
  OpNeeds needs() const override { return OpNeeds{{false}}; }
  void forward(const OpContext& c) override {
    const float* x = c.input(0);
    float* y = c.output();
    for (int64_t i = 0; i < n_; ++i) y[i] = x[i] * f_;
  }
  void backward(const OpContext& c) override {
    if (float* dx = c.grad_input(0)) ops_.axpy_grad(c.grad_output(), dx, n_, f_, c.accumulate[0]);
  }

 private:
  int64_t n_;
  float f_;
};

class ScaleChannelsOp : public KernelOp {
 public:
  ScaleChannelsOp(int64_t nc, int64_t hw) : nc_(nc), hw_(hw) {}
  std::string kind() const override { return "scale_channels"; }
  OpNeeds needs() const override { return OpNeeds{{true, true}}; }
  void forward(const OpContext& c) override {
    ops_.scale_channels_forward(c.input(0), c.input(1), c.output(), nc_, hw_);
  }
  void backward(const OpContext& c) override {
    ops_.scale_channels_backward(c.input(0), c.input(1), c.grad_output(), c.grad_input(0), c.grad_input(1), nc_, hw_,
                                 c.accumulate[0], c.accumulate[1]);
  }

 private:
  int64_t nc_, hw_;
};

class DropoutOp : public KernelOp {
 public:
  DropoutOp(int64_t n, double p) : n_(n), p_(p) {}
  std::string kind() const override { return "dropout"; }
  std::string detail() const override { return fmt::format("p={:g}", p_); }
  OpNeeds needs() const override { return OpNeeds{{false}}; }
  void forward(const OpContext& c) override {
    ops_.dropout_apply(c.input(0), c.output(), n_, p_, c.graph->op_seed(c.graph->current_node()), false);
  }
  void backward(const OpContext& c) override {
    if (float* dx = c.grad_input(0))
      ops_.dropout_apply(c.grad_output(), dx, n_, p_, c.graph->op_seed(c.graph->current_node()), c.accumulate[0]);
  }

 private:
  int64_t n_;
  double p_;
};

class SoftmaxOp : public KernelOp {
 public:
  SoftmaxOp(int64_t n, int64_t c, int64_t hw) : n_(n), c_(c), hw_(hw) {}
  std::string kind() const override { return "softmax"; }
  OpNeeds needs() const override {
    OpNeeds n{{false}};
    n.output_in_backward = true;
    return n;
  }
  void forward(const OpContext& c) override { ops_.softmax_channels_forward(c.input(0), c.output(), n_, c_, hw_); }
  void backward(const OpContext& c) override {
    if (float* dx = c.grad_input(0))
      ops_.softmax_channels_backward(static_cast<const float*>(c.out), c.grad_output(), dx, n_, c_, hw_,
                                     c.accumulate[0]);
  }

 private:
  int64_t n_, c_, hw_;
};

// ------------------------------------------------------------------ losses

class LossOp : public KernelOp {
 public:
  enum class Kind { cross_entropy, jaccard, dice };
  LossOp(Kind k, const Shape& s, LossOptions o) : k_(k), n_(s[0]), c_(s[1]), h_(s[2]), w_(s[3]), o_(std::move(o)) {}
  std::string kind() const override {
    return k_ == Kind::cross_entropy ? "cross_entropy" : (k_ == Kind::jaccard ? "jaccard_loss" : "dice_loss");
  }
  OpNeeds needs() const override {
    OpNeeds n{{true, true}};
    n.saved_bytes = {std::max<int64_t>(2 * c_, 1) * 8};
    return n;
  }
  void forward(const OpContext& c) override {
    const float* cw = o_.class_weights.empty() ? nullptr : o_.class_weights.data();
    const float* rw = o_.row_weights.empty() ? nullptr : o_.row_weights.data();
    double* saved = c.save<double>(0);
    int64_t bad = -1;
    double loss;
    if (k_ == Kind::cross_entropy)
      loss = ops_.cross_entropy_forward(c.input(0), c.input<int32_t>(1), n_, c_, h_, w_, cw, rw, o_.ignore_index, saved,
                                        &bad);
    else
      loss = ops_.overlap_forward(k_ == Kind::jaccard ? ref::OverlapKind::jaccard : ref::OverlapKind::dice, c.input(0),
                                  c.input<int32_t>(1), n_, c_, h_, w_, rw, o_.ignore_index, o_.eps, saved, &bad);
    if (bad >= 0) {
      const int64_t hw = h_ * w_;
      fail("{}: label {} at sample {}, row {}, column {} is not a class in [0, {}) nor the ignore index {}", kind(),
           c.input<int32_t>(1)[bad], bad / hw, (bad % hw) / w_, bad % w_, c_, o_.ignore_index);
    }
    *c.output() = float(loss);
  }
  void backward(const OpContext& c) override {
    float* dx = c.grad_input(0);
    if (!dx) return;
    const float* cw = o_.class_weights.empty() ? nullptr : o_.class_weights.data();
    const float* rw = o_.row_weights.empty() ? nullptr : o_.row_weights.data();
    const double dl = *c.grad_output();
    if (k_ == Kind::cross_entropy)
      ops_.cross_entropy_backward(c.input(0), c.input<int32_t>(1), dx, n_, c_, h_, w_, cw, rw, o_.ignore_index,
                                  *c.save<double>(0), dl, c.accumulate[0]);
    else
      ops_.overlap_backward(k_ == Kind::jaccard ? ref::OverlapKind::jaccard : ref::OverlapKind::dice, c.input(0),
                            c.input<int32_t>(1), dx, n_, c_, h_, w_, rw, o_.ignore_index, o_.eps, c.save<double>(0), dl,
                            c.accumulate[0]);
  }

 private:
  Kind k_;
  int64_t n_, c_, h_, w_;
  LossOptions o_;
};

Value make_loss(LossOp::Kind kind, Value logits, Value labels, const LossOptions& o, const char* name) {
  require_same_graph(logits, labels, name);
  require_rank(logits, 4, name, "logits");
  const Shape& s = logits.shape();
  if (labels.dtype() != DType::i32) fail("{}: labels '{}' must be int32 (Graph::input_labels)", name, labels.name());
  if (labels.shape() != Shape{s[0], s[2], s[3]})
    fail("{}: labels {} do not match logits {} (expected (N, H, W))", name, shape_str(labels.shape()), shape_str(s));
  if (!o.class_weights.empty() && static_cast<int64_t>(o.class_weights.size()) != s[1])
    fail("{}: {} class weights for {} classes", name, o.class_weights.size(), s[1]);
  if (!o.row_weights.empty() && static_cast<int64_t>(o.row_weights.size()) != s[2])
    fail("{}: {} row weights for {} rows", name, o.row_weights.size(), s[2]);
  if (kind != LossOp::Kind::cross_entropy && s[1] > 64) fail("{}: at most 64 classes", name);
  for (float v : o.class_weights)
    if (!std::isfinite(v) || v < 0) fail("{}: class weights must be finite and >= 0", name);
  for (float v : o.row_weights)
    if (!std::isfinite(v) || v < 0) fail("{}: row weights must be finite and >= 0", name);
  return logits.graph().add(std::make_unique<LossOp>(kind, s, o), {logits, labels}, Shape{}, DType::f32, name);
}

Value bn_common(Value x, Value gamma, Value beta, Value alpha, Param& rm, Param& rv, const BatchNormOptions& o,
                const char* name) {
  require_rank(x, 4, name);
  const int64_t c = x.dim(1);
  for (Value v : {gamma, beta}) {
    require_same_graph(x, v, name);
    if (v.shape() != Shape{c}) fail("{}: '{}' has shape {}, expected ({})", name, v.name(), shape_str(v.shape()), c);
  }
  if (rm.shape != Shape{c} || rv.shape != Shape{c})
    fail("{}: running statistics '{}' {} / '{}' {} do not match {} channels", name, rm.name, shape_str(rm.shape),
         rv.name, shape_str(rv.shape), c);
  if (!(o.eps > 0) || o.momentum < 0 || o.momentum > 1) fail("{}: eps must be > 0 and momentum in [0, 1]", name);
  Graph& g = x.graph();
  // Train graphs: batch statistics (and running-stat updates) unless frozen. Eval graphs: the
  // running statistics, or batch statistics without updates (Graph::set_batch_norm_batch_stats).
  const bool batch_stats = g.training() ? !o.frozen : g.batch_norm_batch_stats();
  int64_t na = 1;
  std::vector<Value> ins = {x, gamma, beta};
  if (alpha.valid()) {
    require_same_graph(x, alpha, name);
    na = alpha.numel();
    if (alpha.shape().size() != 1 || (na != 1 && na != c))
      fail("{}: PReLU weight '{}' {} must have 1 or {} elements", name, alpha.name(), shape_str(alpha.shape()), c);
    ins.push_back(alpha);
  }
  if (batch_stats && x.dim(0) * x.dim(2) * x.dim(3) < 2 && g.stats_reducer() == nullptr)
    fail("{}: batch statistics need more than one value per channel, got input {}", name, shape_str(x.shape()));
  return g.add(std::make_unique<BatchNormOp>(x.dim(0), c, x.dim(2) * x.dim(3), na, alpha.valid(), batch_stats,
                                             g.training(), o, rm, rv),
               ins, x.shape());
}

Value activation(Value x, Act a, double slope) {
  if (x.dtype() != DType::f32) fail("activation: '{}' must be float", x.name());
  return x.graph().add(std::make_unique<ActivationOp>(a, x.numel(), float(slope)), {x}, x.shape());
}

}  // namespace

// ------------------------------------------------------------------ builders

Value conv2d(Value x, Value w, Value b, const Conv2dOptions& o) {
  require_same_graph(x, w, "conv2d");
  require_rank(x, 4, "conv2d");
  require_rank(w, 4, "conv2d", "weight");
  ConvGeom g;
  g.n = x.dim(0), g.cin = x.dim(1), g.h = x.dim(2), g.w = x.dim(3);
  g.cout = w.dim(0), g.kh = w.dim(2), g.kw = w.dim(3);
  g.sh = o.stride_h, g.sw = o.stride_w, g.dh = o.dilation_h, g.dw = o.dilation_w;
  g.groups = o.groups;
  g.pad = o.padding;
  if (g.groups < 1 || g.cin % g.groups != 0 || w.dim(1) != g.cin / g.groups)
    fail("conv2d: weight '{}' {} does not fit input '{}' {} with {} groups", w.name(), shape_str(w.shape()), x.name(),
         shape_str(x.shape()), g.groups);
  check_conv_geom(g, "conv2d");
  std::vector<Value> ins = {x, w};
  if (b.valid()) {
    require_same_graph(x, b, "conv2d");
    if (b.shape() != Shape{g.cout}) fail("conv2d: bias '{}' {} must be ({})", b.name(), shape_str(b.shape()), g.cout);
    ins.push_back(b);
  }
  const Precision precision = x.graph().precision() == Precision::bf16 && g.cin_g() * g.kh * g.kw >= kBf16MinReduction
                                  ? Precision::bf16
                                  : Precision::fp32;
  return x.graph().add(std::make_unique<Conv2dOp>(g, b.valid(), precision), ins, Shape{g.n, g.cout, g.oh(), g.ow()});
}

Value conv_transpose2d(Value x, Value w, Value b, const ConvTranspose2dOptions& o) {
  require_same_graph(x, w, "conv_transpose2d");
  require_rank(x, 4, "conv_transpose2d");
  require_rank(w, 4, "conv_transpose2d", "weight");
  const int64_t cin = x.dim(1), cout = w.dim(1) * o.groups;
  if (o.groups < 1 || w.dim(0) != cin || cin % o.groups != 0)
    fail("conv_transpose2d: weight '{}' {} does not fit input '{}' {} with {} groups", w.name(), shape_str(w.shape()),
         x.name(), shape_str(x.shape()), o.groups);
  if (o.stride < 1 || o.dilation < 1 || o.padding < 0 || o.output_padding < 0 ||
      o.output_padding >= std::max(o.stride, o.dilation))
    fail("conv_transpose2d: stride/dilation must be >= 1, padding >= 0, output_padding < max(stride, dilation)");
  const int64_t oh = (x.dim(2) - 1) * o.stride - 2 * o.padding + o.dilation * (w.dim(2) - 1) + o.output_padding + 1;
  const int64_t ow = (x.dim(3) - 1) * o.stride - 2 * o.padding + o.dilation * (w.dim(3) - 1) + o.output_padding + 1;
  if (oh < 1 || ow < 1) fail("conv_transpose2d: empty output for input {}", shape_str(x.shape()));
  // The conv2d whose input is our output and whose output is our input.
  ConvGeom g;
  g.n = x.dim(0), g.cin = cout, g.h = oh, g.w = ow;
  g.cout = cin, g.kh = w.dim(2), g.kw = w.dim(3);
  g.sh = g.sw = o.stride, g.dh = g.dw = o.dilation, g.groups = o.groups;
  g.pad = Padding::zeros(o.padding);
  check_conv_geom(g, "conv_transpose2d");
  if (g.oh() != x.dim(2) || g.ow() != x.dim(3)) fail("conv_transpose2d: inconsistent geometry");
  std::vector<Value> ins = {x, w};
  if (b.valid()) {
    require_same_graph(x, b, "conv_transpose2d");
    if (b.shape() != Shape{cout}) fail("conv_transpose2d: bias '{}' must be ({})", b.name(), cout);
    ins.push_back(b);
  }
  return x.graph().add(std::make_unique<ConvTranspose2dOp>(g, b.valid()), ins, Shape{x.dim(0), cout, oh, ow});
}

Value batch_norm2d(Value x, Value gamma, Value beta, Param& rm, Param& rv, const BatchNormOptions& o) {
  return bn_common(x, gamma, beta, Value{}, rm, rv, o, "batch_norm2d");
}

Value batch_norm_prelu(Value x, Value gamma, Value beta, Value alpha, Param& rm, Param& rv, const BatchNormOptions& o) {
  if (!alpha.valid()) fail("batch_norm_prelu: a PReLU weight is required");
  return bn_common(x, gamma, beta, alpha, rm, rv, o, "batch_norm_prelu");
}

Value relu(Value x) { return activation(x, Act::relu, 0); }
Value leaky_relu(Value x, double slope) { return activation(x, Act::leaky_relu, slope); }
Value sigmoid(Value x) { return activation(x, Act::sigmoid, 0); }
Value tanh(Value x) { return activation(x, Act::tanh, 0); }

Value prelu(Value x, Value alpha) {
  require_same_graph(x, alpha, "prelu");
  if (x.shape().size() < 2 || x.dtype() != DType::f32) fail("prelu: input '{}' must be (N, C, ...)", x.name());
  const int64_t c = x.dim(1), na = alpha.numel();
  if (alpha.shape().size() != 1 || (na != 1 && na != c))
    fail("prelu: weight '{}' {} must have 1 or {} elements", alpha.name(), shape_str(alpha.shape()), c);
  return x.graph().add(std::make_unique<PreluOp>(x.dim(0), c, plane(x.shape()), na), {x, alpha}, x.shape());
}

Value max_pool2d(Value x, int64_t kernel, int64_t stride, int64_t padding) {
  require_rank(x, 4, "max_pool2d");
  if (kernel < 1 || stride < 1 || padding < 0 || 2 * padding > kernel)
    fail("max_pool2d: kernel {} stride {} padding {}: need kernel, stride >= 1 and padding <= kernel / 2", kernel,
         stride, padding);
  const int64_t oh = (x.dim(2) + 2 * padding - kernel) / stride + 1,
                ow = (x.dim(3) + 2 * padding - kernel) / stride + 1;
  if (oh < 1 || ow < 1) fail("max_pool2d: kernel {} larger than input {}", kernel, shape_str(x.shape()));
  return x.graph().add(std::make_unique<MaxPoolOp>(x.shape(), kernel, stride, padding, oh, ow), {x},
                       Shape{x.dim(0), x.dim(1), oh, ow});
}

Value avg_pool2d(Value x, int64_t kernel, int64_t stride, Padding p, bool count_include_pad) {
  require_rank(x, 4, "avg_pool2d");
  if (kernel < 1 || stride < 1 || p.h < 0 || p.w < 0) fail("avg_pool2d: kernel and stride >= 1, padding >= 0");
  if (p.rows == Pad::zeros && p.cols == Pad::zeros && (2 * p.h > kernel || 2 * p.w > kernel))
    fail("avg_pool2d: zero padding must be at most half the kernel");
  if ((p.rows == Pad::reflect && p.h >= x.dim(2)) || (p.cols == Pad::reflect && p.w >= x.dim(3)))
    fail("avg_pool2d: reflect padding must be smaller than the input");
  const int64_t oh = (x.dim(2) + 2 * p.h - kernel) / stride + 1, ow = (x.dim(3) + 2 * p.w - kernel) / stride + 1;
  if (oh < 1 || ow < 1) fail("avg_pool2d: kernel {} larger than padded input {}", kernel, shape_str(x.shape()));
  return x.graph().add(std::make_unique<AvgPoolOp>(x.shape(), kernel, stride, p, count_include_pad, oh, ow), {x},
                       Shape{x.dim(0), x.dim(1), oh, ow});
}

Value global_avg_pool(Value x) {
  require_rank(x, 4, "global_avg_pool");
  return x.graph().add(std::make_unique<GlobalAvgPoolOp>(x.dim(0) * x.dim(1), x.dim(2) * x.dim(3)), {x},
                       Shape{x.dim(0), x.dim(1)});
}

Value linear(Value x, Value w, Value b) {
  require_same_graph(x, w, "linear");
  require_rank(x, 2, "linear");
  require_rank(w, 2, "linear", "weight");
  if (w.dim(1) != x.dim(1))
    fail("linear: weight '{}' {} does not fit input '{}' {}", w.name(), shape_str(w.shape()), x.name(),
         shape_str(x.shape()));
  std::vector<Value> ins = {x, w};
  if (b.valid()) {
    require_same_graph(x, b, "linear");
    if (b.shape() != Shape{w.dim(0)}) fail("linear: bias '{}' must be ({})", b.name(), w.dim(0));
    ins.push_back(b);
  }
  return x.graph().add(std::make_unique<LinearOp>(x.dim(0), x.dim(1), w.dim(0), b.valid()), ins,
                       Shape{x.dim(0), w.dim(0)});
}

Value upsample_bilinear(Value x, int64_t oh, int64_t ow, bool align_corners) {
  require_rank(x, 4, "upsample_bilinear");
  if (oh < 1 || ow < 1) fail("upsample_bilinear: output size {}x{} must be positive", oh, ow);
  return x.graph().add(
      std::make_unique<UpsampleOp>(true, align_corners, x.dim(0) * x.dim(1), x.dim(2), x.dim(3), oh, ow), {x},
      Shape{x.dim(0), x.dim(1), oh, ow});
}

Value upsample_nearest(Value x, int64_t oh, int64_t ow) {
  require_rank(x, 4, "upsample_nearest");
  if (oh < 1 || ow < 1) fail("upsample_nearest: output size {}x{} must be positive", oh, ow);
  return x.graph().add(std::make_unique<UpsampleOp>(false, false, x.dim(0) * x.dim(1), x.dim(2), x.dim(3), oh, ow), {x},
                       Shape{x.dim(0), x.dim(1), oh, ow});
}

Value concat(const std::vector<Value>& xs) {
  if (xs.empty()) fail("concat: nothing to concatenate");
  const Value& x0 = xs[0];
  if (x0.shape().size() < 2 || x0.dtype() != DType::f32) fail("concat: inputs must be float (N, C, ...)");
  std::vector<int64_t> cs;
  int64_t total = 0;
  for (const Value& x : xs) {
    require_same_graph(x0, x, "concat");
    Shape a = x.shape(), b = x0.shape();
    if (a.size() != b.size() || a[0] != b[0] || !std::equal(a.begin() + 2, a.end(), b.begin() + 2) ||
        x.dtype() != DType::f32)
      fail("concat: '{}' {} and '{}' {} differ outside the channel axis", x0.name(), shape_str(b), x.name(),
           shape_str(a));
    cs.push_back(x.dim(1));
    total += x.dim(1);
  }
  Shape out = x0.shape();
  out[1] = total;
  return x0.graph().add(std::make_unique<ConcatOp>(x0.dim(0), cs, plane(x0.shape())), xs, out);
}

Value add(Value a, Value b) {
  require_same_graph(a, b, "add");
  if (a.shape() != b.shape() || a.dtype() != DType::f32 || b.dtype() != DType::f32)
    fail("add: shapes {} and {} differ", shape_str(a.shape()), shape_str(b.shape()));
  return a.graph().add(std::make_unique<AddOp>(a.numel()), {a, b}, a.shape());
}

Value mul(Value a, Value b) {
  require_same_graph(a, b, "mul");
  if (a.shape() != b.shape() || a.dtype() != DType::f32 || b.dtype() != DType::f32)
    fail("mul: shapes {} and {} differ", shape_str(a.shape()), shape_str(b.shape()));
  return a.graph().add(std::make_unique<MulOp>(a.numel()), {a, b}, a.shape());
}

Value scale(Value x, double factor) {
  if (x.dtype() != DType::f32) fail("scale: '{}' must be float", x.name());
  return x.graph().add(std::make_unique<ScaleOp>(x.numel(), float(factor)), {x}, x.shape());
}

Value scale_channels(Value x, Value gate) {
  require_same_graph(x, gate, "scale_channels");
  require_rank(x, 4, "scale_channels");
  if (gate.shape() != Shape{x.dim(0), x.dim(1)})
    fail("scale_channels: gate '{}' {} must be (N, C) = ({}, {})", gate.name(), shape_str(gate.shape()), x.dim(0),
         x.dim(1));
  return x.graph().add(std::make_unique<ScaleChannelsOp>(x.dim(0) * x.dim(1), x.dim(2) * x.dim(3)), {x, gate},
                       x.shape());
}

Value dropout(Value x, double p) {
  if (!(p >= 0 && p < 1)) fail("dropout: p = {} must be in [0, 1)", p);
  if (!x.graph().training() || p == 0) return x;
  return x.graph().add(std::make_unique<DropoutOp>(x.numel(), p), {x}, x.shape());
}

Value softmax(Value x) {
  if (x.shape().size() < 2 || x.dtype() != DType::f32) fail("softmax: input '{}' must be float (N, C, ...)", x.name());
  return x.graph().add(std::make_unique<SoftmaxOp>(x.dim(0), x.dim(1), plane(x.shape())), {x}, x.shape());
}

Value reshape(Value x, Shape shape) { return x.graph().alias(x, std::move(shape)); }

void softmax_argmax(const float* x, int64_t c, int64_t hw, int64_t rows, int64_t stride, int64_t len, float* out) {
  if (c < 1 || rows < 0 || len < 0 || stride < len || (rows > 0 && (rows - 1) * stride + len > hw))
    fail("softmax_argmax: {} rows of {} every {} do not fit a plane of {} ({} channels)", rows, len, stride, hw, c);
  kernel_set().ops->softmax_argmax_channels(x, c, hw, rows, stride, len, out);
}

Value cross_entropy(Value logits, Value labels, const LossOptions& o) {
  return make_loss(LossOp::Kind::cross_entropy, logits, labels, o, "cross_entropy");
}
Value jaccard_loss(Value logits, Value labels, const LossOptions& o) {
  return make_loss(LossOp::Kind::jaccard, logits, labels, o, "jaccard_loss");
}
Value dice_loss(Value logits, Value labels, const LossOptions& o) {
  return make_loss(LossOp::Kind::dice, logits, labels, o, "dice_loss");
}

std::string pad_name(Pad mode) {
  switch (mode) {
    case Pad::zeros:
      return "zeros";
    case Pad::circular:
      return "circular";
    case Pad::reflect:
      return "reflect";
  }
  return "?";
}

std::string padding_str(const Padding& p) {
  if (p.rows == p.cols) return fmt::format("{}x{} {}", p.h, p.w, pad_name(p.rows));
  return fmt::format("{}x{} rows {} cols {}", p.h, p.w, pad_name(p.rows), pad_name(p.cols));
}

}  // namespace climseg::nn
