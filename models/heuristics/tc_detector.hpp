// Tropical-cyclone candidates in one time step, after the GFDL criteria as TECA applies them
// (Vitart et al. 1997; Prabhat et al. 2012), with TECA's defaults; every threshold is a parameter.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "geo/grid.hpp"

namespace climseg::heuristics {

struct TcParams {
  double min_vorticity = 1.6e-4;           // s-1 at 850 hPa; the sign is flipped south of the equator
  double vorticity_window_deg = 7.74446;   // the vorticity maximum is the largest in this window
  double max_core_radius_deg = 2.0;        // SLP minimum within this of the vorticity maximum, and the
                                           //   warm-core and thickness maxima within this of the SLP minimum
  double min_pressure_delta_pa = 400.0;    // SLP rises by this ...
  double pressure_delta_radius_deg = 5.0;  // ... within this distance, in all 8 directions
  double min_core_temp_delta_k = 0.8;      // (T200 + T500)/2 falls by this ...
  double core_temp_radius_deg = 5.0;       // ... within this
  double min_thickness_delta_m = 50.0;     // Z200 − Z1000 falls by this ...
  double thickness_radius_deg = 4.0;       // ... within this
  double lat_min = -80.0, lat_max = 80.0;  // search band (degrees north)
  double min_psl_pa = 50000.0;             // an SLP minimum below this is bad data, not a storm (TECA)
  // Of the 8 directions of the closed-contour tests, how many may be left out when their path runs
  // into missing data or off a regional grid (the weakest such ones are left out). 0: all 8 must
  // rise (TECA); a storm beside a hole in the data (or the edge of a regional grid) needs more.
  int contour_missing_directions = 0;

  // Throws UsageError naming the first bad value.
  void validate() const;
};

// The derived fields of one step, each an (H, W) plane on the canonical grid.
struct TcFields {
  std::span<const float> vorticity;  // relative vorticity at 850 hPa, s-1
  std::span<const float> psl;        // sea-level pressure, Pa
  std::span<const float> wind;       // near-surface wind speed, m s-1
  std::span<const float> warm_core;  // (T200 + T500) / 2, K; empty: no warm-core test
  std::span<const float> thickness;  // Z200 − Z1000, m; empty: no thickness test
};

struct TcCandidate {
  int64_t step = 0;           // index of the time step in the archive
  double time_days = 0;       // time of the step in days (any fixed origin)
  double lat = 0, lon = 0;    // the SLP minimum (sub-grid by a parabola fit), lon in [0, 360)
  double psl_min = 0;         // Pa
  double pressure_delta = 0;  // smallest, over the 8 directions, of the largest SLP rise within the radius (Pa)
  double wind_max = 0;        // largest wind speed in the vorticity window, m s-1
  double vorticity = 0;       // the vorticity maximum, s-1 (signed as in the field)
  double vort_lat = 0, vort_lon = 0;
  bool warm_core = false;      // warm-core criterion met
  double warm_core_delta = 0;  // like pressure_delta, for the temperature fall from the core (K)
  bool thickness = false;      // thickness criterion met
  double thickness_delta = 0;  // m
};

// Candidates of one step, ordered by latitude then longitude. A candidate needs the vorticity
// maximum, an SLP minimum within max_core_radius of it (a grid minimum that is lower than its eight
// neighbours, so a minimum farther away is not taken) and the closed pressure rise. The warm-core
// and thickness tests only set flags: as in TECA they count when trajectories are judged.
std::vector<TcCandidate> detect_tc_candidates(const geo::Grid& grid, const TcFields& fields, const TcParams& params,
                                              int64_t step = 0, double time_days = 0.0);

// The smallest, over 8 compass directions, of the largest rise of `field` (or fall when `falling`)
// from its value at (lat, lon) within radius_deg along that direction; the closed-contour measure
// behind the pressure, warm-core and thickness criteria. Sampled every half grid spacing; missing
// samples (NaN, or off a regional grid) are passed over. Up to `missing_directions` of the
// directions whose path meets a missing sample are left out, the weakest first (none: -inf). When
// the value at (lat, lon) itself is missing, the nearest cell's value is used.
double closed_contour_delta(const geo::Grid& grid, std::span<const float> field, double lat, double lon,
                            double radius_deg, bool falling, int missing_directions = 0);

}  // namespace climseg::heuristics
