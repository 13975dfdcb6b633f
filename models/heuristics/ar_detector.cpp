// Threshold-and-geometry detection of atmospheric rivers from IVT or TMQ.
#include "models/heuristics/ar_detector.hpp"

#include <cmath>

#include "core/error.hpp"
#include "geo/sphere.hpp"

namespace climseg::heuristics {

// Messages name the `climseg label` option that sets each parameter.
void IvtArParams::validate() const {
  if (threshold_field.empty() && !(threshold > 0)) fail_usage("--ivt-threshold {}: must be positive", threshold);
  const std::pair<double, const char*> limits[] = {{min_length_km, "--ar-min-length"},
                                                   {min_aspect, "--ar-min-aspect"},
                                                   {min_area_km2, "--ar-min-area"},
                                                   {min_abs_centroid_lat, "--ar-min-lat"},
                                                   {tropics_sigma_deg, "--ar-tropics-sigma"}};
  for (const auto& [v, option] : limits)
    if (!(v >= 0)) fail_usage("{} {}: must be 0 or more", option, v);
}

void TmqArParams::validate() const {
  if (!(sigma_deg > 0)) fail_usage("--tmq-sigma {}: must be positive", sigma_deg);
  if (!(threshold > 0)) fail_usage("--tmq-threshold {}: must be positive", threshold);
  if (!(min_length_km >= 0)) fail_usage("--tmq-min-length {}: must be 0 or more", min_length_km);
  if (!(max_area_per_length_km > 0)) fail_usage("--tmq-max-width {}: must be positive", max_area_per_length_km);
}

int ArResult::kept_count() const {
  int n = 0;
  for (const auto& o : objects) n += o.kept;
  return n;
}

namespace {

// Components of `above` with their geometry and the peak of `field`, filtered by `keep`.
template <class Keep>
ArResult finish(const geo::Grid& g, const std::vector<uint8_t>& above, std::span<const float> field, Keep keep) {
  ArResult r;
  auto labels = analysis::label_components(g, above);
  auto stats = analysis::component_stats(g, labels, {.field = field});
  std::vector<bool> pass(size_t(labels.count) + 1, false);
  for (const auto& s : stats) {
    ArObject o{s, keep(s)};
    pass[size_t(s.id)] = o.kept;
    r.objects.push_back(o);
  }
  r.mask.assign(above.size(), 0);
  for (size_t k = 0; k < above.size(); ++k) r.mask[k] = pass[size_t(labels.labels[k])] ? 1 : 0;
  return r;
}

}  // namespace

ArResult detect_ar_ivt(const geo::Grid& g, std::span<const float> ivt, const IvtArParams& p) {
  p.validate();
  const size_t n = size_t(g.size());
  if (ivt.size() != n) fail("river detector: IVT has {} cells, the grid {} has {}", ivt.size(), g.shape_str(), n);
  if (!p.threshold_field.empty() && p.threshold_field.size() != n)
    fail("river detector: the IVT threshold field has {} cells, the grid {}", p.threshold_field.size(), n);
  std::vector<uint8_t> above(n);
  const std::vector<double> damp =
      p.tropics_sigma_deg > 0 ? geo::latitude_damping(g, p.tropics_sigma_deg) : std::vector<double>(g.lat.size(), 1.0);
  const size_t W = size_t(g.width());
  for (size_t k = 0; k < n; ++k)
    above[k] = ivt[k] * damp[k / W] >= (p.threshold_field.empty() ? p.threshold : double(p.threshold_field[k]));
  return finish(g, above, ivt, [&](const analysis::ComponentStats& s) {
    return s.area_km2 >= p.min_area_km2 && s.length_km >= p.min_length_km && s.length_km >= p.min_aspect * s.width_km &&
           std::abs(s.centroid_lat) >= p.min_abs_centroid_lat;
  });
}

ArResult detect_ar_tmq(const geo::Grid& g, std::span<const float> tmq, const TmqArParams& p) {
  p.validate();
  const size_t n = size_t(g.size());
  if (tmq.size() != n) fail("river detector: TMQ has {} cells, the grid {} has {}", tmq.size(), g.shape_str(), n);
  const auto damp = geo::latitude_damping(g, p.sigma_deg);
  std::vector<uint8_t> above(n);
  const size_t W = size_t(g.width());
  for (size_t k = 0; k < n; ++k) above[k] = tmq[k] * damp[k / W] >= p.threshold;
  return finish(g, above, tmq, [&](const analysis::ComponentStats& s) {
    return s.length_km >= p.min_length_km && s.area_km2 / std::max(1e-9, s.length_km) < p.max_area_per_length_km;
  });
}

}  // namespace climseg::heuristics
