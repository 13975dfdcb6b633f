// Kurth et al. cyclone masks: local-percentile segmentation in a storm-scaled box.
#include "models/heuristics/tc_mask.hpp"

#include <algorithm>
#include <cmath>
#include <exception>

#include "analysis/components.hpp"
#include "core/error.hpp"

namespace climseg::heuristics {

void TcMaskParams::validate() const {
  if (!(percentile >= 0 && percentile < 100)) fail_usage("--tc-mask-percentile {}: must be in [0, 100)", percentile);
  if (!(min_half_box_deg > 0) || !(max_half_box_deg >= min_half_box_deg) || max_half_box_deg > 45)
    fail_usage("cyclone mask: box half-widths {}..{} degrees are not valid", min_half_box_deg, max_half_box_deg);
  if (!(box_pad_deg >= 0)) fail_usage("--tc-mask-pad {}: must be 0 or more", box_pad_deg);
  if (!(radius_scale >= 0)) fail_usage("cyclone mask: the radius scale must be >= 0, got {}", radius_scale);
}

double percentile(std::vector<float>& v, double q) {
  if (v.empty()) return 0.0;
  const double pos = q / 100.0 * double(v.size() - 1);
  const size_t lo = size_t(std::floor(pos));
  std::nth_element(v.begin(), v.begin() + long(lo), v.end());
  const double a = v[lo];
  if (lo + 1 >= v.size()) return a;
  const double b = *std::min_element(v.begin() + long(lo) + 1, v.end());
  return a + (pos - double(lo)) * (b - a);
}

double storm_radius_deg(const geo::Grid& g, std::span<const float> wind, double lat, double lon, double gale,
                        double max_deg) {
  const double step = std::max(1e-3, 0.5 * std::min(std::abs(g.dlat()), g.dlon()));
  const int n = std::max(1, int(std::ceil(max_deg / step)));
  double sum = 0;
  for (int d = 0; d < 8; ++d) {
    bool reached = geo::interpolate(g, wind, lat, lon) >= gale;
    double r = 0;
    for (int k = 1; k <= n; ++k) {
      const double dist = std::min(max_deg, k * step);
      const geo::LatLon p = geo::destination(lat, lon, 45.0 * d, dist);
      const bool strong = geo::interpolate(g, wind, p.lat, p.lon) >= gale;
      if (strong) {
        reached = true;
        r = dist;
      } else if (reached) {
        break;
      }
    }
    sum += r;
  }
  return sum / 8.0;
}

namespace {

void check_mask_fields(const geo::Grid& g, const TcMaskFields& f, const TcMaskParams& p) {
  p.validate();
  const int64_t H = g.height(), W = g.width();
  bool any = false;
  for (const auto& x : {f.tmq, f.wind, f.precip}) {
    if (x.empty()) continue;
    any = true;
    if (x.size() != size_t(H * W)) fail("cyclone mask: a field has {} cells, the grid {}", x.size(), H * W);
  }
  if (!any) fail("cyclone mask: none of TMQ, wind speed and precipitation is available");
}

// The mask of one centre as runs (appended to `runs`); the fields are checked.
void centre_mask(const geo::Grid& g, const TcMaskFields& f, const geo::LatLon& c, const TcMaskParams& p,
                 std::vector<MaskRun>& runs) {
  const int64_t H = g.height(), W = g.width();
  const std::span<const float> fields[3] = {f.tmq, f.wind, f.precip};
  {
    const double radius =
        f.wind.empty() ? 0.0 : storm_radius_deg(g, f.wind, c.lat, c.lon, p.gale_wind, p.max_half_box_deg);
    const double half = std::clamp(p.radius_scale * radius + p.box_pad_deg, p.min_half_box_deg, p.max_half_box_deg);

    // The box: rows within ±half of latitude, columns within ±half / cos(lat) of longitude.
    std::vector<int64_t> rows, cols;
    for (int64_t i = 0; i < H; ++i)
      if (std::abs(g.lat[size_t(i)] - c.lat) <= half) rows.push_back(i);
    const double coslat = std::max(0.05, std::cos(c.lat * geo::kDegToRad));
    const double half_lon = std::min(180.0, half / coslat);
    geo::Grid box;
    for (int64_t j = 0; j < W; ++j) {
      double d = g.lon[size_t(j)] - c.lon;
      if (g.periodic) d = std::remainder(d, 360.0);
      if (std::abs(d) <= half_lon) {
        cols.push_back(j);
        box.lon.push_back(c.lon + d);
      }
    }
    if (rows.size() < 2 || cols.size() < 2) return;
    // West to east, so the box is an ordinary regional grid.
    std::vector<size_t> order(cols.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return box.lon[a] < box.lon[b]; });
    std::vector<int64_t> sorted_cols;
    std::vector<double> sorted_lon;
    for (size_t k : order) {
      sorted_cols.push_back(cols[k]);
      sorted_lon.push_back(box.lon[k]);
    }
    cols = std::move(sorted_cols);
    box.lon = std::move(sorted_lon);
    for (int64_t i : rows) box.lat.push_back(g.lat[size_t(i)]);
    box.periodic = false;
    const size_t bh = rows.size(), bw = cols.size();

    std::vector<uint8_t> united(bh * bw, 0), binary(bh * bw);
    std::vector<float> values;
    for (const auto& field : fields) {
      if (field.empty()) continue;
      values.clear();
      for (int64_t i : rows)
        for (int64_t j : cols) {
          const float v = field[size_t(i * W + j)];
          if (std::isfinite(v)) values.push_back(v);
        }
      if (values.empty()) continue;
      const double thr = percentile(values, p.percentile);
      for (size_t a = 0; a < bh; ++a)
        for (size_t b = 0; b < bw; ++b) binary[a * bw + b] = field[size_t(rows[a] * W + cols[b])] > thr;
      auto labels = analysis::label_components(box, binary);
      const auto st = analysis::component_stats(box, labels, {.length = false});
      const int32_t keep = analysis::largest_component(st);
      for (size_t k = 0; k < united.size(); ++k)
        if (keep > 0 && labels.labels[k] == keep) united[k] = 1;
    }

    // The largest piece of the union among those reaching the storm core; else the largest.
    auto labels = analysis::label_components(box, united);
    if (labels.count == 0) return;
    const auto st = analysis::component_stats(box, labels, {.length = false});
    const double core_m =
        std::max(radius, 1.5 * std::max(std::abs(g.dlat()), g.dlon())) * geo::kDegToRad * geo::kEarthRadius;
    std::vector<bool> near(size_t(labels.count) + 1, false);
    for (size_t a = 0; a < bh; ++a)
      for (size_t b = 0; b < bw; ++b) {
        const int32_t id = labels.labels[a * bw + b];
        if (id > 0 && !near[size_t(id)] && geo::great_circle_m(c.lat, c.lon, box.lat[a], box.lon[b]) <= core_m)
          near[size_t(id)] = true;
      }
    int32_t keep = 0;
    double best = -1;
    for (const auto& s : st)
      if (near[size_t(s.id)] && s.area_km2 > best) {
        best = s.area_km2;
        keep = s.id;
      }
    if (keep == 0) keep = analysis::largest_component(st);
    // Runs of kept cells along each box row (the columns are west to east, so a run may not be
    // consecutive in the grid where the box crosses the seam: such a run is split there).
    for (size_t a = 0; a < bh; ++a)
      for (size_t b = 0; b < bw; ++b) {
        if (labels.labels[a * bw + b] != keep) continue;
        const int64_t cell = rows[a] * W + cols[b];
        if (!runs.empty() && runs.back().first + runs.back().length == cell && b > 0 &&
            labels.labels[a * bw + b - 1] == keep)
          ++runs.back().length;
        else
          runs.push_back({cell, 1});
      }
  }
}

}  // namespace

std::vector<MaskRun> tc_mask_runs(const geo::Grid& g, const TcMaskFields& f, const geo::LatLon& centre,
                                  const TcMaskParams& p) {
  check_mask_fields(g, f, p);
  std::vector<MaskRun> runs;
  centre_mask(g, f, centre, p, runs);
  return runs;
}

std::vector<std::vector<MaskRun>> tc_mask_runs(const geo::Grid& g, const TcMaskFields& f,
                                               const std::vector<geo::LatLon>& centres, const TcMaskParams& p) {
  check_mask_fields(g, f, p);
  std::vector<std::vector<MaskRun>> runs(centres.size());
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1) if (centres.size() > 1)
  for (size_t k = 0; k < centres.size(); ++k) {
    try {
      centre_mask(g, f, centres[k], p, runs[k]);
    } catch (...) {
#pragma omp critical(climseg_tc_mask_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return runs;
}

void set_runs(std::span<const MaskRun> runs, std::span<uint8_t> out, uint8_t value) {
  for (const MaskRun& r : runs) {
    if (r.first < 0 || r.length < 0 || size_t(r.first + r.length) > out.size())
      fail("cyclone mask: a run of cells {}+{} outside the grid of {}", r.first, r.length, out.size());
    std::fill_n(out.begin() + r.first, r.length, value);
  }
}

void tc_mask(const geo::Grid& g, const TcMaskFields& f, const std::vector<geo::LatLon>& centres, const TcMaskParams& p,
             std::span<uint8_t> out, uint8_t value) {
  check_mask_fields(g, f, p);
  const int64_t H = g.height(), W = g.width();
  if (out.size() != size_t(H * W)) fail("cyclone mask: output has {} cells, the grid {}", out.size(), H * W);
  // Each centre's mask depends on the fields alone: found on all threads, set in order.
  for (const auto& r : tc_mask_runs(g, f, centres, p)) set_runs(r, out, value);
}

}  // namespace climseg::heuristics
