// Remapping between unstructured column grids and lat-lon grids as a sparse weights matrix, computed
// once per pair of grids and applied to any number of fields in parallel: bilinear (linear on the
// Delaunay triangles of the columns; bilinear in the lat-lon cells the other way) and first-order
// conservative (overlap areas of the cells on the sphere). The matrix carries both grids' descriptions
// so it can be written as a SCRIP weights file (readers/scrip.hpp) that CDO and NCO apply.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/enum_names.hpp"
#include "core/tensor.hpp"
#include "geo/grid.hpp"
#include "geo/unstructured.hpp"

namespace climseg {
class Comm;
}

namespace climseg::geo {

// A grid as a weights file describes it: N points in the order fields are stored (lat-lon: row-major
// (lat, lon), canonical orientation), with cell corners when known.
struct RemapGrid {
  std::vector<double> lat, lon;  // (N) degrees
  int64_t corners = 0;           // corners per cell in corner_lat/lon (short cells repeat their last corner); 0: none
  std::vector<double> corner_lat, corner_lon;  // (N, corners) degrees, counter-clockwise
  std::vector<double> area;                    // (N) steradians (great-circle polygon areas; nodal grids: Voronoi)
  std::vector<int64_t> dims;                   // SCRIP grid_dims: {nlon, nlat} for lat-lon, {N} for columns
  int64_t size() const { return int64_t(lat.size()); }
  static RemapGrid describe(const Grid& grid);
  static RemapGrid describe(const UnstructuredGrid& grid);
};

enum class RemapMethod { bilinear, conservative };
const char* remap_method_name(RemapMethod m);  // "bilinear", "conservative"

// target = W · source, W stored by target rows (CSR).
struct RemapWeights {
  RemapMethod method = RemapMethod::bilinear;
  RemapGrid source, target;
  std::vector<double> source_frac, target_frac;  // (Ns), (Nt): fraction of each cell the other grid covers
  std::vector<int64_t> row_start;                // (Nt + 1)
  std::vector<int32_t> col;                      // source index of each weight
  std::vector<double> weight;

  int64_t source_size() const { return source.size(); }
  int64_t target_size() const { return target.size(); }
  int64_t nnz() const { return int64_t(weight.size()); }

  // out[t] = Σ w · in[s]. NaN sources are left out and the row's remaining weights scaled up to the
  // row's total; a target with no valid source (or none at all: outside a regional grid) gets NaN.
  // Sums in double; targets in parallel.
  void apply(std::span<const float> in, std::span<float> out) const;
  void apply(std::span<const double> in, std::span<double> out) const;
  // (..., Ns) → (..., Nt): every leading index (time, channel) remapped.
  Tensor apply(const Tensor& in) const;

  // The matrix on every rank of `comm`, computed on the root (MPI: built once, then broadcast).
  void broadcast(const Comm& comm, int root = 0);
  std::string serialize() const;
  static RemapWeights deserialize(const std::string& bytes);
};

// Columns → lat-lon: the Delaunay triangle holding each lat-lon point, barycentric weights of its
// three columns (in the triangle's plane, seen from the centre of the sphere). Points outside a
// regional grid get no weights.
RemapWeights bilinear_weights(const UnstructuredGrid& source, const Grid& target);
// Lat-lon → columns: bilinear in the lat-lon cell around each column, periodic in longitude; on a
// global grid a column poleward of the outermost row is interpolated across the pole (toward the
// same row 180° away). Outside a regional lat-lon grid: no weights.
RemapWeights bilinear_weights(const Grid& source, const UnstructuredGrid& target);
// First-order conservative: weight = overlap area / covered area of the target cell. Needs the
// columns' cells (given corners, or the Voronoi cells of a global nodal grid). Lat-lon cells are
// bounded by the midpoints between rows and columns (±90° at the ends), edges great circles.
RemapWeights conservative_weights(const UnstructuredGrid& source, const Grid& target);
RemapWeights conservative_weights(const Grid& source, const UnstructuredGrid& target);

}  // namespace climseg::geo

template <>
struct climseg::config::EnumTable<climseg::geo::RemapMethod> {
  static constexpr std::pair<const char*, geo::RemapMethod> names[] = {
      {"bilinear", geo::RemapMethod::bilinear}, {"conservative", geo::RemapMethod::conservative}};
};
