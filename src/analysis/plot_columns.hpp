// Maps of fields on unstructured columns: the field is drawn from the columns' Delaunay triangles
// (linear in each triangle, so every pixel's colour comes from the three columns around it) on a
// lat-lon raster, class outlines from the nearest column, then the lat-lon map (plot::render_map).
#pragma once

#include <span>
#include <vector>

#include "analysis/plot.hpp"
#include "geo/remap.hpp"
#include "geo/unstructured.hpp"

namespace climseg::plot {

class ColumnMap {
 public:
  // The raster: `height` rows of cell centres (default 0.5°), twice as many columns; the weights once.
  explicit ColumnMap(const geo::UnstructuredGrid& grid, int64_t height = 360);
  const geo::Grid& raster() const { return raster_; }
  // The field on the raster (NaN where missing or outside a regional grid).
  std::vector<float> raster_field(std::span<const float> field) const;
  // Class ids on the raster: the class of the column nearest each pixel among its triangle's three.
  std::vector<uint8_t> raster_classes(std::span<const float> classes) const;
  // The map (see render_map); `classes` (N, optional) as class ids per column.
  Image render(std::span<const float> field, std::span<const float> classes, const std::vector<Track>& tracks,
               const MapSpec& spec) const;

 private:
  geo::Grid raster_;
  geo::RemapWeights weights_;
  std::vector<int32_t> nearest_;  // (raster) the column with the largest weight, -1 outside
};

}  // namespace climseg::plot
