// Connected components of a mask on the sphere (8-connected, periodic in longitude on global grids)
// and what describes each: true area, centroid on the sphere, bounding box, length, peak of a field.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "geo/grid.hpp"

namespace climseg::analysis {

// Component ids per cell: 0 background, 1..count in raster order of each component's first cell
// (south-west first), so the numbering is deterministic.
struct ComponentLabels {
  std::vector<int32_t> labels;  // (H, W)
  int32_t count = 0;
};

enum class Connectivity { four = 4, eight = 8 };

// Labels the cells where mask != 0. On a periodic grid column W−1 touches column 0 (diagonals too);
// rows never wrap (the poles are not neighbours of each other).
ComponentLabels label_components(const geo::Grid& grid, std::span<const uint8_t> mask,
                                 Connectivity connectivity = Connectivity::eight);

struct ComponentStats {
  int32_t id = 0;
  int64_t cells = 0;
  double area_km2 = 0;      // sum of the true cell areas (geo::Grid::row_areas)
  double centroid_lat = 0;  // area-weighted mean position on the sphere (mean of unit vectors),
  double centroid_lon = 0;  //   so a component across the date line is centred on it; lon in [0, 360)
  double lat_min = 0, lat_max = 0;
  double lon_west = 0, lon_east = 0;  // cell centres; lon_east < lon_west when the box crosses 0°
  double length_km = 0;               // largest great-circle distance between two of its cells (see .cpp)
  double width_km = 0;                // area / length (Guan & Waliser 2015)
  bool has_peak = false;              // a field was given and the component has a valid cell
  double peak_value = 0, peak_lat = 0, peak_lon = 0;
};

struct StatsOptions {
  std::span<const float> field;  // (H, W) optional: the field whose peak is reported
  std::span<const float> valid;  // (H, W) optional 1/0: cells of `field` to ignore
  bool peak_is_minimum = false;  // e.g. sea-level pressure
  bool length = true;            // the great-circle length costs O(boundary²) per component
};

// Statistics of components 1..labels.count, in id order.
std::vector<ComponentStats> component_stats(const geo::Grid& grid, const ComponentLabels& labels,
                                            const StatsOptions& options = {});

// Keeps the components for which keep[id] is true (keep has count + 1 entries, keep[0] ignored),
// renumbering the survivors 1..n in their previous order.
void filter_components(ComponentLabels& labels, const std::vector<bool>& keep);

// The id of the component with the largest area (0 when there is none).
int32_t largest_component(const std::vector<ComponentStats>& stats);

}  // namespace climseg::analysis
