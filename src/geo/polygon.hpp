// Spherical polygons with great-circle edges, as unit vectors counter-clockwise seen from outside:
// area, a point-in-convex-polygon test, and clipping to a convex polygon (the overlaps behind
// first-order conservative remapping).
#pragma once

#include <span>
#include <vector>

#include "geo/exact.hpp"

namespace climseg::geo {

// Signed area in steradians of a simple polygon smaller than a hemisphere: a fan of triangles from the
// first vertex, so concave polygons are measured right too. Positive when counter-clockwise.
double spherical_polygon_area(std::span<const Vec3> polygon);

// The part of `subject` (a simple polygon) inside the convex polygon `clip` (Sutherland and Hodgman
// on the sphere: one hemisphere per clip edge). Both within a hemisphere. `out` is empty when they do
// not overlap. Two clip polygons that share an edge (the same two vertex vectors, in opposite order)
// split the subject exactly between them: the edge's plane normals are exact negatives.
void clip_to_convex(std::span<const Vec3> subject, std::span<const Vec3> clip, std::vector<Vec3>& out,
                    std::vector<Vec3>& scratch);

// Centre (normalised mean of the vertices) and angular radius (radians, the largest angle from the
// centre to a vertex) of a polygon; a cap holding it when its edges are shorter than a half circle.
void bounding_cap(std::span<const Vec3> polygon, Vec3& centre, double& radius_rad);

}  // namespace climseg::geo
