// Optimizers over the contiguous parameter/gradient arenas (SGD, Adam, AdamW, LAMB) with PyTorch's
// exact update formulas, learning-rate schedules, and clipping by the global gradient norm.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.hpp"
#include "nn/module.hpp"

namespace climseg::nn {

class Optimizer {
 public:
  explicit Optimizer(Parameters& params);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter from its gradient, with learning rate `lr`.
  virtual void step(double lr) = 0;
  virtual std::string name() const = 0;
  // Hyper-parameters as a JSON object (stored in checkpoints).
  virtual std::string hyper_json() const = 0;
  // Per-parameter state arenas (same layout as the parameters), by PyTorch's state names.
  virtual std::vector<std::pair<std::string, Tensor*>> state() { return {}; }

  int64_t steps() const { return steps_; }  // updates done
  void set_steps(int64_t n) { steps_ = n; }
  Parameters& parameters() { return *params_; }

 protected:
  // Maximal runs [begin, end) of the arena whose parameters share one weight-decay flag.
  struct Run {
    int64_t begin, end;
    bool decay;
  };
  Parameters* params_;
  std::vector<Run> runs_;
  int64_t steps_ = 0;
};

struct SgdOptions {
  double momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
};
// torch.optim.SGD: g += wd p; buf = g (first step) or momentum buf + (1 - dampening) g;
// g = nesterov ? g + momentum buf : buf; p -= lr g.
class Sgd : public Optimizer {
 public:
  Sgd(Parameters& params, SgdOptions o);
  void step(double lr) override;
  std::string name() const override { return "sgd"; }
  std::string hyper_json() const override;
  std::vector<std::pair<std::string, Tensor*>> state() override;

 private:
  SgdOptions o_;
  Tensor buf_;
};

struct AdamOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
};
// torch.optim.Adam (weight decay added to the gradient) and, with decoupled = true, torch.optim.AdamW
// (p *= 1 - lr wd before the Adam step):
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
class Adam : public Optimizer {
 public:
  Adam(Parameters& params, AdamOptions o, bool decoupled_weight_decay = false);
  void step(double lr) override;
  std::string name() const override { return decoupled_ ? "adamw" : "adam"; }
  std::string hyper_json() const override;
  std::vector<std::pair<std::string, Tensor*>> state() override;

 private:
  AdamOptions o_;
  bool decoupled_;
  Tensor m_, v_;
};

// torch.optim.AdamW's defaults (weight decay 0.01).
inline std::unique_ptr<Adam> make_adamw(Parameters& params, AdamOptions o = {0.9, 0.999, 1e-8, 0.01}) {
  return std::make_unique<Adam>(params, o, true);
}

struct LambOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-6, weight_decay = 0.01;
};
// LAMB (You et al. 2020), per parameter tensor:
//   m, v as Adam; u = m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps) + wd p;
//   p -= lr * (|p| > 0 and |u| > 0 ? |p| / |u| : 1) * u
class Lamb : public Optimizer {
 public:
  Lamb(Parameters& params, LambOptions o);
  void step(double lr) override;
  std::string name() const override { return "lamb"; }
  std::string hyper_json() const override;
  std::vector<std::pair<std::string, Tensor*>> state() override;

 private:
  LambOptions o_;
  Tensor m_, v_, u_;
};

// Global L2 norm of the gradient arena, summed in double in fixed chunks: the same bits for any
// thread count.
double grad_norm(const Parameters& params);
// torch.nn.utils.clip_grad_norm_: scales every gradient by max_norm / (norm + 1e-6) when that is
// below 1. Returns the norm before clipping.
double clip_grad_norm(Parameters& params, double max_norm);

// Learning rate as a function of the update index s = 0, 1, 2, ...:
//   warmup (s < warmup_steps): base * (s + 1) / warmup_steps;
//   then constant: base; step: base * gamma^floor(s / step_size);
//   multistep: base * gamma^(number of milestones <= s);
//   cosine: min_lr + (base - min_lr) (1 + cos(pi (s - warmup) / (total - warmup))) / 2, min_lr from s >= total.
struct LrSchedule {
  enum class Kind { constant, step, multistep, cosine } kind = Kind::constant;
  double base_lr = 1e-3;
  int64_t warmup_steps = 0;
  int64_t step_size = 1;
  double gamma = 0.1;
  std::vector<int64_t> milestones;
  int64_t total_steps = 1;
  double min_lr = 0;

  double lr(int64_t s) const;
  // Parses "constant", "step", "multistep", "cosine" (throws UsageError otherwise).
  static Kind parse_kind(const std::string& name);
};

}  // namespace climseg::nn
