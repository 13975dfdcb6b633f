// Threshold-and-area detection of extreme significant wave height.
#include "models/heuristics/wave_detector.hpp"

#include <cmath>

#include "analysis/components.hpp"
#include "core/error.hpp"

namespace climseg::heuristics {

void WaveParams::validate() const {
  if (threshold_field.empty() && !(threshold_m > 0)) fail_usage("--waves-threshold {}: must be positive", threshold_m);
  if (!(min_area_km2 >= 0)) fail_usage("--waves-min-area {}: must be 0 or more", min_area_km2);
}

std::vector<uint8_t> detect_extreme_waves(const geo::Grid& g, std::span<const float> hs, std::span<const float> valid,
                                          const WaveParams& p) {
  p.validate();
  const size_t n = size_t(g.size());
  if (hs.size() != n) fail("wave detector: hs has {} cells, the grid {} has {}", hs.size(), g.shape_str(), n);
  if (!valid.empty() && valid.size() != n) fail("wave detector: the validity mask does not match the grid");
  if (!p.threshold_field.empty() && p.threshold_field.size() != n)
    fail("wave detector: the threshold field has {} cells, the grid {}", p.threshold_field.size(), n);
  std::vector<uint8_t> above(n);
  for (size_t k = 0; k < n; ++k) {
    const double thr = p.threshold_field.empty() ? p.threshold_m : double(p.threshold_field[k]);
    above[k] = (valid.empty() || valid[k] != 0.0f) && std::isfinite(hs[k]) && hs[k] > thr;
  }
  auto labels = analysis::label_components(g, above);
  const auto st = analysis::component_stats(g, labels, {.length = false});
  std::vector<bool> keep(size_t(labels.count) + 1, false);
  for (const auto& s : st) keep[size_t(s.id)] = s.area_km2 >= p.min_area_km2;
  for (size_t k = 0; k < n; ++k) above[k] = keep[size_t(labels.labels[k])] ? 1 : 0;
  return above;
}

}  // namespace climseg::heuristics
