// The per-step cyclone mask around track points (Kurth et al. 2018): in a box scaled to the storm,
// the cells where TMQ, wind speed or precipitation exceed their 93rd percentile in that box, each
// field's largest connected piece, united, and the largest connected piece of the union.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "geo/grid.hpp"
#include "geo/sphere.hpp"

namespace climseg::heuristics {

struct TcMaskParams {
  double percentile = 93.0;   // per field, over the cells of the box
  double gale_wind = 17.0;    // m s-1: the storm radius is where the wind falls below this
  double radius_scale = 1.0;  // box half-width = radius_scale · storm radius + box_pad_deg,
  double box_pad_deg = 3.0;   //   clamped to [min_half_box_deg, max_half_box_deg] (degrees of arc)
  double min_half_box_deg = 3.0;
  double max_half_box_deg = 12.0;
  void validate() const;
};

// (H, W) planes; any may be empty, but not all three.
struct TcMaskFields {
  std::span<const float> tmq;     // kg m-2
  std::span<const float> wind;    // m s-1 (also used for the storm radius)
  std::span<const float> precip;  // any unit
};

// Mean, over 8 compass directions, of the distance (degrees of arc) from the centre to where the
// wind first falls below `gale` after reaching it, searching out to max_deg; 0 when it never reaches it.
double storm_radius_deg(const geo::Grid& grid, std::span<const float> wind, double lat, double lon, double gale,
                        double max_deg);

// Sets out[cell] = value for the mask cells around each centre (out is (H, W), other cells untouched).
// Each centre's mask depends only on the fields and that centre (tc_mask_runs), so the masks of
// several centres are found on all threads.
void tc_mask(const geo::Grid& grid, const TcMaskFields& fields, const std::vector<geo::LatLon>& centres,
             const TcMaskParams& params, std::span<uint8_t> out, uint8_t value = 1);

// Cells first, first + 1, ..., first + length - 1 of an (H, W) plane.
struct MaskRun {
  int64_t first = 0, length = 0;
};
// The cells tc_mask sets for one centre, as runs along rows: a step's mask is the union of its
// centres' runs (set_runs), so a mask can be found once, where the fields are read, and set later.
std::vector<MaskRun> tc_mask_runs(const geo::Grid& grid, const TcMaskFields& fields, const geo::LatLon& centre,
                                  const TcMaskParams& params);
// The same for several centres (on all threads), in their order.
std::vector<std::vector<MaskRun>> tc_mask_runs(const geo::Grid& grid, const TcMaskFields& fields,
                                               const std::vector<geo::LatLon>& centres, const TcMaskParams& params);
// out[cell] = value for the cells of `runs`; throws Error for a run outside `out`.
void set_runs(std::span<const MaskRun> runs, std::span<uint8_t> out, uint8_t value = 1);

// The q-th percentile (0..100) of values with linear interpolation between order statistics
// (numpy's default); `values` is reordered.
double percentile(std::vector<float>& values, double q);

}  // namespace climseg::heuristics
