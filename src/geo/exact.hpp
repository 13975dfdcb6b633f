// Points on the unit sphere as 3-vectors, and exact orientation predicates for them: coordinates are
// snapped to a grid of 2^-40 (about 6 µm on the Earth) and the 3x3 determinants are evaluated with a
// floating-point filter and, when it cannot decide, exactly in 128-bit integers. Cubed-sphere grids put
// many points exactly on one circle or great circle; exact signs keep the triangulation consistent there.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

namespace climseg::geo {

struct Vec3 {
  double x = 0, y = 0, z = 0;
};
inline Vec3 operator+(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
inline Vec3 operator-(Vec3 a, Vec3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
inline Vec3 operator*(double s, Vec3 a) { return {s * a.x, s * a.y, s * a.z}; }
inline double dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
inline Vec3 cross(Vec3 a, Vec3 b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }
inline double norm(Vec3 a) { return std::sqrt(dot(a, a)); }
inline Vec3 normalized(Vec3 a) {
  const double n = norm(a);
  return n > 0 ? (1.0 / n) * a : a;
}
inline double det3(Vec3 a, Vec3 b, Vec3 c) { return dot(a, cross(b, c)); }

// Unit vector of (lat, lon) in degrees: x toward (0°, 0°), y toward (0°, 90°E), z toward the north pole.
Vec3 unit_vector(double lat_deg, double lon_deg);
// Latitude (degrees) and longitude (degrees, [0, 360)) of a vector (any length > 0).
void lat_lon_of(Vec3 v, double& lat_deg, double& lon_deg);

// Area (steradians) of the spherical triangle a, b, c (unit vectors), positive when counter-clockwise
// seen from outside the sphere (Van Oosterom and Strackee 1983; accurate for tiny triangles too).
double spherical_triangle_area(Vec3 a, Vec3 b, Vec3 c);

// A point snapped to the integer lattice 2^-40: |coordinate| <= 2^40.
struct SnappedPoint {
  int64_t x = 0, y = 0, z = 0;
  bool operator==(const SnappedPoint&) const = default;
};
inline constexpr double kSnapScale = 1099511627776.0;  // 2^40
SnappedPoint snap(Vec3 v);

// Sign (-1, 0, 1) of det[b − a, c − a, d − a]: positive when d lies on the side of the plane (a, b, c)
// that the normal (b − a) × (c − a) points to. Exact for snapped points.
int orient3d(const SnappedPoint& a, const SnappedPoint& b, const SnappedPoint& c, const SnappedPoint& d);
// Sign of det[a, b, c] = orient3d(origin, a, b, c): positive when c lies to the left of the great
// circle from a to b (seen from outside the sphere). Exact for snapped points.
int orient_origin(const SnappedPoint& a, const SnappedPoint& b, const SnappedPoint& c);

}  // namespace climseg::geo
