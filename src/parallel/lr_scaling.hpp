// Learning rate for a larger global batch: the linear rule (Goyal et al. 2017) or the square-root
// rule (Krizhevsky 2014; suited to Adam/LAMB), reached by a gradual warmup from the rate tuned on
// the reference batch.
#pragma once

#include <cstdint>
#include <string>

#include "nn/optim.hpp"

namespace climseg::parallel {

enum class LrRule { none, linear, sqrt };

// "none", "linear", "sqrt" (throws UsageError naming the value otherwise).
LrRule parse_lr_rule(const std::string& name);
std::string to_string(LrRule rule);

struct LrScaling {
  LrRule rule = LrRule::none;
  int64_t reference_batch = 0;  // the global batch the base rate was tuned for (e.g. one rank's batch)
  int64_t warmup_steps = 0;     // steps to ramp from the base rate to the scaled one (Goyal: ~5 epochs)

  // The factor k the base rate is multiplied by for this global batch: none 1, linear B/B0, sqrt
  // sqrt(B/B0). Throws UsageError when a batch is not positive.
  double factor(int64_t global_batch) const;
  // The learning rate at update s: the schedule's own rate times a multiplier that rises linearly
  // from 1 at s = 0 to k at s = warmup_steps - 1 (then stays k), so the run starts at the
  // small-batch rate and the schedule's own shape (cosine, steps) is kept.
  double lr(const nn::LrSchedule& schedule, int64_t global_batch, int64_t s) const;
};

}  // namespace climseg::parallel
