// Atmospheric rivers in one time step: from IVT (threshold, then geometry filters after Guan and
// Waliser 2015) or, when IVT cannot be computed, from TMQ alone (Kurth et al. 2018).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "analysis/components.hpp"
#include "geo/grid.hpp"

namespace climseg::heuristics {

struct IvtArParams {
  double threshold = 250.0;                // kg m-1 s-1 (a scalar, e.g. a percentile of the archive from climseg stats)
  std::span<const float> threshold_field;  // (H, W) optional per-cell threshold; replaces `threshold`
  double min_length_km = 2000.0;           // great-circle length of the object
  double min_aspect = 2.0;                 // length / width, width = area / length
  double min_area_km2 = 1.0e5;             // drops small blobs before the geometry is measured
  double min_abs_centroid_lat = 20.0;      // objects centred in the deep tropics are not rivers
  // IVT · (1 − exp(−φ² / 2σ²)) is thresholded (as in the ClimDeepLearn labels of Kurth et al.), so the
  // moist trade-wind belt does not join rivers into one hemisphere-wide object; 0 turns it off.
  double tropics_sigma_deg = 10.0;
  void validate() const;
};

struct TmqArParams {
  double sigma_deg = 19.0;                 // TMQ · (1 − exp(−φ² / 2σ²)) damps the tropical moisture belt
  double threshold = 24.0;                 // kg m-2, on the damped field
  double min_length_km = 1500.0;           // object extent
  double max_area_per_length_km = 1000.0;  // area / length: narrow, not blob-like
  void validate() const;
};

// One object found, with its geometry; `kept` says whether it passed the filters.
struct ArObject {
  analysis::ComponentStats stats;
  bool kept = false;
};

struct ArResult {
  std::vector<uint8_t> mask;      // (H, W): 1 in kept rivers
  std::vector<ArObject> objects;  // every thresholded object, kept or not
  int kept_count() const;
};

ArResult detect_ar_ivt(const geo::Grid& grid, std::span<const float> ivt, const IvtArParams& params);
ArResult detect_ar_tmq(const geo::Grid& grid, std::span<const float> tmq, const TmqArParams& params);

}  // namespace climseg::heuristics
