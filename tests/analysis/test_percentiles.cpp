// analysis::linear_percentiles against numpy.nanpercentile (method "linear") and by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "analysis/percentiles.hpp"

using climseg::analysis::linear_percentiles;

TEST(Percentiles, MatchNumpyNanpercentile) {
  // numpy: np.nanpercentile([3.5, -1, nan, 7.25, 2, 2, 10], p) for these p, cast to float32.
  // By hand: sorted valid values -1, 2, 2, 3.5, 7.25, 10 (n = 6); p is read at p/100 * 5, e.g.
  // p62.5 at 3.125: 3.5 + 0.125 * (7.25 - 3.5) = 3.96875.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> values = {3.5f, -1.0f, nan, 7.25f, 2.0f, 2.0f, 10.0f};
  const std::vector<double> p = {0, 10, 25, 50, 62.5, 90, 99.5, 100};
  const std::vector<float> numpy = {-1.0f, 0.5f, 2.0f, 2.75f, 3.96875f, 8.625f, 9.93125f, 10.0f};
  std::vector<float> out(p.size());
  linear_percentiles(values, p, out);
  for (size_t k = 0; k < p.size(); ++k) EXPECT_EQ(out[k], numpy[k]) << "p" << p[k];
}

TEST(Percentiles, OneValueAndNoValue) {
  std::vector<float> one = {4.0f};
  const std::vector<double> p = {0, 37, 100};
  std::vector<float> out(3);
  linear_percentiles(one, p, out);
  for (float v : out) EXPECT_EQ(v, 4.0f);
  std::vector<float> none = {std::nanf(""), std::nanf("")};
  linear_percentiles(none, p, out);
  for (float v : out) EXPECT_TRUE(std::isnan(v));
}
