// Optimizer updates over the parameter arena, schedules and gradient clipping.
#include "nn/optim.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "core/error.hpp"

namespace climseg::nn {
namespace {

// Sum of squares of a[0, n) in double, by fixed chunks added in order.
double sum_squares(const float* a, int64_t n) {
  constexpr int64_t kChunks = 4096;
  const int64_t chunk = std::max<int64_t>(16384, (n + kChunks - 1) / kChunks);
  const int64_t nc = (n + chunk - 1) / chunk;
  std::array<double, kChunks> part{};
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < nc; ++c) {
    const int64_t b = c * chunk, e = std::min(n, b + chunk);
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = b; i < e; ++i) s += double(a[i]) * double(a[i]);
    part[static_cast<size_t>(c)] = s;
  }
  double total = 0;
  for (int64_t c = 0; c < nc; ++c) total += part[static_cast<size_t>(c)];
  return total;
}

}  // namespace

Optimizer::Optimizer(Parameters& params) : params_(&params) {
  // Parameters sit in arena order; merge neighbours with the same decay flag (padding between
  // slots is zero in data and gradient, so updating it changes nothing).
  for (Param* p : params.params()) {
    const int64_t e = p->offset + p->numel;
    if (!runs_.empty() && runs_.back().decay == p->decay)
      runs_.back().end = e;
    else
      runs_.push_back({runs_.empty() ? 0 : runs_.back().end, e, p->decay});
  }
}

// ------------------------------------------------------------------ SGD

Sgd::Sgd(Parameters& params, SgdOptions o) : Optimizer(params), o_(o) {
  if (o.momentum < 0 || o.weight_decay < 0 || (o.nesterov && (o.momentum <= 0 || o.dampening != 0)))
    fail_usage("SGD: momentum and weight decay must be >= 0; Nesterov needs momentum > 0 and zero dampening");
  if (o.momentum != 0) buf_ = Tensor(Shape{params.size()});
}

void Sgd::step(double lr) {
  float* p = params_->data();
  const float* g = params_->grad();
  float* buf = buf_.data();
  const float mom = float(o_.momentum), damp = float(1.0 - o_.dampening), flr = float(lr);
  const bool first = steps_ == 0;
  for (const Run& r : runs_) {
    const float wd = r.decay ? float(o_.weight_decay) : 0.0f;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = r.begin; i < r.end; ++i) {
      float d = wd != 0 ? g[i] + wd * p[i] : g[i];
      if (mom != 0) {
        float b = first ? d : buf[i] * mom + damp * d;
        buf[i] = b;
        d = o_.nesterov ? d + mom * b : b;
      }
      p[i] = p[i] - flr * d;
    }
  }
  ++steps_;
}

std::string Sgd::hyper_json() const {
  return fmt::format(R"({{"momentum": {}, "dampening": {}, "weight_decay": {}, "nesterov": {}}})", o_.momentum,
                     o_.dampening, o_.weight_decay, o_.nesterov);
}

std::vector<std::pair<std::string, Tensor*>> Sgd::state() {
  if (o_.momentum == 0) return {};
  return {{"momentum_buffer", &buf_}};
}

// ------------------------------------------------------------------ Adam / AdamW

Adam::Adam(Parameters& params, AdamOptions o, bool decoupled)
    : Optimizer(params), o_(o), decoupled_(decoupled), m_(Shape{params.size()}), v_(Shape{params.size()}) {
  if (o.beta1 < 0 || o.beta1 >= 1 || o.beta2 < 0 || o.beta2 >= 1 || o.eps <= 0 || o.weight_decay < 0)
    fail_usage("Adam: need 0 <= beta < 1, eps > 0, weight decay >= 0");
}

void Adam::step(double lr) {
  ++steps_;
  const double t = double(steps_);
  const double bc1 = 1.0 - std::pow(o_.beta1, t), bc2 = 1.0 - std::pow(o_.beta2, t);
  // PyTorch's scalars: step_size and sqrt(bc2) in double, used as float by the tensor kernels.
  const float step_size = float(lr / bc1), bc2_sqrt = float(std::sqrt(bc2));
  const float b1 = float(o_.beta1), b2 = float(o_.beta2), a1 = float(1.0 - o_.beta1), a2 = float(1.0 - o_.beta2);
  const float eps = float(o_.eps);
  float* p = params_->data();
  const float* g = params_->grad();
  float* m = m_.data();
  float* v = v_.data();
  for (const Run& r : runs_) {
    const float wd = r.decay ? float(o_.weight_decay) : 0.0f;
    const float shrink = float(1.0 - lr * (r.decay ? o_.weight_decay : 0.0));
#pragma omp parallel for simd schedule(static)
    for (int64_t i = r.begin; i < r.end; ++i) {
      float gi = g[i], pi = p[i];
      if (decoupled_)
        pi = pi * shrink;
      else if (wd != 0)
        gi = gi + wd * pi;
      float mi = m[i] * b1 + a1 * gi;
      float vi = v[i] * b2 + a2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      float denom = std::sqrt(vi) / bc2_sqrt + eps;
      p[i] = pi - step_size * (mi / denom);
    }
  }
}

std::string Adam::hyper_json() const {
  return fmt::format(R"({{"beta1": {}, "beta2": {}, "eps": {}, "weight_decay": {}, "decoupled": {}}})", o_.beta1,
                     o_.beta2, o_.eps, o_.weight_decay, decoupled_);
}

std::vector<std::pair<std::string, Tensor*>> Adam::state() { return {{"exp_avg", &m_}, {"exp_avg_sq", &v_}}; }

// ------------------------------------------------------------------ LAMB

Lamb::Lamb(Parameters& params, LambOptions o)
    : Optimizer(params), o_(o), m_(Shape{params.size()}), v_(Shape{params.size()}), u_(Shape{params.size()}) {
  if (o.beta1 < 0 || o.beta1 >= 1 || o.beta2 < 0 || o.beta2 >= 1 || o.eps <= 0 || o.weight_decay < 0)
    fail_usage("LAMB: need 0 <= beta < 1, eps > 0, weight decay >= 0");
}

void Lamb::step(double lr) {
  ++steps_;
  const double t = double(steps_);
  const float bc1 = float(1.0 - std::pow(o_.beta1, t)), bc2 = float(1.0 - std::pow(o_.beta2, t));
  const float b1 = float(o_.beta1), b2 = float(o_.beta2), a1 = float(1.0 - o_.beta1), a2 = float(1.0 - o_.beta2);
  const float eps = float(o_.eps);
  float* p = params_->data();
  const float* g = params_->grad();
  float* m = m_.data();
  float* v = v_.data();
  float* u = u_.data();
  const auto& ps = params_->params();
  // Each tensor is handled by one thread (its norms summed in a fixed order).
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t k = 0; k < ps.size(); ++k) {
    const Param& prm = *ps[k];
    const float wd = prm.decay ? float(o_.weight_decay) : 0.0f;
    const int64_t b = prm.offset, e = prm.offset + prm.numel;
    double pn = 0, un = 0;
    for (int64_t i = b; i < e; ++i) {
      float mi = m[i] * b1 + a1 * g[i];
      float vi = v[i] * b2 + a2 * g[i] * g[i];
      m[i] = mi;
      v[i] = vi;
      float ui = (mi / bc1) / (std::sqrt(vi / bc2) + eps) + wd * p[i];
      u[i] = ui;
      pn += double(p[i]) * p[i];
      un += double(ui) * ui;
    }
    const double trust = pn > 0 && un > 0 ? std::sqrt(pn) / std::sqrt(un) : 1.0;
    const float scale = float(lr * trust);
    for (int64_t i = b; i < e; ++i) p[i] -= scale * u[i];
  }
}

std::string Lamb::hyper_json() const {
  return fmt::format(R"({{"beta1": {}, "beta2": {}, "eps": {}, "weight_decay": {}}})", o_.beta1, o_.beta2, o_.eps,
                     o_.weight_decay);
}

std::vector<std::pair<std::string, Tensor*>> Lamb::state() { return {{"exp_avg", &m_}, {"exp_avg_sq", &v_}}; }

// ------------------------------------------------------------------ clipping and schedules

double grad_norm(const Parameters& params) { return std::sqrt(sum_squares(params.grad(), params.size())); }

double clip_grad_norm(Parameters& params, double max_norm) {
  const double norm = grad_norm(params);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    const float c = float(coef);
    float* g = params.grad();
    const int64_t n = params.size();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) g[i] *= c;
  }
  return norm;
}

double LrSchedule::lr(int64_t s) const {
  if (s < 0) s = 0;
  if (s < warmup_steps) return base_lr * double(s + 1) / double(warmup_steps);
  switch (kind) {
    case Kind::constant:
      return base_lr;
    case Kind::step:
      return base_lr * std::pow(gamma, double(s / std::max<int64_t>(step_size, 1)));
    case Kind::multistep: {
      int64_t k = 0;
      for (int64_t m : milestones) k += m <= s ? 1 : 0;
      return base_lr * std::pow(gamma, double(k));
    }
    case Kind::cosine: {
      const int64_t span = total_steps - warmup_steps;
      if (span <= 0 || s >= total_steps) return min_lr;
      const double f = double(s - warmup_steps) / double(span);
      return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * f));
    }
  }
  return base_lr;
}

LrSchedule::Kind LrSchedule::parse_kind(const std::string& name) {
  if (name == "constant") return Kind::constant;
  if (name == "step") return Kind::step;
  if (name == "multistep") return Kind::multistep;
  if (name == "cosine") return Kind::cosine;
  fail_usage("unknown learning-rate schedule '{}' (use constant, step, multistep or cosine)", name);
}

}  // namespace climseg::nn
