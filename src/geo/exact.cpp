// Exact orientation predicates on snapped points: a floating-point filter, then 128-bit integers.
#include "geo/exact.hpp"

#include "geo/grid.hpp"

namespace climseg::geo {
namespace {

__extension__ typedef __int128 Int128;

// Bound on the rounding error of the filtered determinant relative to its permanent. The differences
// are exact (integers below 2^42); the products and sums round at most 5 times: 1e-14 is ~20x safe.
constexpr double kFilter = 1e-14;

int sign_of(Int128 v) { return v > 0 ? 1 : (v < 0 ? -1 : 0); }

// det[u, v, w] for integer vectors with |components| <= 2^42: cross products below 2^85, the dot
// product below 3 * 2^127 / 8, inside Int128.
int exact_det(int64_t ux, int64_t uy, int64_t uz, int64_t vx, int64_t vy, int64_t vz, int64_t wx, int64_t wy,
              int64_t wz) {
  const Int128 cx = Int128(vy) * wz - Int128(vz) * wy;
  const Int128 cy = Int128(vz) * wx - Int128(vx) * wz;
  const Int128 cz = Int128(vx) * wy - Int128(vy) * wx;
  return sign_of(Int128(ux) * cx + Int128(uy) * cy + Int128(uz) * cz);
}

int filtered_det(int64_t ux, int64_t uy, int64_t uz, int64_t vx, int64_t vy, int64_t vz, int64_t wx, int64_t wy,
                 int64_t wz) {
  const double ax = double(ux), ay = double(uy), az = double(uz);
  const double bx = double(vx), by = double(vy), bz = double(vz);
  const double cx = double(wx), cy = double(wy), cz = double(wz);
  const double m1 = by * cz, m2 = bz * cy, m3 = bz * cx, m4 = bx * cz, m5 = bx * cy, m6 = by * cx;
  const double det = ax * (m1 - m2) + ay * (m3 - m4) + az * (m5 - m6);
  const double perm = std::abs(ax) * (std::abs(m1) + std::abs(m2)) + std::abs(ay) * (std::abs(m3) + std::abs(m4)) +
                      std::abs(az) * (std::abs(m5) + std::abs(m6));
  if (det > kFilter * perm) return 1;
  if (-det > kFilter * perm) return -1;
  return exact_det(ux, uy, uz, vx, vy, vz, wx, wy, wz);
}

}  // namespace

Vec3 unit_vector(double lat_deg, double lon_deg) {
  // The poles exactly, whatever the longitude (cos(90°) rounds to 6e-17, not 0).
  if (lat_deg >= 90.0) return {0, 0, 1};
  if (lat_deg <= -90.0) return {0, 0, -1};
  const double la = lat_deg * kDegToRad, lo = lon_deg * kDegToRad;
  const double c = std::cos(la);
  return {c * std::cos(lo), c * std::sin(lo), std::sin(la)};
}

void lat_lon_of(Vec3 v, double& lat_deg, double& lon_deg) {
  lat_deg = std::atan2(v.z, std::hypot(v.x, v.y)) / kDegToRad;
  lon_deg = std::atan2(v.y, v.x) / kDegToRad;
  if (lon_deg < 0) lon_deg += 360.0;
  if (lon_deg >= 360.0) lon_deg -= 360.0;
}

double spherical_triangle_area(Vec3 a, Vec3 b, Vec3 c) {
  return 2.0 * std::atan2(det3(a, b, c), 1.0 + dot(a, b) + dot(b, c) + dot(c, a));
}

SnappedPoint snap(Vec3 v) {
  return {int64_t(std::llround(v.x * kSnapScale)), int64_t(std::llround(v.y * kSnapScale)),
          int64_t(std::llround(v.z * kSnapScale))};
}

int orient3d(const SnappedPoint& a, const SnappedPoint& b, const SnappedPoint& c, const SnappedPoint& d) {
  // det[b − a, c − a, d − a]; components below 2^41 in magnitude.
  return filtered_det(b.x - a.x, b.y - a.y, b.z - a.z, c.x - a.x, c.y - a.y, c.z - a.z, d.x - a.x, d.y - a.y,
                      d.z - a.z);
}

int orient_origin(const SnappedPoint& a, const SnappedPoint& b, const SnappedPoint& c) {
  return filtered_det(a.x, a.y, a.z, b.x, b.y, b.z, c.x, c.y, c.z);
}

}  // namespace climseg::geo
