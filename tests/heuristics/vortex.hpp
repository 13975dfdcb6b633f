// Hand-made weather for detector tests: Holland (1980) vortices with warm cores on a quiet background,
// and moisture filaments, on plain (H, W) planes.
#pragma once

#include <cmath>
#include <vector>

#include "geo/grid.hpp"
#include "geo/sphere.hpp"

namespace climseg::test {

struct Weather {
  geo::Grid grid;
  std::vector<float> u, v, psl, tbar, thick, tmq, precip, wind, vort;

  explicit Weather(geo::Grid g) : grid(std::move(g)) {
    const size_t n = size_t(grid.size());
    u.assign(n, 0.0f);
    v.assign(n, 0.0f);
    psl.assign(n, 101300.0f);
    tbar.assign(n, 245.0f);
    thick.assign(n, 11000.0f);
    tmq.assign(n, 20.0f);
    precip.assign(n, 1e-8f);
  }

  // A Holland vortex: p(r) = pc + dp exp(−(rm/r)^b); cyclostrophic-gradient tangential wind
  // v(r) = sqrt(b dp / ρ (rm/r)^b exp(−(rm/r)^b)), anticlockwise in the north and clockwise in the
  // south; warm-core and thickness anomalies, moisture and rain that fall off over `rm`-scaled radii.
  void add_vortex(double lat0, double lon0, double dp = 3000.0, double rm_km = 80.0, double b = 1.5,
                  double warm_k = 3.0, double thick_m = 120.0) {
    const double rho = 1.15;
    const int64_t W = grid.width();
    for (int64_t i = 0; i < grid.height(); ++i)
      for (int64_t j = 0; j < W; ++j) {
        const double lat = grid.lat[size_t(i)], lon = grid.lon[size_t(j)];
        const double dlon = std::remainder(lon - lon0, 360.0);
        const double dx = geo::kEarthRadius * std::cos(lat0 * geo::kDegToRad) * dlon * geo::kDegToRad;
        const double dy = geo::kEarthRadius * (lat - lat0) * geo::kDegToRad;
        const double r = std::max(1.0, std::hypot(dx, dy));
        if (r > 3.0e6) continue;
        const double x = std::pow(rm_km * 1e3 / r, b);
        const double vt = std::sqrt(b * dp / rho * x * std::exp(-x));
        const double sense = lat0 >= 0 ? 1.0 : -1.0;
        const size_t k = size_t(i * W + j);
        u[k] += float(-sense * vt * dy / r);
        v[k] += float(sense * vt * dx / r);
        psl[k] += float(-dp + dp * std::exp(-x));
        const double g = std::exp(-r * r / (2 * 350e3 * 350e3));
        tbar[k] += float(warm_k * g);
        thick[k] += float(thick_m * g);
        tmq[k] += float(40.0 * std::exp(-r * r / (2 * 250e3 * 250e3)));
        precip[k] += float(5e-7 * std::exp(-r * r / (2 * 150e3 * 150e3)));
      }
  }

  // Derived fields the detector needs (call after the last add_*).
  void derive() {
    const size_t n = size_t(grid.size());
    wind.assign(n, 0.0f);
    vort.assign(n, 0.0f);
    geo::wind_speed(u, v, wind);
    geo::relative_vorticity(grid, u, v, vort);
  }
};

}  // namespace climseg::test
