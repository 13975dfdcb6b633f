// `climseg label` as a library function: physics-heuristic labels for an archive (cyclones, rivers,
// waves) in ClimateNet's layout, the cyclone track table, the river table and the summary, over the
// ranks of a communicator. And the same science on arrays in memory (label_steps), for the Python
// module: no files, no MPI.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/mpi.hpp"
#include "core/stage_times.hpp"
#include "geo/grid.hpp"
#include "models/heuristics/pipeline.hpp"
#include "models/pipelines/archive_roles.hpp"
#include "models/pipelines/label_config.hpp"

namespace climseg::pipelines {

// What label_summary.json holds: the run's outcome and, in to_json(), its whole configuration.
struct LabelReport {
  struct ClassCount {
    int64_t cells = 0, steps_with_any = 0;
  };
  int64_t samples = 0;
  std::string grid;                                                  // "HxW" or "N columns"
  RoleMap roles;                                                     // as resolved against the archive
  heuristics::ArMethod ar_method = heuristics::ArMethod::automatic;  // as resolved (ivt or tmq)
  double ivt_threshold = 0, waves_threshold = 0;                     // as resolved (pNN: the value from the stats file)
  int64_t cyclone_candidates = 0, cyclone_tracks = 0, river_objects = 0;
  std::array<ClassCount, 4> classes{};  // by class value; [0] (background) not counted
  int64_t kept_files = 0;               // label files of an earlier run kept (same run key)
  double seconds = 0;
  StageTimes times;            // this rank's reading, compute and writing (not in the summary)
  nlohmann::json run_options;  // the configuration part of the label files' run keys

  // The summary: the report's keys (as before: samples, options, grid, detectors, roles,
  // cyclone_candidates, cyclone_tracks, thresholds, river_objects, classes, seconds) and
  // "config": the whole configuration but the rerun policy (overwrite, no_overwrite), so that the
  // summary given as --config redoes the run.
  nlohmann::json to_json(const LabelConfig& config) const;
};

// Labels the archive cfg.inputs into cfg.out: <input>.labels.nc per time-step group (groups split over
// ranks), tc_tracks.csv, rivers.csv and label_summary.json (written by the root, last). Collective
// over `comm`; every rank returns the same report. UsageError / Error naming the option or file.
LabelReport label_archive(const LabelConfig& cfg, const Comm& comm, bool show_progress = false);

// The detectors on fields already in memory (Python's climseg.detect): `steps` holds, per time step,
// (H, W) planes by role in SI units (heuristics::StepFields), `days` their times. Thresholds must be
// numbers (pNN and threshold fields need files: label_archive); IVT is not integrated here (give
// an ivt plane). Cyclone candidates on every step, stitched into tracks, then the class maps.
struct StepsLabels {
  std::vector<std::vector<uint8_t>> classes;  // per step, (H, W): 0..3 as LABELS
  std::vector<heuristics::TcTrack> tracks;
  std::vector<std::vector<heuristics::ArObject>> rivers;  // per step, the kept river objects
  int64_t cyclone_candidates = 0;
};
StepsLabels label_steps(const geo::Grid& grid, const std::vector<std::map<Role, std::span<const float>>>& steps,
                        const std::vector<double>& days, const LabelConfig& cfg);

}  // namespace climseg::pipelines
