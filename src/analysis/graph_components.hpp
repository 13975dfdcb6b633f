// Connected components of a mask on an unstructured grid (cells joined through their neighbours) and
// the same description as on the lat-lon grid: true area, centroid on the sphere, extent, length, peak.
#pragma once

#include <span>
#include <vector>

#include "analysis/components.hpp"
#include "geo/unstructured.hpp"

namespace climseg::analysis {

// Ids per column: 0 background, 1..count in the order of each component's first column.
ComponentLabels label_components(const geo::UnstructuredGrid& grid, std::span<const uint8_t> mask);

// Statistics of components 1..labels.count, in id order. Area: the columns' cell areas; length: the
// largest great-circle distance between two of the component's boundary columns (a column with a
// neighbour outside it); longitudes west/east: the extent around the centroid.
std::vector<ComponentStats> component_stats(const geo::UnstructuredGrid& grid, const ComponentLabels& labels,
                                            const StatsOptions& options = {});

}  // namespace climseg::analysis
