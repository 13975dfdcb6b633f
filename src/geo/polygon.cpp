// Spherical polygon area, containment and convex clipping.
#include "geo/polygon.hpp"

#include <algorithm>
#include <cmath>

namespace climseg::geo {

double spherical_polygon_area(std::span<const Vec3> v) {
  double area = 0;
  for (size_t k = 1; k + 1 < v.size(); ++k) area += spherical_triangle_area(v[0], v[k], v[k + 1]);
  return area;
}

void clip_to_convex(std::span<const Vec3> subject, std::span<const Vec3> clip, std::vector<Vec3>& out,
                    std::vector<Vec3>& scratch) {
  out.assign(subject.begin(), subject.end());
  const size_t m = clip.size();
  for (size_t e = 0; e < m && !out.empty(); ++e) {
    const Vec3 n = cross(clip[e], clip[(e + 1) % m]);  // inside: n · x >= 0
    scratch.swap(out);
    out.clear();
    const size_t k = scratch.size();
    for (size_t i = 0; i < k; ++i) {
      const Vec3 p = scratch[i], q = scratch[(i + 1) % k];
      const double sp = dot(n, p), sq = dot(n, q);
      const bool p_in = sp >= 0, q_in = sq >= 0;
      if (p_in != q_in) {
        // Where the chord p..q crosses the plane, projected back to the sphere: on the arc p..q.
        const double t = sp / (sp - sq);
        out.push_back(normalized(p + t * (q - p)));
      }
      if (q_in) out.push_back(q);
    }
    if (out.size() < 3) out.clear();
  }
}

void bounding_cap(std::span<const Vec3> poly, Vec3& centre, double& radius) {
  Vec3 s{};
  for (const Vec3& v : poly) s = s + v;
  centre = normalized(s);
  double min_cos = 1.0;
  for (const Vec3& v : poly) min_cos = std::min(min_cos, dot(centre, v));
  radius = std::acos(std::clamp(min_cos, -1.0, 1.0));
}

}  // namespace climseg::geo
