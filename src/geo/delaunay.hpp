// The Delaunay triangulation of points on the sphere, computed as their convex hull (the two are the
// same: a hull face's plane cuts from the sphere a cap that holds no other point, i.e. an empty
// circumcircle). Randomized incremental hull with a conflict graph (Clarkson and Shor 1989; de Berg
// et al., ch. 11): O(n log n) expected, with exact predicates, so co-circular points (which cubed-sphere
// grids have in abundance) get a valid triangulation of their flat face, whichever diagonal.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "geo/exact.hpp"

namespace climseg::geo {

struct SphereTriangulation {
  // Triangles as vertex ids, counter-clockwise seen from outside the sphere.
  std::vector<std::array<int32_t, 3>> triangles;
  // adjacent[t][k]: the triangle across the edge (v[k], v[(k + 1) % 3]); −1 on the boundary of a
  // regional point set (none when the points surround the origin).
  std::vector<std::array<int32_t, 3>> adjacent;
  // One triangle incident to each vertex.
  std::vector<int32_t> vertex_triangle;
  // Whether the hull holds the centre of the sphere strictly inside: the points cover the globe and
  // every hull face is a spherical Delaunay triangle. When not, the faces whose plane has the centre on
  // or above it (they span the empty part of the sphere) are left out, and the triangulation has a
  // boundary.
  bool global = true;

  // The neighbours of vertex v in counter-clockwise order (seen from outside) and, in `fan`, the
  // triangle between neighbour k and k + 1 (the last one −1 when v is on the boundary).
  void vertex_ring(int32_t v, std::vector<int32_t>& neighbours, std::vector<int32_t>* fan = nullptr) const;
};

// Triangulates the unit vectors `points` (normalised here). Throws Error when fewer than 4 points, when
// two points coincide (at 2^-40), or when all lie on one plane.
SphereTriangulation triangulate_sphere(std::span<const Vec3> points);

// The triangle of `tri` whose spherical triangle holds p, found by walking from `hint` (any triangle);
// −1 when p lies outside a regional triangulation. Exact on the snapped points.
int32_t locate(const SphereTriangulation& tri, std::span<const SnappedPoint> vertices, const SnappedPoint& p,
               int32_t hint);

}  // namespace climseg::geo
