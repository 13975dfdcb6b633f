// Unstructured grids: exact predicates, the spherical Delaunay triangulation (checked by brute force:
// no point above any triangle's plane; Euler's formula; consistent adjacency), on point sets full of
// co-circular quadruples (cube corners, cubed-sphere GLL nodes), regional sets and bad input; the
// generated ne30np4 nodes against the real CAM-SE file; areas, neighbours and the grid image.
#include <gtest/gtest.h>
#include <netcdf.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "core/error.hpp"
#include "geo/cubed_sphere.hpp"
#include "geo/delaunay.hpp"
#include "geo/grid.hpp"
#include "geo/polygon.hpp"
#include "geo/unstructured.hpp"
#include "test_support.hpp"

using namespace climseg;
using namespace climseg::geo;

namespace {

std::vector<SnappedPoint> snapped(const std::vector<Vec3>& p) {
  std::vector<SnappedPoint> s;
  for (const Vec3& v : p) s.push_back(snap(normalized(v)));
  return s;
}

// Every property a triangulation of points on the sphere must have, checked without trusting it.
void expect_valid_delaunay(const std::vector<Vec3>& points, const SphereTriangulation& t, bool brute_force = true) {
  const std::vector<SnappedPoint> s = snapped(points);
  const int64_t n = int64_t(points.size()), nt = int64_t(t.triangles.size());
  // Adjacency is symmetric and matches the shared edge.
  for (int64_t a = 0; a < nt; ++a)
    for (int k = 0; k < 3; ++k) {
      const int32_t b = t.adjacent[size_t(a)][size_t(k)];
      if (b < 0) continue;
      const int32_t u = t.triangles[size_t(a)][size_t(k)], v = t.triangles[size_t(a)][size_t((k + 1) % 3)];
      bool back = false;
      for (int m = 0; m < 3; ++m)
        back = back || (t.triangles[size_t(b)][size_t(m)] == v && t.triangles[size_t(b)][size_t((m + 1) % 3)] == u &&
                        t.adjacent[size_t(b)][size_t(m)] == int32_t(a));
      ASSERT_TRUE(back) << "triangle " << a << " edge " << k;
    }
  if (t.global) {
    // A closed surface of n vertices: 2n − 4 triangles, and the spherical areas tile the sphere.
    EXPECT_EQ(nt, 2 * n - 4);
    double area = 0;
    for (const auto& tr : t.triangles)
      area += spherical_triangle_area(normalized(points[size_t(tr[0])]), normalized(points[size_t(tr[1])]),
                                      normalized(points[size_t(tr[2])]));
    EXPECT_NEAR(area, 4 * kPi, 1e-10);
  }
  for (int64_t v = 0; v < n; ++v) EXPECT_GE(t.vertex_triangle[size_t(v)], 0) << "vertex " << v;
  if (!brute_force) {
    // Large sets: locally Delaunay (each triangle counter-clockwise, and the far vertex of each
    // neighbour not above its plane), which for a closed surface tiling the sphere once is the
    // global property (a locally convex closed surface is convex).
    const SnappedPoint origin{0, 0, 0};
    for (int64_t a = 0; a < nt; ++a) {
      const auto& tr = t.triangles[size_t(a)];
      const SnappedPoint &p = s[size_t(tr[0])], &q = s[size_t(tr[1])], &r = s[size_t(tr[2])];
      ASSERT_LT(orient3d(p, q, r, origin), 0) << "triangle " << a;
      for (int k = 0; k < 3; ++k) {
        const int32_t b = t.adjacent[size_t(a)][size_t(k)];
        if (b < 0) continue;
        for (int32_t v : t.triangles[size_t(b)])
          ASSERT_LE(orient3d(p, q, r, s[size_t(v)]), 0) << "triangle " << a << " neighbour " << b << " point " << v;
      }
    }
    return;
  }
  // Delaunay: no point strictly above the plane of any triangle (inside its circumcircle), and every
  // triangle counter-clockwise seen from outside (the centre below it).
  const SnappedPoint origin{0, 0, 0};
  for (int64_t a = 0; a < nt; ++a) {
    const auto& tr = t.triangles[size_t(a)];
    const SnappedPoint &p = s[size_t(tr[0])], &q = s[size_t(tr[1])], &r = s[size_t(tr[2])];
    EXPECT_LT(orient3d(p, q, r, origin), 0) << "triangle " << a;
    for (int64_t v = 0; v < n; ++v) ASSERT_LE(orient3d(p, q, r, s[size_t(v)]), 0) << "triangle " << a << " point " << v;
  }
}

std::vector<Vec3> random_points(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  std::vector<Vec3> p;
  for (int i = 0; i < n; ++i) p.push_back(normalized({g(rng), g(rng), g(rng)}));
  return p;
}

}  // namespace

TEST(Exact, OrientationIsExactOnCoplanarPoints) {
  // Four corners of a cube face: exactly on one plane, and symmetric, so rounding cannot break it.
  const double c = 1 / std::sqrt(3.0);
  const SnappedPoint a = snap({c, c, c}), b = snap({-c, c, c}), d = snap({-c, -c, c}), e = snap({c, -c, c});
  EXPECT_EQ(orient3d(a, b, d, e), 0);
  EXPECT_EQ(orient3d(a, b, d, snap({0, 0, 1})), 1);  // above the face, toward the normal (b−a)×(d−a) = +z
  EXPECT_EQ(orient3d(a, b, d, snap({0, 0, -1})), -1);
  EXPECT_EQ(orient3d(b, a, d, snap({0, 0, 1})), -1);  // swapping two points flips the sign
  // A determinant far below the filter's reach: points 1 lattice unit apart.
  const SnappedPoint o{0, 0, 0}, x{1, 0, 0}, y{0, 1, 0}, z1{0, 0, 1}, z0{5, 7, 0};
  EXPECT_EQ(orient3d(o, x, y, z1), 1);
  EXPECT_EQ(orient3d(o, x, y, z0), 0);
  EXPECT_EQ(orient_origin(x, y, z1), 1);
}

TEST(Delaunay, CubeCornersAreTwelveTrianglesWithFlatFaces) {
  std::vector<Vec3> p;
  for (int i = 0; i < 8; ++i) p.push_back(normalized({i & 1 ? 1.0 : -1.0, i & 2 ? 1.0 : -1.0, i & 4 ? 1.0 : -1.0}));
  const SphereTriangulation t = triangulate_sphere(p);
  EXPECT_TRUE(t.global);
  EXPECT_EQ(t.triangles.size(), 12u);
  expect_valid_delaunay(p, t);
  // Each cube face is cut by one diagonal: every triangle lies on a face (its 3 corners share a coordinate sign).
  for (const auto& tr : t.triangles) {
    bool on_face = false;
    for (int axis = 0; axis < 3; ++axis) {
      const int bit = 1 << axis;
      on_face = on_face || ((tr[0] & bit) == (tr[1] & bit) && (tr[1] & bit) == (tr[2] & bit));
    }
    EXPECT_TRUE(on_face);
  }
}

TEST(Delaunay, OctahedronHasFourNeighboursEverywhere) {
  const std::vector<Vec3> p = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
  const SphereTriangulation t = triangulate_sphere(p);
  EXPECT_EQ(t.triangles.size(), 8u);
  expect_valid_delaunay(p, t);
  std::vector<int32_t> ring, fan;
  t.vertex_ring(4, ring, &fan);  // north pole: the four equator points, counter-clockwise from above
  ASSERT_EQ(ring.size(), 4u);
  EXPECT_EQ(std::set<int32_t>(ring.begin(), ring.end()), (std::set<int32_t>{0, 1, 2, 3}));
  for (size_t k = 0; k < 4; ++k) {
    const Vec3 a = p[size_t(ring[k])], b = p[size_t(ring[(k + 1) % 4])];
    EXPECT_GT(cross(a, b).z, 0);  // counter-clockwise seen from above the north pole
  }
}

TEST(Delaunay, RandomPointsAreDelaunay) {
  const std::vector<Vec3> p = random_points(1500, 11);
  const SphereTriangulation t = triangulate_sphere(p);
  EXPECT_TRUE(t.global);
  expect_valid_delaunay(p, t);
}

TEST(Delaunay, CubedSphereNodesFullOfCocircularPoints) {
  for (int np : {4, 2}) {
    std::vector<double> lat, lon;
    cubed_sphere_nodes(4, np, lat, lon);
    std::vector<Vec3> p;
    for (size_t i = 0; i < lat.size(); ++i) p.push_back(unit_vector(lat[i], lon[i]));
    const SphereTriangulation t = triangulate_sphere(p);
    EXPECT_TRUE(t.global);
    expect_valid_delaunay(p, t);
  }
}

// ne30np4 (48,602 nodes, rows of co-circular points): the global set-up path at scale.
TEST(Delaunay, Ne30np4NodesAreLocallyDelaunay) {
  std::vector<double> lat, lon;
  cubed_sphere_nodes(30, 4, lat, lon);
  std::vector<Vec3> p;
  for (size_t i = 0; i < lat.size(); ++i) p.push_back(unit_vector(lat[i], lon[i]));
  const SphereTriangulation t = triangulate_sphere(p);
  EXPECT_TRUE(t.global);
  expect_valid_delaunay(p, t, false);
}

TEST(Delaunay, RegionalPointsHaveABoundary) {
  // Points in a cap of 30° around (40°N, 10°E), plus points exactly on one small circle.
  std::vector<Vec3> p;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 400; ++i) p.push_back(unit_vector(25 + 30 * u(rng), -5 + 30 * u(rng)));
  const SphereTriangulation t = triangulate_sphere(p);
  EXPECT_FALSE(t.global);
  expect_valid_delaunay(p, t);
  int boundary = 0;
  for (const auto& a : t.adjacent)
    for (int32_t b : a) boundary += b < 0;
  EXPECT_GT(boundary, 10);
  // Euler for a disc: T = 2n − 2 − (boundary edges).
  EXPECT_EQ(int64_t(t.triangles.size()), 2 * int64_t(p.size()) - 2 - boundary);
}

TEST(Delaunay, BadPointSetsAreRefusedInOneLine) {
  std::vector<Vec3> p = random_points(50, 5);
  p.push_back(p[7]);
  try {
    triangulate_sphere(p);
    FAIL() << "coincident points accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("points 7 and 50 are at the same position"), std::string::npos) << e.what();
  }
  std::vector<Vec3> equator;
  for (int k = 0; k < 20; ++k) equator.push_back(unit_vector(0, 18.0 * k));
  EXPECT_THROW(triangulate_sphere(equator), Error);
  EXPECT_THROW(triangulate_sphere(std::vector<Vec3>(random_points(3, 1))), Error);
}

TEST(Delaunay, LocateFindsTheTriangleHoldingAPoint) {
  const std::vector<Vec3> p = random_points(3000, 17);
  const SphereTriangulation t = triangulate_sphere(p);
  const std::vector<SnappedPoint> s = snapped(p);
  const std::vector<Vec3> q = random_points(500, 23);
  int32_t hint = 0;
  for (const Vec3& x : q) {
    const SnappedPoint sx = snap(x);
    const int32_t f = locate(t, s, sx, hint);
    ASSERT_GE(f, 0);
    const auto& tr = t.triangles[size_t(f)];
    EXPECT_GE(orient_origin(s[size_t(tr[0])], s[size_t(tr[1])], sx), 0);
    EXPECT_GE(orient_origin(s[size_t(tr[1])], s[size_t(tr[2])], sx), 0);
    EXPECT_GE(orient_origin(s[size_t(tr[2])], s[size_t(tr[0])], sx), 0);
    hint = f;
  }
}

TEST(CubedSphere, GllPointsAndColumnCounts) {
  const std::vector<double> x = gll_points(4);
  ASSERT_EQ(x.size(), 4u);
  EXPECT_DOUBLE_EQ(x[0], -1);
  EXPECT_NEAR(x[1], -1 / std::sqrt(5.0), 1e-15);
  EXPECT_NEAR(x[2], 1 / std::sqrt(5.0), 1e-15);
  const std::vector<double> x5 = gll_points(5);  // 0, ±sqrt(3/7)
  EXPECT_NEAR(x5[2], 0, 1e-15);
  EXPECT_NEAR(x5[3], std::sqrt(3.0 / 7.0), 1e-15);
  std::vector<double> lat, lon;
  cubed_sphere_nodes(30, 4, lat, lon);
  EXPECT_EQ(lat.size(), 48602u);
  const auto spec = parse_cubed_sphere("ne30np4");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->columns(), 48602);
  EXPECT_EQ(parse_cubed_sphere("ne120np4")->columns(), 777602);
  EXPECT_EQ(parse_cubed_sphere("ne30pg2")->columns(), 21600);
  EXPECT_EQ(parse_cubed_sphere("ne120pg2")->columns(), 345600);
  EXPECT_FALSE(parse_cubed_sphere("96x144"));
  EXPECT_THROW(parse_cubed_sphere("ne30np1"), UsageError);
}

TEST(CubedSphere, Ne30np4NodesAreTheRealFilesColumns) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  const auto path = test::real_file("geocat_camse_unstructured_grid.nc");
  int nc, dim, vlat, vlon;
  ASSERT_EQ(nc_open(path.c_str(), NC_NOWRITE, &nc), NC_NOERR);
  size_t n = 0;
  ASSERT_EQ(nc_inq_dimid(nc, "ncol", &dim), NC_NOERR);
  ASSERT_EQ(nc_inq_dimlen(nc, dim, &n), NC_NOERR);
  std::vector<double> rlat(n), rlon(n);
  ASSERT_EQ(nc_inq_varid(nc, "lat", &vlat), NC_NOERR);
  ASSERT_EQ(nc_inq_varid(nc, "lon", &vlon), NC_NOERR);
  ASSERT_EQ(nc_get_var_double(nc, vlat, rlat.data()), NC_NOERR);
  ASSERT_EQ(nc_get_var_double(nc, vlon, rlon.data()), NC_NOERR);
  nc_close(nc);
  ASSERT_EQ(n, 48602u);
  std::vector<double> lat, lon;
  cubed_sphere_nodes(30, 4, lat, lon);
  ASSERT_EQ(lat.size(), n);
  // One to one: each real column's nearest generated node, and no node taken twice.
  std::vector<Vec3> mine;
  for (size_t i = 0; i < n; ++i) mine.push_back(unit_vector(lat[i], lon[i]));
  std::map<std::array<int64_t, 3>, std::vector<int64_t>> buckets;
  const double cell = 0.01;  // radians: well under the 0.83° smallest node spacing
  auto key = [&](Vec3 v) {
    return std::array<int64_t, 3>{int64_t(std::floor(v.x / cell)), int64_t(std::floor(v.y / cell)),
                                  int64_t(std::floor(v.z / cell))};
  };
  for (size_t i = 0; i < n; ++i) buckets[key(mine[i])].push_back(int64_t(i));
  std::vector<int> taken(n, 0);
  double worst = 0;
  for (size_t r = 0; r < n; ++r) {
    const Vec3 v = unit_vector(rlat[r], rlon[r]);
    const auto k = key(v);
    double best = 1e9;
    int64_t at = -1;
    for (int dx = -1; dx <= 1; ++dx)
      for (int dy = -1; dy <= 1; ++dy)
        for (int dz = -1; dz <= 1; ++dz) {
          auto it = buckets.find({k[0] + dx, k[1] + dy, k[2] + dz});
          if (it == buckets.end()) continue;
          for (int64_t i : it->second) {
            const double d = angle_between(v, mine[size_t(i)]);
            if (d < best) best = d, at = i;
          }
        }
    ASSERT_GE(at, 0);
    ++taken[size_t(at)];
    worst = std::max(worst, best / kDegToRad);
  }
  EXPECT_EQ(*std::max_element(taken.begin(), taken.end()), 1);
  EXPECT_LT(worst, 1e-9) << "degrees";
  std::printf("ne30np4: largest distance from a real column to its generated node %.3g degrees\n", worst);
}

TEST(UnstructuredGrid, Ne30np4VoronoiCellsTileTheSphere) {
  const UnstructuredGrid g = cubed_sphere_grid(*parse_cubed_sphere("ne30np4"));
  ASSERT_EQ(g.size(), 48602);
  EXPECT_TRUE(g.global());
  EXPECT_EQ(g.cells, UnstructuredGrid::Cells::voronoi);
  const double sphere = 4 * kPi * kEarthRadius * kEarthRadius;
  EXPECT_NEAR(g.total_area_m2() / sphere, 1.0, 1e-12);
  // Voronoi areas are positive and, on this nearly uniform grid, within a factor 3 of the mean.
  const double mean = sphere / double(g.size());
  for (double a : g.area_m2) {
    ASSERT_GT(a, mean / 3);
    ASSERT_LT(a, mean * 3);
  }
  // Neighbours are symmetric; 3..8 of them (GLL quads cut by either diagonal; 3 at cube corners).
  for (int64_t i = 0; i < g.size(); ++i) {
    const auto nb = g.neighbours_of(i);
    ASSERT_GE(nb.size(), 3u);
    ASSERT_LE(nb.size(), 8u);
    for (int32_t j : nb) {
      const auto back = g.neighbours_of(j);
      ASSERT_NE(std::find(back.begin(), back.end(), int32_t(i)), back.end());
    }
  }
  EXPECT_NEAR(g.mean_spacing_deg(), 1.0, 0.25);  // ne30np4 is "1 degree"
}

TEST(UnstructuredGrid, Pg2CellsHaveFourEdgeNeighboursAndExactAreas) {
  const UnstructuredGrid g = cubed_sphere_grid(*parse_cubed_sphere("ne4pg2"));
  ASSERT_EQ(g.size(), 6 * 16 * 4);
  EXPECT_EQ(g.cells, UnstructuredGrid::Cells::given);
  EXPECT_NEAR(g.total_area_m2() / (4 * kPi * kEarthRadius * kEarthRadius), 1.0, 1e-13);
  for (int64_t i = 0; i < g.size(); ++i) EXPECT_EQ(g.neighbours_of(i).size(), 4u) << "cell " << i;
  // The cube-face-centre cells are the largest, by the gnomonic map's known ratio of edge to centre
  // cell areas: all four cells at a face centre are equal.
  std::vector<double> a = g.area_m2;
  std::sort(a.begin(), a.end());
  EXPECT_NEAR(a.back() / a[a.size() - 24], 1.0, 1e-12);
}

TEST(UnstructuredGrid, CellsFromCornersGivenClockwiseOrWithRepeats) {
  // Two triangles padded to 4 corners (last repeated), one of them clockwise: areas positive, neighbours.
  std::vector<double> lat = {10, 10}, lon = {1, 3};
  std::vector<double> clat = {0, 0, 20, 20, 0, 20, 20, 20}, clon = {0, 4, 0, 0, 4, 4, 0, 0};
  // cell 1 clockwise: (0,4) -> (20,4)... given as (0,4),(20,4),(20,0)
  clat = {0, 0, 20, 20, 0, 20, 20, 20};
  clon = {0, 4, 0, 0, 4, 4, 0, 0};
  // A grid needs 4 positions for its triangulation: add two far cells.
  lat.insert(lat.end(), {-60, 60});
  lon.insert(lon.end(), {180, 200});
  clat.insert(clat.end(), {-70, -70, -50, -50, 50, 50, 70, 70});
  clon.insert(clon.end(), {170, 190, 190, 170, 190, 210, 210, 190});
  const UnstructuredGrid g = UnstructuredGrid::from_cells(lat, lon, 4, clat, clon);
  // The two triangles tile the quadrilateral (0..20°N, 0..4°E) with great-circle edges.
  const Vec3 a = unit_vector(0, 0), b = unit_vector(0, 4), c = unit_vector(20, 4), d = unit_vector(20, 0);
  const double quad =
      (spherical_triangle_area(a, b, c) + spherical_triangle_area(a, c, d)) * kEarthRadius * kEarthRadius;
  EXPECT_GT(g.area_m2[1], 0);  // given clockwise, turned round
  EXPECT_NEAR(g.area_m2[0] + g.area_m2[1], quad, quad * 1e-12);
  EXPECT_NEAR(g.area_m2[0] / g.area_m2[1], 1.0, 0.1);
  ASSERT_EQ(g.neighbours_of(0).size(), 1u);
  EXPECT_EQ(g.neighbours_of(0)[0], 1);
  EXPECT_EQ(g.cell(0).size(), 3u);
  EXPECT_TRUE(g.neighbours_of(2).empty());
}

TEST(UnstructuredGrid, BadPositionsAreRefused) {
  EXPECT_THROW(UnstructuredGrid::from_nodes({0, 1, 2, 95}, {0, 1, 2, 3}), Error);
  EXPECT_THROW(UnstructuredGrid::from_nodes({0, 1, 2, NAN}, {0, 1, 2, 3}), Error);
  EXPECT_THROW(UnstructuredGrid::from_nodes({0, 1, 2}, {0, 1, 2, 3}), Error);
}

TEST(UnstructuredGrid, ImageRoundTripsBitForBit) {
  const UnstructuredGrid g = cubed_sphere_grid(*parse_cubed_sphere("ne4np4"));
  const UnstructuredGrid h = UnstructuredGrid::deserialize(g.serialize());
  EXPECT_EQ(h.lat, g.lat);
  EXPECT_EQ(h.area_m2, g.area_m2);
  EXPECT_EQ(h.neighbours, g.neighbours);
  EXPECT_EQ(h.triangulation.triangles, g.triangulation.triangles);
  EXPECT_EQ(h.description, g.description);
  EXPECT_EQ(h.serialize(), g.serialize());
  EXPECT_THROW(UnstructuredGrid::deserialize(g.serialize().substr(0, 100)), Error);
}
