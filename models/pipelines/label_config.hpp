// The configuration of `climseg label` (and of the Python module's climseg.detect): every parameter
// of a run in one type, read from JSON by config::Reader (messages name the key), written whole into
// label_summary.json, so that the summary given back as --config redoes the run. Today's flags are
// aliases of its keys (cli_aliases()).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "models/heuristics/pipeline.hpp"
#include "models/pipelines/roles.hpp"
#include "readers/overlap.hpp"
#include "readers/run_key.hpp"

namespace climseg::pipelines {

enum class Detector { tc, ar, waves };
const char* detector_name(Detector d);  // "tc", "ar", "waves"

struct LabelConfig {
  // Where it reads and writes ("in", "out") and what a rerun does with label files that exist
  // ("overwrite": redo all; "no_overwrite": stop rather than redo one made otherwise).
  std::vector<std::string> inputs;  // files, directories, globs, @list files
  std::string out;                  // output directory
  io::Rerun rerun = io::Rerun::keep_matching;

  // "detect": the detectors in the order given (their names join into the files' `detectors`).
  std::vector<Detector> detectors = {Detector::tc, Detector::ar};
  // "vars": which variable plays a role (an empty one drops the role); the rest are found by name,
  // then standard name (docs/detectors.md).
  std::map<Role, std::string> vars;
  // "units": VARIABLE -> units, for variables whose units attribute is missing or wrong.
  std::map<std::string, std::string> units;
  std::string with_data;    // "with_data": channels written beside LABELS ("TMQ,U850")
  std::string stats;        // "stats": statistics file (climseg stats) for pNN thresholds
  double step_hours = 6.0;  // "step_hours": time between samples when the archive has no time
  // "overlap": read the next step and write the last one on background threads while a step is
  // labelled: auto (when they have cores of their own, readers/overlap.hpp), on or off (the outputs
  // are the same bytes either way; not part of the rerun key).
  io::Overlap overlap = io::Overlap::automatic;

  // The detectors' parameters ("tc", "tracks", "tc_mask", "ar", "waves"); detect.cyclones, rivers
  // and waves follow `detectors`. The per-cell threshold fields are loaded by label_archive.
  heuristics::DetectConfig detect;
  // "ar.ivt_threshold", "waves.threshold": a number or "pNN", a percentile from `stats`.
  std::string ivt_threshold = "250", waves_threshold = "8";
  // "ar.ivt_threshold_field", "waves.threshold_field": FILE:VARIABLE, a per-cell threshold.
  std::string ivt_threshold_field, waves_threshold_field;

  // Every key, with the enumerations by name.
  nlohmann::json to_json() const;
  // Reads a configuration, or a label_summary.json (its "config", with any other top-level
  // configuration keys laid over it: the command line's). UsageError naming the key.
  static LabelConfig from_json(const nlohmann::json& j);
  // Today's `climseg label` flags and the keys they set (docs/cli.md).
  static const std::vector<config::Alias>& cli_aliases();
  // Range checks of every parameter that needs no file (UsageError naming the option).
  void validate() const;

  std::string detector_text() const;  // "tc,ar"
  bool has(Detector d) const;
  // The configuration as the rerun key holds it: every key but in, out, overwrite and no_overwrite,
  // flattened, named by its flag where it has one ("--waves-threshold": "8") so that a rerun names
  // the option that differs the way the user gave it.
  nlohmann::json key_json() const;
};

}  // namespace climseg::pipelines
