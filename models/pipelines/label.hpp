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
  // Samples this rank read, both passes (not in the summary): pass 1 reads each step's cyclone
  // fields once, with those of its masks; pass 2 reads only for rivers, waves or --with-data.
  int64_t samples_read = 0;
  double seconds = 0;
  StageTimes times;            // this rank's reading, compute and writing (not in the summary)
  nlohmann::json run_options;  // the configuration part of the label files' run keys

  // The summary: the report's keys (as before: samples, options, grid, detectors, roles,
  // cyclone_candidates, cyclone_tracks, thresholds, river_objects, classes, seconds) and
  // "config": the whole configuration but the rerun policy (overwrite, no_overwrite), so that the
  // summary given as --config redoes the run.
  nlohmann::json to_json(const LabelConfig& config) const;
};

// Adds the class counts that each rank's pass 2 wrote as text ("cyclone river waves objects" per
// step, whitespace-separated), gathered on the root, to `report` (classes, river_objects).
void add_class_counts(LabelReport& report, const std::vector<std::string>& gathered);

// Labels the archive cfg.inputs into cfg.out: <input>.labels.nc per time-step group (groups split over
// ranks), tc_tracks.csv, rivers.csv and label_summary.json (written by the root, last). Collective
// over `comm`; every rank returns the same report. UsageError / Error naming the option or file.
LabelReport label_archive(const LabelConfig& cfg, const Comm& comm, bool show_progress = false);

// The detectors on fields already in memory (Python's climseg.detect), in label_archive's two
// passes so that a caller may feed the steps in blocks (a Dask array chunk by chunk) and get the
// tracks of one pass over all of them: add_candidates on every block, stitch, then label every block.
// Planes are (H, W) on the canonical grid, by role, in SI units (heuristics::StepFields);
// `valid` holds optional 1/0 planes by the same roles. IVT is not integrated here (give an ivt plane).
struct StepPlanes {
  std::map<Role, std::span<const float>> planes, valid;
};
struct StepsLabels {
  std::vector<std::vector<uint8_t>> classes;  // per step, (H, W): 0..3 as LABELS
  std::vector<heuristics::TcTrack> tracks;
  std::vector<std::vector<heuristics::ArObject>> rivers;  // per step, the kept river objects
  int64_t cyclone_candidates = 0;
};

class StepsLabeller {
 public:
  // `vars`: the variable that plays each role the caller holds (roles not in it are absent). Checks
  // them as label_archive checks an archive (messages name `where` and the --var fix) and resolves
  // the thresholds (numbers, pNN from cfg.stats, FILE:VAR threshold fields on `grid`). UsageError /
  // Error.
  StepsLabeller(const geo::Grid& grid, const LabelConfig& cfg, const RoleMap& vars, const std::string& where);
  StepsLabeller(const StepsLabeller&) = delete;
  StepsLabeller& operator=(const StepsLabeller&) = delete;

  // The roles label_archive looks for in an archive for this configuration (before the checks).
  static std::vector<Role> wanted_roles(const LabelConfig& cfg);
  // The configuration as resolved (ar_method ivt or tmq, thresholds as numbers).
  const heuristics::DetectConfig& config() const { return config_; }

  // Pass 1: the cyclone candidates of steps first, first + 1, ... (`days`: their times).
  void add_candidates(std::span<const StepPlanes> steps, int64_t first, std::span<const double> days);
  // After every step's candidates: the tracks, `days` holding every step's time.
  const std::vector<heuristics::TcTrack>& stitch(const std::vector<double>& days);
  int64_t candidates() const { return int64_t(candidates_.size()); }
  // Pass 2 (after stitch): the class maps and kept river objects of steps first, ..., appended to `out`.
  void label(std::span<const StepPlanes> steps, int64_t first, StepsLabels& out) const;

 private:
  heuristics::StepFields fields(const StepPlanes& s, int64_t step) const;
  const geo::Grid& grid_;
  heuristics::DetectConfig config_;
  std::vector<heuristics::TcCandidate> candidates_;
  std::vector<heuristics::TcTrack> tracks_;
  std::map<int64_t, std::vector<geo::LatLon>> centres_;
  std::vector<float> ivt_threshold_field_, waves_threshold_field_;
  bool stitched_ = false;
};

// Both passes on steps all in memory: the roles are those `steps` hold (each role's name as its
// variable).
StepsLabels label_steps(const geo::Grid& grid, const std::vector<std::map<Role, std::span<const float>>>& steps,
                        const std::vector<double>& days, const LabelConfig& cfg);

}  // namespace climseg::pipelines
