// `climseg bench grid`: seconds and memory to set up an unstructured grid (triangulation, neighbours,
// cells, areas) and its remap weights to and from a lat-lon grid, and to apply them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace climseg::bench {

struct GridBenchOptions {
  std::string grid = "ne120np4";    // cubed sphere: neXnpY or neXpgY
  std::string latlon = "768x1152";  // lat-lon grid of the weights, HxW (CAM layout)
  bool conservative = false;        // also first-order conservative weights both ways
};

// One object: grid, latlon, threads, (np grids) nodes_s, triangulation_s, triangulation_peak_rss_mb,
// columns, grid_s, bilinear_to_latlon_s, bilinear_to_columns_s, setup_s, setup_peak_rss_mb,
// apply_to_latlon_s, apply_to_columns_s, conservative_*_s, peak_rss_mb (keys in that order).
nlohmann::ordered_json bench_grid(const GridBenchOptions& o);

}  // namespace climseg::bench
