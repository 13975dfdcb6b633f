// Learning-rate scaling with the global batch: hand-worked values of the linear and square-root
// rules and of the gradual warmup on top of the engine's schedules.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "parallel/lr_scaling.hpp"

using namespace climseg;
using parallel::LrRule;

TEST(LrScaling, Factors) {
  parallel::LrScaling s{LrRule::linear, 8, 0};
  EXPECT_DOUBLE_EQ(s.factor(8), 1.0);
  EXPECT_DOUBLE_EQ(s.factor(64), 8.0);
  s.rule = LrRule::sqrt;
  EXPECT_DOUBLE_EQ(s.factor(32), 2.0);
  EXPECT_DOUBLE_EQ(s.factor(8 * 1024), 32.0);
  s.rule = LrRule::none;
  EXPECT_DOUBLE_EQ(s.factor(1 << 20), 1.0);
  s.rule = LrRule::linear;
  EXPECT_THROW(s.factor(0), UsageError);
  s.reference_batch = 0;
  EXPECT_THROW(s.factor(8), UsageError);
}

TEST(LrScaling, WarmupRisesFromTheBaseRateToTheScaledRate) {
  nn::LrSchedule constant;
  constant.base_lr = 0.1;
  parallel::LrScaling s{LrRule::linear, 4, 5};  // 4 -> 16: k = 4, ramp over steps 0..4
  EXPECT_DOUBLE_EQ(s.lr(constant, 16, 0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr(constant, 16, 1), 0.1 * (1 + 3 * 0.25));
  EXPECT_DOUBLE_EQ(s.lr(constant, 16, 2), 0.1 * 2.5);
  EXPECT_DOUBLE_EQ(s.lr(constant, 16, 4), 0.4);
  EXPECT_DOUBLE_EQ(s.lr(constant, 16, 1000), 0.4);
  // The schedule's own shape is kept: cosine to zero at step 10 (after the ramp), scaled by k.
  nn::LrSchedule cosine;
  cosine.kind = nn::LrSchedule::Kind::cosine;
  cosine.base_lr = 0.1;
  cosine.total_steps = 10;
  EXPECT_NEAR(s.lr(cosine, 16, 5), 4 * 0.1 * 0.5 * (1 + std::cos(M_PI * 0.5)), 1e-15);
  EXPECT_DOUBLE_EQ(s.lr(cosine, 16, 10), 0.0);
}

TEST(LrScaling, ParsesRules) {
  EXPECT_EQ(parallel::parse_lr_rule("sqrt"), LrRule::sqrt);
  EXPECT_EQ(parallel::to_string(parallel::parse_lr_rule("linear")), "linear");
  EXPECT_THROW(parallel::parse_lr_rule("cubic"), UsageError);
}
