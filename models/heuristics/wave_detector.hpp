// Extreme ocean waves in one time step: significant wave height above an absolute threshold or a
// per-cell threshold (a local percentile over the archive), in patches of at least a minimum area.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "geo/grid.hpp"

namespace climseg::heuristics {

struct WaveParams {
  double threshold_m = 8.0;                // Hs above this (m) ...
  std::span<const float> threshold_field;  // ... or above this (H, W) field when given
  double min_area_km2 = 5.0e4;             // smaller patches are dropped
  void validate() const;
};

// hs (H, W) in m; `valid` (H, W, 1/0) optional marks ocean cells with data (land is not a wave).
// Returns (H, W) with 1 in extreme-wave patches.
std::vector<uint8_t> detect_extreme_waves(const geo::Grid& grid, std::span<const float> hs,
                                          std::span<const float> valid, const WaveParams& params);

}  // namespace climseg::heuristics
