// `climseg predict` and `climseg evaluate` as configurations and library calls: the command files
// in apps/ only bind these to the command line.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/mpi.hpp"
#include "geo/remap.hpp"
#include "models/training/metrics.hpp"
#include "models/training/predictor.hpp"
#include "nn/precision.hpp"
#include "readers/overlap.hpp"
#include "readers/run_key.hpp"

namespace climseg::training {

struct PredictConfig {
  std::string model;               // climseg checkpoint or ClimateNet's weights
  std::vector<std::string> in;     // files, directories, globs or @lists
  std::string out;                 // output directory
  std::string channels;            // NAME=VAR,... for some or all of the model's channels
  std::vector<std::string> units;  // VAR=UNITS overrides
  bool probabilities = false;
  io::Rerun rerun = io::Rerun::keep_matching;
  std::string remap;  // HxW for unstructured inputs (empty: the training grid)
  geo::RemapMethod remap_method = geo::RemapMethod::bilinear;
  BatchNormStats batchnorm = BatchNormStats::running;
  MissingPolicy fill_policy = MissingPolicy::mask;
  bool regrid = false;
  nn::Precision precision = nn::Precision::fp32;
  // Read ahead and write behind on background threads: auto (when they have cores of their own,
  // readers/overlap.hpp), on or off (the same bytes either way; not in the rerun key).
  io::Overlap overlap = io::Overlap::automatic;

  nlohmann::json to_json() const;
  static PredictConfig from_json(const nlohmann::json& j);  // UsageError naming the key
  static const std::vector<config::Alias>& cli_aliases();
};

struct PredictRun {
  PredictReport report;                                                                                  // this rank's
  int64_t samples = 0, files_written = 0, files_skipped = 0, missing_cells = 0, steps_with_missing = 0;  // all ranks
};

// Loads the model and predicts every input (lat-lon or unstructured columns), collective over comm.
PredictRun run_predict(const PredictConfig& cfg, const Comm& comm);

struct EvaluateConfig {
  std::string model;
  std::vector<std::string> in;
  std::string labels = "auto";
  std::string channels;
  std::vector<std::string> units;
  BatchNormStats batchnorm = BatchNormStats::running;
  MissingPolicy fill_policy = MissingPolicy::mask;
  std::string json;  // also write the scores here ("-": standard output)

  nlohmann::json to_json() const;
  static EvaluateConfig from_json(const nlohmann::json& j);
  static const std::vector<config::Alias>& cli_aliases();
};

struct EvaluateRun {
  ConfusionMatrix matrix;
  std::vector<std::string> classes;
  int64_t missing_cells = 0;
  nlohmann::json scores;  // the JSON `--json` writes: scores, model, batchnorm, fill_policy
};

EvaluateRun run_evaluate(const EvaluateConfig& cfg, const Comm& comm);

}  // namespace climseg::training

template <>
struct climseg::config::EnumTable<climseg::training::BatchNormStats> {
  static constexpr std::pair<const char*, training::BatchNormStats> names[] = {
      {"running", training::BatchNormStats::running}, {"batch", training::BatchNormStats::batch}};
};
template <>
struct climseg::config::EnumTable<climseg::training::MissingPolicy> {
  static constexpr std::pair<const char*, training::MissingPolicy> names[] = {
      {"mask", training::MissingPolicy::mask},
      {"mean", training::MissingPolicy::mean},
      {"error", training::MissingPolicy::error}};
};
