// Calculus on the sphere for fields on the canonical lat-lon grid: relative vorticity and divergence
// by spherical finite differences, wind speed, and the latitude damping used by river detectors.
#pragma once

#include <span>
#include <vector>

#include "geo/grid.hpp"

namespace climseg::geo {

// Standard gravity (m s-2), as in CF and TECA.
inline constexpr double kGravity = 9.80665;

// Every field below is one (H, W) row-major float32 plane on `grid` (latitude ascending). Sizes are
// checked and a mismatch throws Error.

// Relative vorticity ζ = (1 / (R cos φ)) (∂v/∂λ − ∂(u cos φ)/∂φ) in s-1 from winds in m s-1.
// ∂/∂λ: centred differences, periodic in longitude on a periodic grid, one-sided (second order) at
// the edges of a regional one. ∂/∂φ: centred three-point differences that allow uneven latitudes
// (Gaussian grids), one-sided (second order) in the first and last rows of a regional grid; on a
// global grid (periodic, even W, outer rows within one spacing of the poles) the outer rows take
// their third point across the pole, at λ + 180°, so they stay second order. A row that lies on a pole
// (|φ| = 90°, CAM's finite-volume grid) gets the mean vorticity of the polar cap bounded by the
// next row, from Stokes' theorem: ζ = ±(circulation along that row) / (cap area).
void relative_vorticity(const Grid& grid, std::span<const float> u, std::span<const float> v, std::span<float> out);

// Horizontal divergence δ = (1 / (R cos φ)) (∂u/∂λ + ∂(v cos φ)/∂φ) in s-1, same stencils; on a pole
// row the mean divergence of the polar cap (outward flux through the next row over the cap area).
void divergence(const Grid& grid, std::span<const float> u, std::span<const float> v, std::span<float> out);

// sqrt(u² + v²).
void wind_speed(std::span<const float> u, std::span<const float> v, std::span<float> out);

// out = a − b (thickness Z200 − Z1000 in m) and out = (a + b) / 2 (warm-core temperature (T200 + T500) / 2).
void difference(std::span<const float> a, std::span<const float> b, std::span<float> out);
void mean_of_two(std::span<const float> a, std::span<const float> b, std::span<float> out);

// The factor 1 − exp(−(φ − centre)² / (2σ²)) for each row (H): 0 at `centre_deg`, towards 1 far from
// it. Multiplying a field by it damps the tropics (centre 0) as in Kurth et al. (2018) and TECA's
// latitude damper.
std::vector<double> latitude_damping(const Grid& grid, double sigma_deg, double centre_deg = 0.0);

// The point reached from (lat, lon) by going `distance_deg` degrees of great-circle arc along the
// initial bearing `bearing_deg` (0 north, 90 east). Longitude in [0, 360).
struct LatLon {
  double lat = 0, lon = 0;
};
LatLon destination(double lat_deg, double lon_deg, double bearing_deg, double distance_deg);

// Bilinear interpolation of an (H, W) field at (lat, lon) in degrees: periodic in longitude on a
// periodic grid; clamped to the edge rows and columns otherwise.
double interpolate(const Grid& grid, std::span<const float> field, double lat, double lon);

// Fractional row of a latitude (clamped to [0, H−1]) and fractional column of a longitude (periodic
// grids wrap to [0, W)), for uneven coordinates too.
double fractional_row(const Grid& grid, double lat);
double fractional_column(const Grid& grid, double lon);

}  // namespace climseg::geo
