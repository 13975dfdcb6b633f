// Learning-rate scaling with the global batch, with gradual warmup.
#include "parallel/lr_scaling.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace climseg::parallel {

LrRule parse_lr_rule(const std::string& name) {
  if (name == "none") return LrRule::none;
  if (name == "linear") return LrRule::linear;
  if (name == "sqrt") return LrRule::sqrt;
  fail_usage("learning-rate scaling rule '{}' is not one of none, linear, sqrt", name);
}

std::string to_string(LrRule rule) {
  switch (rule) {
    case LrRule::none:
      return "none";
    case LrRule::linear:
      return "linear";
    case LrRule::sqrt:
      return "sqrt";
  }
  return "none";
}

double LrScaling::factor(int64_t global_batch) const {
  if (rule == LrRule::none) return 1.0;
  if (global_batch <= 0 || reference_batch <= 0)
    fail_usage("learning-rate scaling needs positive batches (global {}, reference {})", global_batch, reference_batch);
  const double ratio = double(global_batch) / double(reference_batch);
  return rule == LrRule::linear ? ratio : std::sqrt(ratio);
}

double LrScaling::lr(const nn::LrSchedule& schedule, int64_t global_batch, int64_t s) const {
  const double k = factor(global_batch);
  double m = k;
  if (warmup_steps > 1 && s < warmup_steps - 1)
    m = 1.0 + (k - 1.0) * double(std::max<int64_t>(s, 0)) / double(warmup_steps - 1);
  return schedule.lr(s) * m;
}

}  // namespace climseg::parallel
