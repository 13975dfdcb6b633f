// The schedule of a search, without any training in it: trials (grid, random, or brackets of
// successive halving / Hyperband), their rungs (step budgets), which (trial, rung) jobs are ready,
// and who is promoted when a rung completes. Promotions depend only on the set of a rung's results,
// never on the order they arrived in, so a search replayed from its results file, or run on
// another number of groups, makes the same decisions.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "models/search/space.hpp"

namespace climseg::search {

struct StrategyConfig {
  std::string kind = "successive_halving";  // grid, random, successive_halving, hyperband
  int64_t trials = 16;                      // random and successive halving: trials drawn
  int64_t steps = 0;                        // grid and random: optimizer steps per trial
  int64_t min_steps = 0;                    // halving/hyperband: the smallest rung's budget
  int64_t max_steps = 0;                    // halving/hyperband: the largest rung's budget
  int64_t eta = 3;                          // keep 1/eta of a rung's trials; budgets grow by eta
  uint64_t seed = 1;                        // the trial sequence (sampling); training keeps its own seed

  static StrategyConfig from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
};

// One bracket of successive halving: `trials[k]` trials run to `budgets[k]` steps at rung k.
struct Bracket {
  std::vector<int64_t> budgets;  // increasing; the last is the bracket's full budget
  std::vector<int64_t> keep;     // trials at each rung (keep[0]: all of the bracket's trials)
};

struct RungResult {
  int64_t steps = 0;  // optimizer steps the trial had done when validated
  double metric = std::numeric_limits<double>::quiet_NaN();
  bool failed = false;
  std::string message;  // failure (or a note, e.g. the schedule ended before the budget)
  double wall_s = 0;    // training time of this rung (seconds)
  int group = -1;       // which group ran it
  nlohmann::json to_json(int64_t trial, int rung) const;
};

struct Trial {
  int64_t id = 0;
  int bracket = 0;
  nlohmann::json values;                         // every key of the space for this trial
  std::vector<std::optional<RungResult>> rungs;  // per rung of its bracket; empty until run
  int reached = -1;                              // the highest rung it has been admitted to
  bool failed() const;
  // The latest rung with a result (-1 when none).
  int last_result() const;
};

struct Job {
  int64_t trial = 0;
  int rung = 0;
  int64_t budget = 0;  // max_steps for this run
  nlohmann::json to_json() const;
  static Job from_json(const nlohmann::json& j);
};

class Plan {
 public:
  Plan(const SearchSpace& space, const StrategyConfig& strategy);

  const std::vector<Trial>& trials() const { return trials_; }
  const std::vector<Bracket>& brackets() const { return brackets_; }
  // Every rung budget of every bracket, sorted, without repeats.
  std::vector<int64_t> budgets() const;
  int64_t jobs_total_upper_bound() const;

  // The next job to hand out (marks it running), longest budget first, then by trial id; nullopt
  // when none is ready (all running, or waiting for a rung to complete).
  std::optional<Job> next_job();
  // Records a job's result; when it completes its bracket's rung, promotes the best keep[k + 1]
  // trials (metric descending, ties by trial id; failed and NaN trials never). Throws Error when
  // the job is not one of this plan's (a results file of another search).
  void record(const Job& job, const RungResult& result);

  // "completed" (ran its bracket's last rung), "pruned" (not promoted), "failed", "pending" (not
  // finished, or waiting for its rung to complete).
  std::string status(const Trial& t) const;

  bool finished() const;  // every job that will ever exist has a result
  int64_t running() const { return static_cast<int64_t>(running_.size()); }
  int64_t ready() const { return static_cast<int64_t>(ready_.size()); }
  int64_t done_jobs() const { return done_jobs_; }

  // The best trial: highest rung reached with a result, then highest metric, then lowest id
  // (nullopt when no trial has a finite metric).
  std::optional<int64_t> best_trial() const;

 private:
  void admit(int64_t trial, int rung);
  void maybe_promote(int bracket, int rung);

  std::vector<Bracket> brackets_;
  std::vector<Trial> trials_;
  std::vector<std::vector<std::vector<int64_t>>> members_;  // [bracket][rung] -> trial ids admitted
  std::vector<Job> ready_, running_;
  int64_t done_jobs_ = 0;
};

}  // namespace climseg::search
