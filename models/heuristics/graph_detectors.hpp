// The detectors on an unstructured grid, where a column knows only its neighbours: cyclone candidates
// with TempestExtremes' DetectNodes semantics (local minima of sea-level pressure, merged within a
// great-circle distance, closed-contour tests by breadth-first search out to a great-circle distance),
// and rivers as connected components over neighbours with the lat-lon detector's filters. Candidates
// are the lat-lon detector's TcCandidate, so the same tracking (stitch_tracks) follows.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "geo/unstructured.hpp"
#include "models/heuristics/ar_detector.hpp"
#include "models/heuristics/tc_detector.hpp"
#include "models/heuristics/tc_mask.hpp"

namespace climseg::heuristics {

// The fields of one step, each (N) on the grid's columns; empty: that test is not made.
struct GraphTcFields {
  std::span<const float> psl;        // Pa
  std::span<const float> wind;       // near-surface wind speed, m s-1
  std::span<const float> warm_core;  // (T200 + T500) / 2, K
  std::span<const float> thickness;  // Z200 − Z1000, m
};

struct GraphTcParams {
  // Thresholds shared with the lat-lon detector: the closed pressure rise (min_pressure_delta_pa
  // within pressure_delta_radius_deg), the warm core and thickness falls (within core_temp_radius_deg
  // and thickness_radius_deg of their maximum within max_core_radius_deg), the latitude band, min_psl_pa.
  TcParams tc;
  double merge_distance_deg = 6.0;  // of two minima closer than this only the lower is kept (DetectNodes --mergedist)
  double wind_radius_deg = 3.87;    // wind_max: the largest wind within this (half TECA's vorticity window)
  void validate() const;
};

// The closed-contour measure of DetectNodes: starting from `start` (or, when minmax_radius_deg > 0,
// from the extreme of `field` within that distance of it), the largest d such that every path over
// neighbours from there to a column farther than radius_deg meets a column whose value has risen by
// d (fallen by d when `falling`). A path through missing values (NaN) is never closed by them.
// +inf when no path leaves the radius; so "closed contour of Δ within r" is `closed_contour(...) >= Δ`.
double closed_contour(const geo::UnstructuredGrid& grid, std::span<const float> field, int64_t start, double radius_deg,
                      bool falling, double minmax_radius_deg = 0.0);

// Candidates of one step, ordered by latitude then longitude; positions are the columns'.
std::vector<TcCandidate> detect_tc_candidates(const geo::UnstructuredGrid& grid, const GraphTcFields& fields,
                                              const GraphTcParams& params, int64_t step = 0, double time_days = 0.0);

// Rivers on the grid's columns: the same thresholds, damping and geometry filters as on lat-lon.
ArResult detect_ar_ivt(const geo::UnstructuredGrid& grid, std::span<const float> ivt, const IvtArParams& params);
ArResult detect_ar_tmq(const geo::UnstructuredGrid& grid, std::span<const float> tmq, const TmqArParams& params);

// The cyclone mask around track points on the columns (tc_mask on a graph): a disc of radius
// radius_scale x storm radius + box_pad_deg (clamped to [min, max]_half_box_deg) around each centre;
// in it, the columns where TMQ, wind or precipitation exceed their percentile over the disc, each
// field's largest connected piece, united, then the largest piece reaching the storm core. The storm
// radius: the mean distance, over the columns around the centre where the wind first falls below
// gale force, out to max_half_box_deg (0 when the wind never reaches it).
void tc_mask(const geo::UnstructuredGrid& grid, const TcMaskFields& fields, const std::vector<geo::LatLon>& centres,
             const TcMaskParams& params, std::span<uint8_t> out, uint8_t value = 1);

}  // namespace climseg::heuristics
