// Layers with PyTorch's parameter names, shapes and default initialisation.
#include "nn/layers.hpp"

#include "core/error.hpp"

namespace climseg::nn {

Conv2d::Conv2d(int64_t cin, int64_t cout, int64_t kernel, Conv2dOptions o, bool bias)
    : Conv2d(cin, cout, kernel, kernel, o, bias) {}

Conv2d::Conv2d(int64_t cin, int64_t cout, int64_t kh, int64_t kw, Conv2dOptions o, bool bias) : o_(o) {
  if (cin < 1 || cout < 1 || kh < 1 || kw < 1 || o.groups < 1 || cin % o.groups != 0 || cout % o.groups != 0)
    fail("Conv2d({}, {}, {}x{}, groups {}): channels must be positive and divisible by groups", cin, cout, kh, kw,
         o.groups);
  const int64_t fan_in = cin / o.groups * kh * kw;
  weight_ = &register_parameter("weight", {cout, cin / o.groups, kh, kw}, Init::torch_default(fan_in));
  if (bias) bias_ = &register_parameter("bias", {cout}, Init::torch_default(fan_in));
}

Value Conv2d::forward(Value x) {
  Graph& g = x.graph();
  return conv2d(x, g.param(*weight_), bias_ ? g.param(*bias_) : Value{}, o_);
}

ConvTranspose2d::ConvTranspose2d(int64_t cin, int64_t cout, int64_t kernel, ConvTranspose2dOptions o, bool bias)
    : o_(o) {
  if (cin < 1 || cout < 1 || kernel < 1 || o.groups < 1 || cin % o.groups != 0 || cout % o.groups != 0)
    fail("ConvTranspose2d({}, {}, {}): channels must be positive and divisible by groups", cin, cout, kernel);
  // PyTorch computes fan_in from weight.size(1) * kernel area.
  const int64_t fan_in = cout / o.groups * kernel * kernel;
  weight_ = &register_parameter("weight", {cin, cout / o.groups, kernel, kernel}, Init::torch_default(fan_in));
  if (bias) bias_ = &register_parameter("bias", {cout}, Init::torch_default(fan_in));
}

Value ConvTranspose2d::forward(Value x) {
  Graph& g = x.graph();
  return conv_transpose2d(x, g.param(*weight_), bias_ ? g.param(*bias_) : Value{}, o_);
}

BatchNorm2d::BatchNorm2d(int64_t c, double eps, double momentum) {
  if (c < 1) fail("BatchNorm2d: {} channels", c);
  o_.eps = eps;
  o_.momentum = momentum;
  weight_ = &register_parameter("weight", {c}, Init::ones(), true);
  bias_ = &register_parameter("bias", {c}, Init::zeros(), true);
  mean_ = &register_buffer("running_mean", {c}, Init::zeros());
  var_ = &register_buffer("running_var", {c}, Init::ones());
}

Value BatchNorm2d::forward(Value x) {
  Graph& g = x.graph();
  return batch_norm2d(x, g.param(*weight_), g.param(*bias_), *mean_, *var_, o_);
}

PReLU::PReLU(int64_t c, double init) {
  if (c < 1) fail("PReLU: {} parameters", c);
  weight_ = &register_parameter("weight", {c}, Init::constant(init));
}

Value PReLU::forward(Value x) { return prelu(x, x.graph().param(*weight_)); }

Linear::Linear(int64_t in, int64_t out, bool bias) {
  if (in < 1 || out < 1) fail("Linear({}, {}): sizes must be positive", in, out);
  weight_ = &register_parameter("weight", {out, in}, Init::torch_default(in));
  if (bias) bias_ = &register_parameter("bias", {out}, Init::torch_default(in));
}

Value Linear::forward(Value x) {
  Graph& g = x.graph();
  return linear(x, g.param(*weight_), bias_ ? g.param(*bias_) : Value{});
}

BnPrelu::BnPrelu(int64_t c, double eps, double momentum) : bn(c, eps, momentum), act(c) {
  register_module("bn", bn);
  register_module("act", act);
}

Value BnPrelu::forward(Value x) { return batch_norm_prelu(bn, act, x); }

Value batch_norm_prelu(BatchNorm2d& bn, PReLU& act, Value x) {
  Graph& g = x.graph();
  return batch_norm_prelu(x, g.param(bn.weight()), g.param(bn.bias()), g.param(act.weight()), bn.running_mean(),
                          bn.running_var(), bn.options());
}

}  // namespace climseg::nn
