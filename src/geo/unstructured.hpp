// The second grid type: unstructured columns on the sphere (E3SM / CAM-SE `ncol` output, SCRIP grid
// files, UGRID meshes). Each column has a position, a cell area on the sphere, neighbours and, when
// known, its cell polygon; the Delaunay triangulation of the columns is built once with the grid, for
// remapping and drawing. Fields on it are flat (N) float arrays in column order.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "geo/delaunay.hpp"
#include "geo/exact.hpp"

namespace climseg {
class Comm;
}

namespace climseg::geo {

struct UnstructuredGrid {
  enum class Cells {
    none,     // positions only, on a regional set of nodes: no polygons
    given,    // corners from the file (SCRIP grid_corner_*, UGRID faces)
    voronoi,  // the Voronoi cells of the nodes on the sphere (dual of the triangulation), for nodal data
  };

  std::vector<double> lat, lon;          // (N) degrees; lon in [0, 360)
  std::vector<Vec3> xyz;                 // (N) unit vectors
  std::vector<SnappedPoint> snapped;     // (N) for exact predicates
  std::vector<double> area_m2;           // (N) cell areas on the sphere of radius kEarthRadius
  std::vector<int64_t> neighbour_start;  // (N + 1) CSR offsets into `neighbours`
  std::vector<int32_t> neighbours;       // ids, counter-clockwise around each column for nodal grids
  Cells cells = Cells::none;
  std::vector<int64_t> cell_start;    // (N + 1) CSR offsets into `cell_corners`; empty when cells == none
  std::vector<Vec3> cell_corners;     // counter-clockwise seen from outside, great-circle edges
  SphereTriangulation triangulation;  // of the column positions
  std::string description;            // e.g. "cubed sphere ne30np4", for inspect and outputs

  int64_t size() const { return int64_t(lat.size()); }
  bool global() const { return triangulation.global; }
  bool has_cells() const { return cells != Cells::none; }
  std::span<const int32_t> neighbours_of(int64_t i) const {
    return {neighbours.data() + neighbour_start[size_t(i)],
            size_t(neighbour_start[size_t(i) + 1] - neighbour_start[size_t(i)])};
  }
  std::span<const Vec3> cell(int64_t i) const {
    return {cell_corners.data() + cell_start[size_t(i)], size_t(cell_start[size_t(i) + 1] - cell_start[size_t(i)])};
  }
  double total_area_m2() const;
  // Mean distance between neighbours in degrees of arc (the grid's resolution).
  double mean_spacing_deg() const;

  // Columns known by position only (CAM-SE np4 nodes): neighbours are the Delaunay edges; on a global
  // set the cells are the Voronoi cells (they tile the sphere, so areas sum to 4πR² to rounding), on a
  // regional one each area is a third of the incident triangles and there are no polygons.
  static UnstructuredGrid from_nodes(std::vector<double> lat, std::vector<double> lon);
  // Cells with corners (SCRIP: corner_lat/lon (N, corners_per_cell), repeated last corners allowed).
  // Corners closer than 1e-8 rad (6 cm) are one corner; neighbours are cells sharing an edge; areas are
  // the polygons'; clockwise cells are turned round.
  static UnstructuredGrid from_cells(std::vector<double> lat, std::vector<double> lon, int64_t corners_per_cell,
                                     std::span<const double> corner_lat, std::span<const double> corner_lon);

  // The same grid on every rank of `comm`, built on the root (MPI: built once, then broadcast).
  void broadcast(const Comm& comm, int root = 0);
  // Byte image of the whole grid and back (the broadcast's wire format).
  std::string serialize() const;
  static UnstructuredGrid deserialize(const std::string& bytes);
};

// Ids that merge points closer than tol (radians on the unit sphere): out[i] is the first point of i's
// group, in input order.
std::vector<int64_t> merge_close_points(std::span<const Vec3> points, double tol);

// Great-circle angle (radians) between unit vectors, accurate for small and large angles.
double angle_between(Vec3 a, Vec3 b);

}  // namespace climseg::geo
