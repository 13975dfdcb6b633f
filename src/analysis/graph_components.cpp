// Connected components over the neighbours of an unstructured grid.
#include "analysis/graph_components.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace climseg::analysis {

ComponentLabels label_components(const geo::UnstructuredGrid& g, std::span<const uint8_t> mask) {
  const int64_t n = g.size();
  if (int64_t(mask.size()) != n) fail("components: the mask has {} values, the grid has {} columns", mask.size(), n);
  ComponentLabels out;
  out.labels.assign(size_t(n), 0);
  std::vector<int32_t> stack;
  for (int64_t s = 0; s < n; ++s) {
    if (!mask[size_t(s)] || out.labels[size_t(s)] != 0) continue;
    const int32_t id = ++out.count;
    out.labels[size_t(s)] = id;
    stack.assign(1, int32_t(s));
    while (!stack.empty()) {
      const int32_t c = stack.back();
      stack.pop_back();
      for (int32_t m : g.neighbours_of(c))
        if (mask[size_t(m)] && out.labels[size_t(m)] == 0) {
          out.labels[size_t(m)] = id;
          stack.push_back(m);
        }
    }
  }
  return out;
}

std::vector<ComponentStats> component_stats(const geo::UnstructuredGrid& g, const ComponentLabels& labels,
                                            const StatsOptions& options) {
  const int64_t n = g.size();
  if (int64_t(labels.labels.size()) != n) fail("components: labels and grid differ in size");
  if (!options.field.empty() && int64_t(options.field.size()) != n)
    fail("components: the field and grid differ in size");
  const size_t count = size_t(labels.count);
  std::vector<ComponentStats> st(count);
  std::vector<geo::Vec3> sum(count);
  std::vector<std::vector<int32_t>> boundary(count);
  for (size_t c = 0; c < count; ++c) {
    st[c].id = int32_t(c + 1);
    st[c].lat_min = 90;
    st[c].lat_max = -90;
  }
  for (int64_t i = 0; i < n; ++i) {
    const int32_t id = labels.labels[size_t(i)];
    if (id <= 0) continue;
    ComponentStats& s = st[size_t(id - 1)];
    const double a = g.area_m2[size_t(i)];
    ++s.cells;
    s.area_km2 += a * 1e-6;
    sum[size_t(id - 1)] = sum[size_t(id - 1)] + a * g.xyz[size_t(i)];
    s.lat_min = std::min(s.lat_min, g.lat[size_t(i)]);
    s.lat_max = std::max(s.lat_max, g.lat[size_t(i)]);
    bool edge = false;
    for (int32_t m : g.neighbours_of(i)) edge = edge || labels.labels[size_t(m)] != id;
    if (edge || g.neighbours_of(i).empty()) boundary[size_t(id - 1)].push_back(int32_t(i));
    if (!options.field.empty()) {
      const float v = options.field[size_t(i)];
      const bool valid = std::isfinite(v) && (options.valid.empty() || options.valid[size_t(i)] != 0.0f);
      if (valid && (!s.has_peak || (options.peak_is_minimum ? v < s.peak_value : v > s.peak_value))) {
        s.has_peak = true;
        s.peak_value = v;
        s.peak_lat = g.lat[size_t(i)];
        s.peak_lon = g.lon[size_t(i)];
      }
    }
  }
  for (size_t c = 0; c < count; ++c) {
    ComponentStats& s = st[c];
    geo::lat_lon_of(sum[c], s.centroid_lat, s.centroid_lon);
    s.lon_west = s.lon_east = s.centroid_lon;
  }
  // Longitude extent around each centroid (cells east or west of it by up to 180°).
  std::vector<double> west(count, 0.0), east(count, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t id = labels.labels[size_t(i)];
    if (id <= 0) continue;
    double d = std::fmod(g.lon[size_t(i)] - st[size_t(id - 1)].centroid_lon + 540.0, 360.0) - 180.0;
    west[size_t(id - 1)] = std::min(west[size_t(id - 1)], d);
    east[size_t(id - 1)] = std::max(east[size_t(id - 1)], d);
  }
  for (size_t c = 0; c < count; ++c) {
    auto wrap = [](double l) { return std::fmod(std::fmod(l, 360.0) + 360.0, 360.0); };
    st[c].lon_west = wrap(st[c].centroid_lon + west[c]);
    st[c].lon_east = wrap(st[c].centroid_lon + east[c]);
  }
  if (options.length) {
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < count; ++c) {
      const auto& b = boundary[c];
      double min_dot = 1.0;
      for (size_t x = 0; x < b.size(); ++x)
        for (size_t y = x + 1; y < b.size(); ++y)
          min_dot = std::min(min_dot, geo::dot(g.xyz[size_t(b[x])], g.xyz[size_t(b[y])]));
      st[c].length_km = std::acos(std::clamp(min_dot, -1.0, 1.0)) * geo::kEarthRadius * 1e-3;
      st[c].width_km = st[c].length_km > 0 ? st[c].area_km2 / st[c].length_km : 0.0;
    }
  }
  return st;
}

}  // namespace climseg::analysis
