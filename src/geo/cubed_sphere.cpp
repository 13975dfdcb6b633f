// Equiangular cubed-sphere grids: GLL nodes of the spectral elements and finite-volume physics cells.
#include "geo/cubed_sphere.hpp"

#include <algorithm>
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
  // The distinct central angles along a face edge, symmetric: angle[M - k] = -angle[k].
  const int M = ne * (np - 1);
  std::vector<double> angle(size_t(M) + 1);
  for (int e = 0; e < ne; ++e)
    for (int i = 0; i < np; ++i) angle[size_t(e * (np - 1) + i)] = -kPi / 4 + (e + 0.5 * (1 + xi[size_t(i)])) * d;
  for (int k = 0; k <= M / 2; ++k) angle[size_t(M - k)] = -angle[size_t(k)];  // exactly symmetric
  // A node is a point (X, Y, Z) of the cube surface whose coordinates are ±1 or ±tan(angle): as
  // integers, ±1 is M or 0 and ±tan(angle[k]) is k or M - k, so nodes shared by faces get one key.
  struct Node {
    int32_t key[3];
    int32_t face, a, b;
  };
  std::vector<Node> nodes;
  nodes.reserve(size_t(6) * size_t(M + 1) * size_t(M + 1));
  for (int f = 0; f < 6; ++f)
    for (int b = 0; b <= M; ++b)
      for (int a = 0; a <= M; ++a) {
        const int32_t ta = a, tb = b, na = M - a, nb = M - b, one = M, minus = 0;
        Node n{{0, 0, 0}, f, a, b};
        switch (f) {  // as face_point: (1, x, y), (-x, 1, y), (-1, -x, y), (x, -1, y), (-y, x, 1), (y, x, -1)
          case 0:
            n.key[0] = one, n.key[1] = ta, n.key[2] = tb;
            break;
          case 1:
            n.key[0] = na, n.key[1] = one, n.key[2] = tb;
            break;
          case 2:
            n.key[0] = minus, n.key[1] = na, n.key[2] = tb;
            break;
          case 3:
            n.key[0] = ta, n.key[1] = minus, n.key[2] = tb;
            break;
          case 4:
            n.key[0] = nb, n.key[1] = ta, n.key[2] = one;
            break;
          default:
            n.key[0] = tb, n.key[1] = ta, n.key[2] = minus;
            break;
        }
        nodes.push_back(n);
      }
  // First appearance of each key, in generation order.
  std::vector<int64_t> order(nodes.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = int64_t(k);
  auto key_less = [&](int64_t x, int64_t y) {
    const Node &p = nodes[size_t(x)], &q = nodes[size_t(y)];
    for (int c = 0; c < 3; ++c)
      if (p.key[c] != q.key[c]) return p.key[c] < q.key[c];
    return x < y;
  };
  std::sort(order.begin(), order.end(), key_less);
  std::vector<char> first(nodes.size(), 0);
  for (size_t k = 0; k < order.size(); ++k) {
    const Node& p = nodes[size_t(order[k])];
    const bool same = k > 0 && std::equal(p.key, p.key + 3, nodes[size_t(order[k - 1])].key);
    if (!same) first[size_t(order[k])] = 1;
  }
  lat.clear();
  lon.clear();
  for (size_t k = 0; k < nodes.size(); ++k) {
    if (!first[k]) continue;
    const Node& n = nodes[k];
    double la, lo;
    to_lat_lon(face_point(n.face, angle[size_t(n.a)], angle[size_t(n.b)]), la, lo);
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
