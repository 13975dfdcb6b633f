// Equiangular cubed-sphere grids: GLL nodes of the spectral elements and finite-volume physics cells.
#include "geo/cubed_sphere.hpp"

#include <cmath>
#include <regex>

#include "core/error.hpp"
#include "geo/grid.hpp"

namespace climseg::geo {
namespace {

// The point of cube face f at central angles (a, b) (radians, each in [−π/4, π/4]): the face's
// tangent-plane point (1, tan a, tan b) in the face frame, not normalised.
Vec3 face_point(int f, double a, double b) {
  const double x = std::tan(a), y = std::tan(b);
  switch (f) {
    case 0:
      return {1, x, y};  // centred on (0°, 0°)
    case 1:
      return {-x, 1, y};  // (0°, 90°E)
    case 2:
      return {-1, -x, y};  // (0°, 180°)
    case 3:
      return {x, -1, y};  // (0°, 90°W)
    case 4:
      return {-y, x, 1};  // north pole
    default:
      return {y, x, -1};  // south pole
  }
}

void to_lat_lon(Vec3 v, double& lat, double& lon) { lat_lon_of(v, lat, lon); }

// Legendre polynomial P_n and its derivative at x.
void legendre(int n, double x, double& p, double& dp) {
  double p0 = 1, p1 = x;
  if (n == 0) {
    p = 1;
    dp = 0;
    return;
  }
  for (int k = 2; k <= n; ++k) {
    const double pk = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
    p0 = p1;
    p1 = pk;
  }
  p = p1;
  dp = n * (x * p1 - p0) / (x * x - 1);
}

}  // namespace

std::string CubedSphereSpec::name() const {
  return pg > 0 ? fmt::format("ne{}pg{}", ne, pg) : fmt::format("ne{}np{}", ne, np);
}

int64_t CubedSphereSpec::columns() const {
  const int64_t n = ne;
  return pg > 0 ? 6 * n * n * pg * pg : 6 * n * n * (np - 1) * (np - 1) + 2;
}

std::optional<CubedSphereSpec> parse_cubed_sphere(const std::string& name) {
  static const std::regex re("ne([0-9]+)(np|pg)([0-9]+)");
  std::smatch m;
  if (!std::regex_match(name, m, re)) return std::nullopt;
  CubedSphereSpec s;
  s.ne = std::stoi(m[1].str().substr(0, 6));
  const int k = std::stoi(m[3].str().substr(0, 6));
  if (m[2] == "np") {
    s.np = k;
    s.pg = 0;
  } else {
    s.pg = k;
  }
  if (s.ne < 1 || s.ne > 4096) fail_usage("grid {}: ne must be 1..4096", name);
  if (s.pg == 0 && (s.np < 2 || s.np > 16)) fail_usage("grid {}: np must be 2..16", name);
  if (m[2] == "pg" && (s.pg < 1 || s.pg > 16)) fail_usage("grid {}: pg must be 1..16", name);
  return s;
}

std::vector<double> gll_points(int np) {
  if (np < 2 || np > 16) fail("GLL points: np must be 2..16, got {}", np);
  // The ends and the roots of P'_{np−1}, by Newton's method from Chebyshev-Gauss-Lobatto guesses.
  const int n = np - 1;
  std::vector<double> x(static_cast<size_t>(np));
  x[0] = -1;
  x[size_t(n)] = 1;
  for (int i = 1; i < n; ++i) {
    double t = -std::cos(kPi * i / n);
    for (int it = 0; it < 100; ++it) {
      // Roots of (1 − x²) P'_n: Newton on P'_n using P''_n = (2x P'_n − n(n+1) P_n) / (1 − x²).
      double p, dp;
      legendre(n, t, p, dp);
      const double d2p = (2 * t * dp - n * (n + 1) * p) / (1 - t * t);
      const double step = dp / d2p;
      t -= step;
      if (std::abs(step) < 1e-16) break;
    }
    x[size_t(i)] = t;
  }
  return x;
}

void cubed_sphere_nodes(int ne, int np, std::vector<double>& lat, std::vector<double>& lon) {
  const std::vector<double> xi = gll_points(np);
  const double d = (kPi / 2) / ne;
  std::vector<Vec3> all;
  all.reserve(size_t(6) * size_t(ne) * size_t(ne) * size_t(np) * size_t(np));
  for (int f = 0; f < 6; ++f)
    for (int ej = 0; ej < ne; ++ej)
      for (int ei = 0; ei < ne; ++ei)
        for (int j = 0; j < np; ++j)
          for (int i = 0; i < np; ++i) {
            const double a = -kPi / 4 + (ei + 0.5 * (1 + xi[size_t(i)])) * d;
            const double b = -kPi / 4 + (ej + 0.5 * (1 + xi[size_t(j)])) * d;
            all.push_back(normalized(face_point(f, a, b)));
          }
  // Shared nodes once: the closest distinct GLL nodes are far more than 1e-9 apart.
  const std::vector<int64_t> id = merge_close_points(all, 1e-9);
  lat.clear();
  lon.clear();
  for (size_t k = 0; k < all.size(); ++k)
    if (id[k] == int64_t(k)) {
      double la, lo;
      to_lat_lon(all[k], la, lo);
      lat.push_back(la);
      lon.push_back(lo);
    }
}

void cubed_sphere_cells(int ne, int pg, std::vector<double>& lat, std::vector<double>& lon,
                        std::vector<double>& corner_lat, std::vector<double>& corner_lon) {
  const int n = ne * pg;  // cells along a face edge, evenly spaced in angle
  const double d = (kPi / 2) / n;
  lat.clear();
  lon.clear();
  corner_lat.clear();
  corner_lon.clear();
  for (int f = 0; f < 6; ++f)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) {
        const double a0 = -kPi / 4 + i * d, b0 = -kPi / 4 + j * d;
        double la, lo;
        to_lat_lon(face_point(f, a0 + 0.5 * d, b0 + 0.5 * d), la, lo);
        lat.push_back(la);
        lon.push_back(lo);
        // Counter-clockwise seen from outside on every face (each face frame is right-handed outward).
        const double ca[4] = {a0, a0 + d, a0 + d, a0}, cb[4] = {b0, b0, b0 + d, b0 + d};
        for (int k = 0; k < 4; ++k) {
          to_lat_lon(face_point(f, ca[k], cb[k]), la, lo);
          corner_lat.push_back(la);
          corner_lon.push_back(lo);
        }
      }
}

UnstructuredGrid cubed_sphere_grid(const CubedSphereSpec& spec) {
  UnstructuredGrid g;
  std::vector<double> lat, lon;
  if (spec.pg > 0) {
    std::vector<double> clat, clon;
    cubed_sphere_cells(spec.ne, spec.pg, lat, lon, clat, clon);
    g = UnstructuredGrid::from_cells(std::move(lat), std::move(lon), 4, clat, clon);
  } else {
    cubed_sphere_nodes(spec.ne, spec.np, lat, lon);
    g = UnstructuredGrid::from_nodes(std::move(lat), std::move(lon));
  }
  g.description = "cubed sphere " + spec.name();
  return g;
}

}  // namespace climseg::geo
