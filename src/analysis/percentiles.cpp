// Exact percentiles by sorting (numpy's "linear" method).
#include "analysis/percentiles.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace climseg::analysis {

void linear_percentiles(std::vector<float>& values, std::span<const double> pct, std::span<float> out) {
  values.erase(std::remove_if(values.begin(), values.end(), [](float v) { return std::isnan(v); }), values.end());
  std::sort(values.begin(), values.end());
  for (size_t q = 0; q < pct.size(); ++q) {
    if (values.empty()) {
      out[q] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    const double pos = pct[q] / 100.0 * double(values.size() - 1);
    const size_t lo = size_t(std::floor(pos));
    const size_t hi = std::min(lo + 1, values.size() - 1);
    out[q] = float(double(values[lo]) + (pos - double(lo)) * (double(values[hi]) - double(values[lo])));
  }
}

}  // namespace climseg::analysis
