// The configuration of a training run: a JSON file whose every key can also be set on the command
// line as --section.key value (e.g. --optimizer.lr 3e-4, --epochs 5). Unknown keys and wrong types
// are usage errors naming the key. The whole config is stored in every checkpoint.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "models/nets/network.hpp"

namespace climseg::training {

struct DataConfig {
  std::vector<std::string> train;  // files, directories, globs or @lists
  std::vector<std::string> val;    // separate validation archive (optional)
  std::string channels = "TMQ,U850,V850,PSL";
  std::string labels = "auto";           // LABELS / DeepCAM labels_0 / a variable spec
  std::string stats;                     // climseg stats JSON; empty: computed from the training samples
  std::string normalization = "zscore";  // zscore, minmax, none
  double val_fraction = 0.0;             // without `val`: the last fraction of time steps validates
  // ["START", "END"] (ISO/CF dates, e.g. "2000-01-05" or "2000-01-05T06:00:00", in the archive's
  // calendar): training samples whose decoded time t has START <= t < END validate instead (start
  // inclusive, end exclusive); empty: unused. Excludes `val` and `val_fraction`.
  std::vector<std::string> val_time;
  std::string fill = "mask";  // channels entirely fill: mask, skip, error
  // Labels holding a class the model does not have (wave labels, 3, for a 3-class model): "error"
  // refuses them naming class and count; "ignore" leaves those cells out of the loss and scores.
  std::string unknown_classes = "error";
};

struct LossConfig {
  std::string type = "jaccard";  // jaccard (ClimateNet's), cross_entropy, dice
  // "none", "frequency^-0.125" (DeepCAM), "inverse" (inverse frequency), or a list of numbers.
  nlohmann::json class_weights = "none";
  bool area_weighted = false;  // weight pixels by cos(latitude)
};

struct OptimizerConfig {
  std::string type = "adam";  // adam, adamw, sgd, lamb
  double lr = 1e-3;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double momentum = 0.9;
  bool nesterov = false;
  double clip_grad_norm = 0.0;  // 0: no clipping
};

struct ScheduleConfig {
  std::string kind = "constant";  // constant, step, multistep, cosine
  int64_t warmup_steps = 0;
  int64_t step_size = 1000;
  double gamma = 0.1;
  std::vector<int64_t> milestones;
  double min_lr = 0.0;
};

struct DistributedConfig {
  double bucket_mb = 1.0;           // gradient allreduce bucket size (MiB; GradSyncOptions default)
  std::string lr_scaling = "none";  // none, linear, sqrt (with the global batch)
  bool sync_batchnorm = false;
  int64_t check_every = 200;  // steps between weight-consistency checks (0: never)
  bool hierarchical = false;
};

struct TrainConfig {
  DataConfig data;
  nets::NetConfig model;
  LossConfig loss;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  DistributedConfig distributed;
  int64_t epochs = 1;
  int64_t batch_size = 4;  // per rank
  int64_t max_steps = 0;   // 0: epochs decide
  double max_minutes = 0;  // 0: no wall-clock limit; else stop (with a checkpoint) when reached
  uint64_t seed = 1;
  bool augment_roll = true;   // random rotation around the globe (periodic grids only)
  bool augment_flip = false;  // east-west mirror; zonal winds (U*) change sign
  std::string checkpoint_dir = "checkpoints";
  int64_t checkpoint_every = 0;  // steps; 0: at the end of each epoch
  std::string resume;            // "", "auto" (checkpoint_dir/last.h5 when present) or a path
  int64_t validate_every = 0;    // steps; 0: at the end of each epoch
  int64_t log_every = 1;
  int64_t max_bad_steps = 10;  // NaN/Inf losses or gradients skipped before giving up

  nlohmann::json to_json() const;
  // Throws UsageError naming the first unknown key or wrong type.
  static TrainConfig from_json(const nlohmann::json& j);
};

}  // namespace climseg::training
