// `climseg search`: many trainings at once. The world communicator is split into groups of `group_size`
// ranks; each group trains one (trial, rung) job at a time with the ordinary data-parallel training
// on its sub-communicator; world rank 0 keeps the plan and hands out jobs as groups free up (it
// trains in group 0 too, answering requests between its own training steps). Results go to a
// file that a rerun of the same command resumes from.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "core/mpi.hpp"
#include "models/search/plan.hpp"
#include "models/search/space.hpp"

namespace climseg::search {

// Which validation IoU a trial is ranked by.
struct MetricSpec {
  std::string target = "events";     // "events" (mean over classes 1..K-1), "all" (mean over all), or a class name
  std::string weighting = "pixels";  // "pixels" or "area" (cell-area weighted)

  static MetricSpec from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
  // The value from a ConfusionMatrix::to_json document (NaN when absent or null). Throws Error
  // naming the class when the validation has no such class.
  double extract(const nlohmann::json& validation) const;
  std::string describe() const;  // "validation event mean IoU (pixels)"
};

struct SearchConfig {
  nlohmann::json train;  // the base training config (a document for TrainConfig::from_json)
  SearchSpace space;
  StrategyConfig strategy;
  MetricSpec metric;
  int group_size = 1;
  std::string out_dir = "search";

  // {"train": "train.json" (relative to base_dir) or {...}, "space": {...}, "strategy": {...},
  //  "metric": {...}, "group_size": 1, "out_dir": "search"}. Checks every trial's training config
  // (unknown keys, wrong types) so a bad space fails before any training. Throws UsageError.
  static SearchConfig from_json(const nlohmann::json& j, const std::filesystem::path& base_dir);
  // Everything that decides the results (out_dir excluded): compared with a previous run's on resume.
  nlohmann::json to_json() const;
  // The training config document of a trial's job: base + values, with its checkpoint directory,
  // resume "auto" and max_steps = budget.
  nlohmann::json trial_train_doc(const Trial& t, int64_t budget) const;
  std::filesystem::path trial_dir(int64_t trial) const;
};

struct SearchOptions {
  // Jobs to hand out in this invocation (0: no limit); the rest is left for a rerun. A way to
  // split a search over several allocations, and the tests' way to stop a search half-way.
  int64_t stop_after_jobs = 0;
  // Testing aid: called on every rank of a group before each job (after its training config is
  // parsed); may throw, on some or all of the group's ranks, to make the trial fail.
  std::function<void(const Job&)> before_job;
};

struct SearchSummary {
  bool complete = false;  // every job has a result
  int64_t trials = 0, jobs_done = 0, jobs_this_run = 0, failed = 0;
  int64_t total_steps = 0;  // optimizer steps over all jobs (each of group_size ranks' batches)
  double wall_s = 0;
  nlohmann::json best;  // the best trial's row of the table (null when none)
  std::filesystem::path table_csv, table_jsonl, best_checkpoint, best_config;
  nlohmann::json to_json() const;
};

// Runs (or resumes) the search on every rank of `world` (all ranks call it with the same config).
// Rank 0 writes out_dir: search.json, results.jsonl (one line per finished job; the resume state),
// trials.csv and trials.jsonl (the table), best/model.h5 and best/train.json (the best trial's
// checkpoint and config), plots/*.png. Throws UsageError when world's size is not a multiple of
// group_size or out_dir holds a different search.
SearchSummary run_search(const SearchConfig& config, const Comm& world, const SearchOptions& options = {});

}  // namespace climseg::search
