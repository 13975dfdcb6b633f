// Medians of timings, one function per meaning (the benchmarks and the gradient-sync calibration).
#pragma once

#include <algorithm>
#include <vector>

#include "core/mpi.hpp"

namespace climseg {

// The median: the middle value, the mean of the two middle values for an even count; 0 for none.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The upper median: the middle value, the larger of the two middle values for an even count (always
// one of the measured values); 0 for none.
inline double upper_median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// The slowest rank's upper median: the largest of every rank's upper_median(v) (collective over comm).
inline double slowest_rank_upper_median(const std::vector<double>& v, const Comm& comm) {
  return comm.max(upper_median(v));
}

}  // namespace climseg
