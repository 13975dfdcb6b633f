// The median the benchmarks report (private to models/bench).
#pragma once

#include <algorithm>
#include <vector>

namespace climseg::bench {

// The median of v (the mean of the two middle values for an even count); 0 for none.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace climseg::bench
