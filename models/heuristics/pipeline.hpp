// One time step through the detectors: derived fields from named input planes, cyclone candidates,
// and the class map (cyclone masks around tracked centres, rivers, waves) that `climseg label`
// writes. The command reads files and wires MPI; everything about the science is here.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/enum_names.hpp"
#include "geo/grid.hpp"
#include "geo/sphere.hpp"
#include "models/heuristics/ar_detector.hpp"
#include "models/heuristics/tc_detector.hpp"
#include "models/heuristics/tc_mask.hpp"
#include "models/heuristics/tc_tracks.hpp"
#include "models/heuristics/wave_detector.hpp"

namespace climseg::heuristics {

enum class ArMethod { automatic, ivt, tmq };

struct DetectConfig {
  bool cyclones = true, rivers = true, waves = false;
  ArMethod ar_method = ArMethod::automatic;  // automatic: IVT when the step has it, else TMQ
  TcParams tc;
  TrackParams tracks;
  TcMaskParams tc_mask;
  IvtArParams ivt;
  TmqArParams tmq;
  WaveParams wave;
};

// Input planes of one step by role, each (H, W) in SI units on the canonical grid:
//   u850, v850 (m s-1), psl (Pa), ubot, vbot (near-surface wind, m s-1), t200, t500 (K),
//   z200, z1000 (geopotential height, m), tmq (kg m-2), prect (any rate), ivt (kg m-1 s-1),
//   hs (significant wave height, m). `valid` holds optional 1/0 planes by the same roles.
struct StepFields {
  const geo::Grid* grid = nullptr;
  std::map<std::string, std::span<const float>> planes;
  std::map<std::string, std::span<const float>> valid;
  std::span<const float> get(const std::string& role) const;
  bool has(const std::string& role) const { return !get(role).empty(); }
};

// The roles each stage reads (so a reader loads nothing else). Candidates: u850, v850, psl, wind
// (ubot/vbot, else u850/v850), t200, t500, z200, z1000. Masks: tmq, wind, prect for cyclones; ivt
// or tmq for rivers; hs for waves.
std::vector<std::string> candidate_roles();
std::vector<std::string> mask_roles(const DetectConfig& config);

// Cyclone candidates of one step: 850 hPa relative vorticity (spherical differences), near-surface
// wind speed, warm core (T200 + T500)/2 and thickness Z200 − Z1000 when those are present.
std::vector<TcCandidate> step_candidates(const StepFields& fields, const DetectConfig& config, int64_t step,
                                         double time_days);

// step_candidates with, for each candidate, the cyclone mask step_labels draws around a track point
// there (tc_mask_runs of the step's tmq, wind and prect: the same cells, since a track point is a
// candidate and each centre's mask depends only on the fields). Found where the step's fields are
// read, so that labelling need not read the step again: give the candidate roles and tmq, prect.
struct CandidatesAndMasks {
  std::vector<TcCandidate> candidates;
  std::vector<std::vector<MaskRun>> masks;  // one per candidate
};
CandidatesAndMasks step_candidates_and_masks(const StepFields& fields, const DetectConfig& config, int64_t step,
                                             double time_days);

struct StepLabels {
  std::vector<uint8_t> classes;                // (H, W): 0 background, 1 cyclone, 2 river, 3 waves
  std::vector<uint8_t> cyclone, river, waves;  // per-detector masks (empty when not run)
  ArResult rivers;                             // objects found by the river detector
  bool rivers_from_ivt = false;
};

// The class map of one step; `centres` are the tracked cyclone positions at this step.
StepLabels step_labels(const StepFields& fields, const DetectConfig& config, const std::vector<geo::LatLon>& centres);

}  // namespace climseg::heuristics

template <>
struct climseg::config::EnumTable<climseg::heuristics::ArMethod> {
  static constexpr std::pair<const char*, heuristics::ArMethod> names[] = {{"auto", heuristics::ArMethod::automatic},
                                                                           {"ivt", heuristics::ArMethod::ivt},
                                                                           {"tmq", heuristics::ArMethod::tmq}};
};
