// Layers: modules holding parameters with PyTorch's names, shapes and default initialisation,
// whose forward() adds their ops to a graph. Networks (models/nets) are built from these.
#pragma once

#include <cstdint>

#include "nn/module.hpp"
#include "nn/ops.hpp"

namespace climseg::nn {

// nn.Conv2d: weight (Cout, Cin/groups, KH, KW), optional bias (Cout).
class Conv2d : public Module {
 public:
  Conv2d(int64_t cin, int64_t cout, int64_t kernel, Conv2dOptions o = {}, bool bias = true);
  Conv2d(int64_t cin, int64_t cout, int64_t kh, int64_t kw, Conv2dOptions o, bool bias);
  Value forward(Value x);
  Value operator()(Value x) { return forward(x); }
  Param& weight() { return *weight_; }
  Param* bias() { return bias_; }
  const Conv2dOptions& options() const { return o_; }

 private:
  Conv2dOptions o_;
  Param* weight_;
  Param* bias_ = nullptr;
};

// nn.ConvTranspose2d: weight (Cin, Cout/groups, KH, KW), optional bias (Cout).
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t cin, int64_t cout, int64_t kernel, ConvTranspose2dOptions o = {}, bool bias = true);
  Value forward(Value x);
  Value operator()(Value x) { return forward(x); }
  Param& weight() { return *weight_; }
  Param* bias() { return bias_; }

 private:
  ConvTranspose2dOptions o_;
  Param* weight_;
  Param* bias_ = nullptr;
};

// nn.BatchNorm2d: weight (C) = 1, bias (C) = 0, buffers running_mean (C) = 0, running_var (C) = 1.
// Train graphs use batch statistics and update the running ones; eval graphs use the running ones.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t c, double eps = 1e-5, double momentum = 0.1);
  Value forward(Value x);
  Value operator()(Value x) { return forward(x); }
  // Running statistics in train graphs too (and no updates): fine-tuning with small batches.
  void freeze(bool frozen = true) { o_.frozen = frozen; }
  const BatchNormOptions& options() const { return o_; }
  Param& weight() { return *weight_; }
  Param& bias() { return *bias_; }
  Param& running_mean() { return *mean_; }
  Param& running_var() { return *var_; }

 private:
  BatchNormOptions o_;
  Param *weight_, *bias_, *mean_, *var_;
};

// nn.PReLU(num_parameters): weight (C) = init (0.25).
class PReLU : public Module {
 public:
  explicit PReLU(int64_t c = 1, double init = 0.25);
  Value forward(Value x);
  Value operator()(Value x) { return forward(x); }
  Param& weight() { return *weight_; }

 private:
  Param* weight_;
};

// nn.Linear: weight (out, in), optional bias (out).
class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, bool bias = true);
  Value forward(Value x);
  Value operator()(Value x) { return forward(x); }
  Param& weight() { return *weight_; }
  Param* bias() { return bias_; }

 private:
  Param* weight_;
  Param* bias_ = nullptr;
};

// BatchNorm then PReLU, children named `bn` and `act` (ClimateNet's BNPReLU), run as one fused op.
class BnPrelu : public Module {
 public:
  explicit BnPrelu(int64_t c, double eps = 1e-3, double momentum = 0.1);
  Value forward(Value x);
  Value operator()(Value x) { return forward(x); }
  BatchNorm2d bn;
  PReLU act;
};

// Applies a BatchNorm2d and a PReLU (any modules) to x as one fused op.
Value batch_norm_prelu(BatchNorm2d& bn, PReLU& act, Value x);

}  // namespace climseg::nn
