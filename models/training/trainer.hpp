// The training loop of `climseg train`: sharded, shuffled batches from an archive, a network from
// its config, a loss, an optimizer with a schedule, validation, atomic checkpoints (last and best),
// exact resumption, a metrics log, progress, a wall-clock limit, and refusal to step on NaN.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/mpi.hpp"
#include "models/training/train_config.hpp"

namespace climseg::training {

struct TrainResult {
  int64_t steps = 0;             // optimizer steps done in total (including before a resume)
  int64_t skipped_steps = 0;     // batches skipped for NaN/Inf loss or gradient
  double last_loss = 0;          // mean over ranks of the last step
  bool stopped_by_time = false;  // max_minutes reached
  std::string last_checkpoint, best_checkpoint;
  nlohmann::json last_validation;  // ConfusionMatrix::to_json of the last validation (null if none)
};

// Ways for a caller (climseg search) to take part in a run without changing what it computes.
struct TrainHooks {
  // Called on every rank after each optimizer step (a place to answer messages between steps).
  std::function<void(int64_t step)> on_step;
  // Called on every rank before each step with the archive indices of this rank's samples in it
  // (tests of the sharding).
  std::function<void(int64_t step, const std::vector<int64_t>& samples)> on_batch;
  // Validate once more when a resumed run has no step left to do, so that last_validation is filled
  // whenever there are validation samples (not logged, no checkpoint written).
  bool validate_when_done = false;
};

// Runs the training described by `config` on the ranks of `comm` (size 1 without MPI). Every rank
// calls it with the same config. Throws UsageError for a bad config and Error for bad data.
TrainResult train(const TrainConfig& config, const Comm& comm, const TrainHooks& hooks = {});

}  // namespace climseg::training
