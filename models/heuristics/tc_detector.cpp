// GFDL/TECA tropical-cyclone candidate detection on one time step.
#include "models/heuristics/tc_detector.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.hpp"
#include "geo/sphere.hpp"

namespace climseg::heuristics {
namespace {

// Cells (H·W row-major) within radius_deg of great-circle arc of (lat, lon), visited by `fn(i, j)`.
template <class Fn>
void for_cells_within(const geo::Grid& g, double lat, double lon, double radius_deg, Fn fn) {
  const int64_t H = g.height(), W = g.width();
  const double row = geo::fractional_row(g, lat), col = geo::fractional_column(g, lon);
  const double dlat = std::max(1e-9, std::abs(g.dlat())), dlon = std::max(1e-9, g.dlon());
  const int64_t ri = int64_t(std::ceil(radius_deg / dlat)) + 1;
  const double coslat = std::max(0.01, std::cos(std::min(89.0, std::abs(lat) + radius_deg) * geo::kDegToRad));
  const int64_t rj = std::min<int64_t>(W / 2, int64_t(std::ceil(radius_deg / (dlon * coslat))) + 1);
  const int64_t i0 = std::max<int64_t>(0, int64_t(std::floor(row)) - ri),
                i1 = std::min<int64_t>(H - 1, int64_t(row) + ri);
  const int64_t jc = int64_t(std::floor(col + 0.5));
  const double radius_m = radius_deg * geo::kDegToRad * geo::kEarthRadius;
  for (int64_t i = i0; i <= i1; ++i)
    for (int64_t dj = -rj; dj <= rj; ++dj) {
      int64_t j = jc + dj;
      if (j < 0 || j >= W) {
        if (!g.periodic) continue;
        j = ((j % W) + W) % W;
      }
      if (g.periodic && 2 * rj + 1 > W && (dj > W / 2 || dj <= -(W - W / 2))) continue;  // visit once
      if (geo::great_circle_m(lat, lon, g.lat[size_t(i)], g.lon[size_t(j)]) <= radius_m) fn(i, j);
    }
}

// Whether (i, j) holds the extreme of its 3x3 neighbourhood (minimum when `lowest`).
bool local_extreme(const geo::Grid& g, std::span<const float> f, int64_t i, int64_t j, bool lowest) {
  const int64_t H = g.height(), W = g.width();
  const float v = f[size_t(i * W + j)];
  for (int64_t di = -1; di <= 1; ++di)
    for (int64_t dj = -1; dj <= 1; ++dj) {
      if (di == 0 && dj == 0) continue;
      const int64_t ii = i + di;
      int64_t jj = j + dj;
      if (ii < 0 || ii >= H) continue;
      if (jj < 0 || jj >= W) {
        if (!g.periodic) continue;
        jj = (jj + W) % W;
      }
      const float o = f[size_t(ii * W + jj)];
      if (lowest ? o < v : o > v) return false;
    }
  return true;
}

// Offset in (−0.5, 0.5) of the vertex of the parabola through (−1, a), (0, b), (1, c).
double parabola_offset(double a, double b, double c) {
  const double den = a - 2 * b + c;
  // A fill value (NaN) beside the extreme: no sub-grid shift (a NaN one would move the centre
  // off the grid; ASan found the out-of-range read it caused in the interpolation).
  if (!std::isfinite(den) || std::abs(den) < 1e-30) return 0.0;
  return std::clamp(0.5 * (a - c) / den, -0.5, 0.5);
}

// Sub-grid position of the extreme at (i, j).
geo::LatLon refine(const geo::Grid& g, std::span<const float> f, int64_t i, int64_t j) {
  const int64_t H = g.height(), W = g.width();
  auto v = [&](int64_t ii, int64_t jj) { return double(f[size_t(ii * W + jj)]); };
  double lat = g.lat[size_t(i)], lon = g.lon[size_t(j)];
  if (i > 0 && i < H - 1) {
    const double o = parabola_offset(v(i - 1, j), v(i, j), v(i + 1, j));
    lat += o * (o > 0 ? g.lat[size_t(i + 1)] - lat : lat - g.lat[size_t(i - 1)]);
  }
  const bool has_left = j > 0 || g.periodic, has_right = j < W - 1 || g.periodic;
  if (has_left && has_right) {
    const int64_t jl = (j - 1 + W) % W, jr = (j + 1) % W;
    const double o = parabola_offset(v(i, jl), v(i, j), v(i, jr));
    lon += o * g.dlon();
  }
  lon = std::fmod(lon, 360.0);
  if (lon < 0) lon += 360.0;
  return {lat, lon};
}

struct Extreme {
  int64_t i = -1, j = -1;
  double value = 0;
};

// The grid extreme of f within radius of (lat, lon); i = −1 when no cell is inside.
Extreme extreme_within(const geo::Grid& g, std::span<const float> f, double lat, double lon, double radius_deg,
                       bool lowest) {
  Extreme e;
  e.value = lowest ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  for_cells_within(g, lat, lon, radius_deg, [&](int64_t i, int64_t j) {
    const double v = f[size_t(i * g.width() + j)];
    if (lowest ? v < e.value : v > e.value) e = {i, j, v};
  });
  return e;
}

void check_field(const geo::Grid& g, std::span<const float> f, const char* name, bool optional) {
  if (f.empty() && optional) return;
  if (f.size() != size_t(g.size()))
    fail("cyclone detection: the {} field has {} values but the grid {} has {}", name, f.size(), g.shape_str(),
         g.size());
}

}  // namespace

// Messages name the `climseg label` option that sets each parameter.
void TcParams::validate() const {
  auto positive = [](double v, const char* option) {
    if (!(v > 0) || !std::isfinite(v)) fail_usage("{} {}: must be positive", option, v);
  };
  auto at_least_zero = [](double v, const char* option) {
    if (!(v >= 0) || !std::isfinite(v)) fail_usage("{} {}: must be 0 or more", option, v);
  };
  positive(min_vorticity, "--tc-min-vorticity");
  positive(vorticity_window_deg, "--tc-vorticity-window");
  positive(max_core_radius_deg, "--tc-core-radius");
  positive(pressure_delta_radius_deg, "--tc-pressure-radius");
  positive(core_temp_radius_deg, "--tc-warm-core-radius");
  positive(thickness_radius_deg, "--tc-thickness-radius");
  at_least_zero(min_pressure_delta_pa, "--tc-pressure-delta");
  at_least_zero(min_core_temp_delta_k, "--tc-warm-core-delta");
  at_least_zero(min_thickness_delta_m, "--tc-thickness-delta");
  if (contour_missing_directions < 0 || contour_missing_directions > 7)
    fail_usage("--tc-contour-missing-directions {}: must be 0..7", contour_missing_directions);
  if (!(lat_min < lat_max) || lat_min < -90 || lat_max > 90)
    fail_usage("--tc-lat-min {} --tc-lat-max {}: the search band must lie in -90..90, south edge first", lat_min,
               lat_max);
}

double closed_contour_delta(const geo::Grid& g, std::span<const float> f, double lat, double lon, double radius_deg,
                            bool falling, int missing_directions) {
  double v0 = geo::interpolate(g, f, lat, lon);
  if (!std::isfinite(v0)) {
    // A missing cell beside the centre: the nearest cell's value.
    const double r = geo::fractional_row(g, lat), c = geo::fractional_column(g, lon);
    if (std::isnan(r) || std::isnan(c)) return -std::numeric_limits<double>::infinity();
    const int64_t i = std::clamp<int64_t>(int64_t(std::lround(r)), 0, g.height() - 1);
    const int64_t j = ((int64_t(std::lround(c)) % g.width()) + g.width()) % g.width();
    v0 = f[size_t(i * g.width() + j)];
  }
  const double spacing = std::min(std::abs(g.dlat()), g.dlon());
  const double step = std::max(1e-3, 0.5 * spacing);
  const int n = std::max(1, int(std::ceil(radius_deg / step)));
  double best[8];
  bool cut[8];
  for (int d = 0; d < 8; ++d) {
    best[d] = -std::numeric_limits<double>::infinity();
    cut[d] = false;
    for (int k = 1; k <= n; ++k) {
      const double dist = std::min(radius_deg, k * step);
      const geo::LatLon p = geo::destination(lat, lon, 45.0 * d, dist);
      const double v = geo::interpolate(g, f, p.lat, p.lon);
      if (!std::isfinite(v)) {
        cut[d] = true;
        continue;
      }
      best[d] = std::max(best[d], falling ? v0 - v : v - v0);
    }
  }
  // Leave out the weakest directions that met missing data, up to missing_directions of them.
  bool left_out[8] = {};
  for (int m = 0; m < missing_directions; ++m) {
    int weakest = -1;
    for (int d = 0; d < 8; ++d)
      if (cut[d] && !left_out[d] && (weakest < 0 || best[d] < best[weakest])) weakest = d;
    if (weakest < 0) break;
    left_out[weakest] = true;
  }
  double weakest = std::numeric_limits<double>::infinity();
  bool any = false;
  for (int d = 0; d < 8; ++d)
    if (!left_out[d]) {
      weakest = std::min(weakest, best[d]);
      any = true;
    }
  return any ? weakest : -std::numeric_limits<double>::infinity();
}

std::vector<TcCandidate> detect_tc_candidates(const geo::Grid& g, const TcFields& f, const TcParams& p, int64_t step,
                                              double time_days) {
  p.validate();
  check_field(g, f.vorticity, "vorticity", false);
  check_field(g, f.psl, "sea-level pressure", false);
  check_field(g, f.wind, "wind speed", false);
  check_field(g, f.warm_core, "warm-core temperature", true);
  check_field(g, f.thickness, "thickness", true);
  const int64_t H = g.height(), W = g.width();
  if (H < 3 || W < 3) fail("cyclone detection needs at least a 3x3 grid, got {}", g.shape_str());

  // Half-widths of the vorticity window in cells, as TECA: int((window / spacing − 1) / 2), at least 1.
  const int64_t hi = std::max<int64_t>(1, int64_t((p.vorticity_window_deg / std::abs(g.dlat()) - 1.0) / 2.0));
  const int64_t hj =
      std::min<int64_t>(std::max<int64_t>(1, int64_t((p.vorticity_window_deg / g.dlon() - 1.0) / 2.0)), (W - 1) / 2);
  auto signed_vort = [&](int64_t i, int64_t j) {
    const double v = f.vorticity[size_t(i * W + j)];
    return g.lat[size_t(i)] < 0 ? -v : v;
  };

  std::vector<TcCandidate> found;
#pragma omp parallel
  {
    std::vector<TcCandidate> mine;
#pragma omp for schedule(dynamic, 4)
    for (int64_t i = 0; i < H; ++i) {
      const double lat = g.lat[size_t(i)];
      if (lat < p.lat_min || lat > p.lat_max) continue;
      for (int64_t j = 0; j < W; ++j) {
        const double v = signed_vort(i, j);
        if (!(v >= p.min_vorticity)) continue;
        // 1. The largest in its window (ties go to the first in raster order).
        bool is_max = true;
        for (int64_t ii = std::max<int64_t>(0, i - hi); ii <= std::min<int64_t>(H - 1, i + hi) && is_max; ++ii)
          for (int64_t dj = -hj; dj <= hj; ++dj) {
            int64_t jj = j + dj;
            if (jj < 0 || jj >= W) {
              if (!g.periodic) continue;
              jj = (jj + W) % W;
            }
            const double o = signed_vort(ii, jj);
            if (o > v || (o == v && (ii * W + jj) < (i * W + j))) {
              is_max = false;
              break;
            }
          }
        if (!is_max) continue;

        // 2. An SLP minimum within the core radius that is a true local minimum.
        const Extreme pmin = extreme_within(g, f.psl, lat, g.lon[size_t(j)], p.max_core_radius_deg, true);
        if (pmin.i < 0 || !local_extreme(g, f.psl, pmin.i, pmin.j, true)) continue;
        if (pmin.value < p.min_psl_pa) continue;
        const geo::LatLon centre = refine(g, f.psl, pmin.i, pmin.j);
        // 3. Closed pressure rise around it.
        const double dp = closed_contour_delta(g, f.psl, centre.lat, centre.lon, p.pressure_delta_radius_deg, false,
                                               p.contour_missing_directions);
        if (dp < p.min_pressure_delta_pa) continue;

        TcCandidate c;
        c.step = step;
        c.time_days = time_days;
        c.lat = centre.lat;
        c.lon = centre.lon;
        c.psl_min = pmin.value;
        c.pressure_delta = dp;
        c.vorticity = f.vorticity[size_t(i * W + j)];
        c.vort_lat = lat;
        c.vort_lon = g.lon[size_t(j)];
        // Wind: the largest speed in the vorticity window (TECA).
        double wmax = 0;
        for (int64_t ii = std::max<int64_t>(0, i - hi); ii <= std::min<int64_t>(H - 1, i + hi); ++ii)
          for (int64_t dj = -hj; dj <= hj; ++dj) {
            int64_t jj = j + dj;
            if (jj < 0 || jj >= W) {
              if (!g.periodic) continue;
              jj = (jj + W) % W;
            }
            wmax = std::max(wmax, double(f.wind[size_t(ii * W + jj)]));
          }
        c.wind_max = wmax;
        // 4. Warm core and 5. thickness: a maximum near the SLP minimum with a closed fall around it.
        auto core_test = [&](std::span<const float> field, double radius, double min_delta, bool& flag, double& delta) {
          if (field.empty()) return;
          const Extreme e = extreme_within(g, field, centre.lat, centre.lon, p.max_core_radius_deg, false);
          if (e.i < 0 || !local_extreme(g, field, e.i, e.j, false)) return;
          const geo::LatLon at = refine(g, field, e.i, e.j);
          delta = closed_contour_delta(g, field, at.lat, at.lon, radius, true, p.contour_missing_directions);
          flag = delta >= min_delta;
        };
        core_test(f.warm_core, p.core_temp_radius_deg, p.min_core_temp_delta_k, c.warm_core, c.warm_core_delta);
        core_test(f.thickness, p.thickness_radius_deg, p.min_thickness_delta_m, c.thickness, c.thickness_delta);
        mine.push_back(c);
      }
    }
#pragma omp critical
    found.insert(found.end(), mine.begin(), mine.end());
  }

  // Two vorticity maxima may lead to one SLP minimum: keep the stronger.
  std::sort(found.begin(), found.end(), [](const TcCandidate& a, const TcCandidate& b) {
    if (a.lat != b.lat) return a.lat < b.lat;
    if (a.lon != b.lon) return a.lon < b.lon;
    return std::abs(a.vorticity) > std::abs(b.vorticity);
  });
  found.erase(std::unique(found.begin(), found.end(),
                          [](const TcCandidate& a, const TcCandidate& b) { return a.lat == b.lat && a.lon == b.lon; }),
              found.end());
  return found;
}

}  // namespace climseg::heuristics
