// Spherical finite differences and simple derived fields on the canonical grid.
#include "geo/sphere.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.hpp"

namespace climseg::geo {
namespace {

void check_plane(const Grid& grid, size_t n, const char* what) {
  if (n != static_cast<size_t>(grid.size()))
    fail("{}: field has {} values but the grid {} has {}", what, n, grid.shape_str(), grid.size());
}

void check_same(size_t a, size_t b, const char* what) {
  if (a != b) fail("{}: fields differ in size ({} and {} values)", what, a, b);
}

// Derivative at x of the quadratic through (x0, f0), (x1, f1), (x2, f2); second order on uneven points.
inline double deriv3(double x0, double x1, double x2, double f0, double f1, double f2, double x) {
  const double d0 = ((x - x1) + (x - x2)) / ((x0 - x1) * (x0 - x2));
  const double d1 = ((x - x0) + (x - x2)) / ((x1 - x0) * (x1 - x2));
  const double d2 = ((x - x0) + (x - x1)) / ((x2 - x0) * (x2 - x1));
  return f0 * d0 + f1 * d1 + f2 * d2;
}

bool on_pole(double lat) { return std::abs(lat) >= 90.0 - 1e-9; }

// Longitudes in radians, unwrapped so that neighbours differ by their true spacing.
std::vector<double> lon_radians(const Grid& g) {
  std::vector<double> out(g.lon.size());
  for (size_t j = 0; j < g.lon.size(); ++j) out[j] = g.lon[j] * kDegToRad;
  return out;
}

// ∂f/∂λ (per radian) of row `row` (W values) at every column, written to `out`.
void d_dlambda(const Grid& g, const std::vector<double>& lam, const float* row, double* out) {
  const int64_t W = g.width();
  const double two_pi = 2.0 * kPi;
  if (g.periodic) {
    for (int64_t j = 0; j < W; ++j) {
      const int64_t jm = j == 0 ? W - 1 : j - 1, jp = j == W - 1 ? 0 : j + 1;
      double xm = lam[size_t(jm)], xp = lam[size_t(jp)];
      if (j == 0) xm -= two_pi;
      if (j == W - 1) xp += two_pi;
      out[j] = deriv3(xm, lam[size_t(j)], xp, row[jm], row[j], row[jp], lam[size_t(j)]);
    }
    return;
  }
  for (int64_t j = 0; j < W; ++j) {
    const int64_t c = j == 0 ? 1 : (j == W - 1 ? W - 2 : j);  // centre of the three-point stencil
    out[j] =
        deriv3(lam[size_t(c - 1)], lam[size_t(c)], lam[size_t(c + 1)], row[c - 1], row[c], row[c + 1], lam[size_t(j)]);
  }
}

// The shared body of vorticity and divergence:
//   out = (1 / (R cos φ)) (∂a/∂λ + sign · ∂(b cos φ)/∂φ)
// vorticity: a = v, b = u, sign = −1; divergence: a = u, b = v, sign = +1.
// On a pole row, the cap mean from Stokes / Gauss over the cap bounded by the neighbouring row.
void curl_or_div(const Grid& g, std::span<const float> a, std::span<const float> b, std::span<float> out, double sign,
                 bool vorticity) {
  const int64_t H = g.height(), W = g.width();
  if (H < 3 || W < 3) fail("spherical derivatives need at least 3x3 points, the grid is {}", g.shape_str());
  std::vector<double> phi(static_cast<size_t>(H)), cosp(static_cast<size_t>(H));
  for (int64_t i = 0; i < H; ++i) {
    phi[size_t(i)] = g.lat[size_t(i)] * kDegToRad;
    cosp[size_t(i)] = on_pole(g.lat[size_t(i)]) ? 0.0 : std::cos(phi[size_t(i)]);
  }
  const std::vector<double> lam = lon_radians(g);
  // Edge rows of a global grid whose first (last) row lies within one spacing of the pole difference
  // across the pole instead of one-sidedly: one-sided errors are amplified by 1 / cos φ there.
  const bool touches_poles =
      std::abs(g.lat[0] + 90.0) <= g.lat[1] - g.lat[0] + 1e-9 &&
      std::abs(90.0 - g.lat[size_t(H - 1)]) <= g.lat[size_t(H - 1)] - g.lat[size_t(H - 2)] + 1e-9;
  const bool mirror = g.periodic && W % 2 == 0 && touches_poles;

#pragma omp parallel
  {
    std::vector<double> da(static_cast<size_t>(W), 0.0);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < H; ++i) {
      float* o = out.data() + i * W;
      const double lat = g.lat[size_t(i)];
      if (on_pole(lat)) {
        // Cap bounded by the neighbouring row k: mean tangential (vorticity: u) or outward normal
        // (divergence: −v in the north, +v in the south) component along that row.
        const int64_t k = lat > 0 ? i - 1 : i + 1;
        const float* comp = b.data() + k * W;  // u for vorticity, v for divergence
        double mean = 0.0;
        for (int64_t j = 0; j < W; ++j) mean += comp[j];
        mean /= double(W);
        const double sk = std::sin(phi[size_t(k)]), ck = std::cos(phi[size_t(k)]);
        const double cap = lat > 0 ? 1.0 - sk : 1.0 + sk;  // cap area / (2π R²)
        // North: circulation +u, outflow −v. South (seen from outside): circulation −u, outflow +v.
        const double orient = lat > 0 ? (vorticity ? 1.0 : -1.0) : (vorticity ? -1.0 : 1.0);
        const double value = orient * mean * ck / (kEarthRadius * cap);
        for (int64_t j = 0; j < W; ++j) o[j] = static_cast<float>(value);
        continue;
      }
      d_dlambda(g, lam, a.data() + i * W, da.data());
      const double scale = 1.0 / (kEarthRadius * cosp[size_t(i)]);
      const bool edge = i == 0 || i == H - 1;
      if (edge && mirror) {
        // Across the pole: the point at latitude ∓180° − φ and longitude λ is the row's own point at
        // λ + 180°, where b and cos φ both change sign, so b cos φ continues as that point's value.
        const int64_t inner = i == 0 ? 1 : H - 2;
        const double beyond = i == 0 ? -kPi - phi[size_t(i)] : kPi - phi[size_t(i)];
        const float* brow = b.data() + i * W;
        const float* bin = b.data() + inner * W;
        for (int64_t j = 0; j < W; ++j) {
          const int64_t jo = (j + W / 2) % W;
          const double db = deriv3(beyond, phi[size_t(i)], phi[size_t(inner)], brow[jo] * cosp[size_t(i)],
                                   brow[j] * cosp[size_t(i)], bin[j] * cosp[size_t(inner)], phi[size_t(i)]);
          o[j] = static_cast<float>(scale * (da[size_t(j)] + sign * db));
        }
        continue;
      }
      const int64_t c = i == 0 ? 1 : (i == H - 1 ? H - 2 : i);
      const float* bm = b.data() + (c - 1) * W;
      const float* b0 = b.data() + c * W;
      const float* bp = b.data() + (c + 1) * W;
      const double pm = phi[size_t(c - 1)], p0 = phi[size_t(c)], pp = phi[size_t(c + 1)];
      const double cm = cosp[size_t(c - 1)], c0 = cosp[size_t(c)], cp = cosp[size_t(c + 1)];
      for (int64_t j = 0; j < W; ++j) {
        const double db = deriv3(pm, p0, pp, bm[j] * cm, b0[j] * c0, bp[j] * cp, phi[size_t(i)]);
        o[j] = static_cast<float>(scale * (da[size_t(j)] + sign * db));
      }
    }
  }
}

}  // namespace

void relative_vorticity(const Grid& grid, std::span<const float> u, std::span<const float> v, std::span<float> out) {
  check_plane(grid, u.size(), "relative vorticity (u)");
  check_same(u.size(), v.size(), "relative vorticity (u, v)");
  check_same(u.size(), out.size(), "relative vorticity (output)");
  curl_or_div(grid, v, u, out, -1.0, true);
}

void divergence(const Grid& grid, std::span<const float> u, std::span<const float> v, std::span<float> out) {
  check_plane(grid, u.size(), "divergence (u)");
  check_same(u.size(), v.size(), "divergence (u, v)");
  check_same(u.size(), out.size(), "divergence (output)");
  curl_or_div(grid, u, v, out, 1.0, false);
}

void wind_speed(std::span<const float> u, std::span<const float> v, std::span<float> out) {
  check_same(u.size(), v.size(), "wind speed (u, v)");
  check_same(u.size(), out.size(), "wind speed (output)");
  const int64_t n = static_cast<int64_t>(u.size());
#pragma omp parallel for simd schedule(static)
  for (int64_t k = 0; k < n; ++k) out[size_t(k)] = std::sqrt(u[size_t(k)] * u[size_t(k)] + v[size_t(k)] * v[size_t(k)]);
}

void difference(std::span<const float> a, std::span<const float> b, std::span<float> out) {
  check_same(a.size(), b.size(), "difference");
  check_same(a.size(), out.size(), "difference (output)");
  for (size_t k = 0; k < a.size(); ++k) out[k] = a[k] - b[k];
}

void mean_of_two(std::span<const float> a, std::span<const float> b, std::span<float> out) {
  check_same(a.size(), b.size(), "mean of two fields");
  check_same(a.size(), out.size(), "mean of two fields (output)");
  for (size_t k = 0; k < a.size(); ++k) out[k] = 0.5f * (a[k] + b[k]);
}

std::vector<double> latitude_damping(const Grid& grid, double sigma_deg, double centre_deg) {
  if (!(sigma_deg > 0)) fail_usage("latitude damping: sigma must be positive degrees, got {}", sigma_deg);
  std::vector<double> f(grid.lat.size());
  for (size_t i = 0; i < f.size(); ++i) {
    const double d = grid.lat[i] - centre_deg;
    f[i] = 1.0 - std::exp(-d * d / (2.0 * sigma_deg * sigma_deg));
  }
  return f;
}

LatLon destination(double lat_deg, double lon_deg, double bearing_deg, double distance_deg) {
  const double p1 = lat_deg * kDegToRad, l1 = lon_deg * kDegToRad;
  const double b = bearing_deg * kDegToRad, d = distance_deg * kDegToRad;
  const double sp2 = std::sin(p1) * std::cos(d) + std::cos(p1) * std::sin(d) * std::cos(b);
  const double p2 = std::asin(std::clamp(sp2, -1.0, 1.0));
  const double l2 = l1 + std::atan2(std::sin(b) * std::sin(d) * std::cos(p1), std::cos(d) - std::sin(p1) * sp2);
  double lon = std::fmod(l2 / kDegToRad, 360.0);
  if (lon < 0) lon += 360.0;
  return {p2 / kDegToRad, lon};
}

// (Both return NaN for a NaN position: std::upper_bound finds no place for NaN and would send the
// index one past the end. ASan found that on a storm whose refined centre came from fill values.)
double fractional_row(const Grid& g, double lat) {
  const auto& y = g.lat;
  if (std::isnan(lat)) return lat;
  if (lat <= y.front()) return 0.0;
  if (lat >= y.back()) return double(y.size() - 1);
  const size_t k = size_t(std::upper_bound(y.begin(), y.end(), lat) - y.begin()) - 1;  // y[k] <= lat < y[k+1]
  return double(k) + (lat - y[k]) / (y[k + 1] - y[k]);
}

double fractional_column(const Grid& g, double lon) {
  const auto& x = g.lon;
  const size_t W = x.size();
  if (std::isnan(lon)) return lon;
  if (W == 1) return 0.0;
  if (g.periodic) {
    double rel = std::fmod(lon - x[0], 360.0);
    if (rel < 0) rel += 360.0;
    const double target = x[0] + rel;
    if (target >= x[W - 1]) return double(W - 1) + (target - x[W - 1]) / (x[0] + 360.0 - x[W - 1]);
    const size_t k = size_t(std::upper_bound(x.begin(), x.end(), target) - x.begin()) - 1;
    return double(k) + (target - x[k]) / (x[k + 1] - x[k]);
  }
  // Regional: match the longitude in the grid's own range, trying ±360 (a −180..180 query on 0..360).
  double t = lon;
  for (double shift : {0.0, 360.0, -360.0})
    if (lon + shift >= x[0] && lon + shift <= x[W - 1]) t = lon + shift;
  if (t <= x[0]) return 0.0;
  if (t >= x[W - 1]) return double(W - 1);
  const size_t k = size_t(std::upper_bound(x.begin(), x.end(), t) - x.begin()) - 1;
  return double(k) + (t - x[k]) / (x[k + 1] - x[k]);
}

double interpolate(const Grid& g, std::span<const float> f, double lat, double lon) {
  check_plane(g, f.size(), "interpolation");
  const int64_t H = g.height(), W = g.width();
  const double r = fractional_row(g, lat), c = fractional_column(g, lon);
  if (std::isnan(r) || std::isnan(c)) return std::numeric_limits<double>::quiet_NaN();
  const int64_t i0 = std::min<int64_t>(int64_t(r), H - 1), i1 = std::min<int64_t>(i0 + 1, H - 1);
  int64_t j0 = std::min<int64_t>(int64_t(c), W - 1), j1 = j0 + 1;
  if (j1 >= W) j1 = g.periodic ? 0 : W - 1;
  const double fr = r - double(i0), fc = c - double(j0);
  auto v = [&](int64_t i, int64_t j) { return double(f[size_t(i * W + j)]); };
  return (1 - fr) * ((1 - fc) * v(i0, j0) + fc * v(i0, j1)) + fr * ((1 - fc) * v(i1, j0) + fc * v(i1, j1));
}

}  // namespace climseg::geo
