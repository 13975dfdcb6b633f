// The configuration of a training run: a JSON file whose every key can also be set on the command
// line as --section.key value (e.g. --optimizer.lr 3e-4, --epochs 5). Unknown keys and wrong types
// are usage errors naming the key. The whole config is stored in every checkpoint.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/config.hpp"
#include "models/nets/network.hpp"
#include "models/training/data.hpp"
#include "nn/optim.hpp"
#include "parallel/lr_scaling.hpp"

namespace climseg::training {

enum class UnknownClasses { error, ignore };  // labels the model has no class for
enum class LossType { jaccard, cross_entropy, dice };
enum class OptimizerType { adam, adamw, sgd, lamb };

struct DataConfig {
  std::vector<std::string> train;  // files, directories, globs or @lists
  std::vector<std::string> val;    // separate validation archive (optional)
  std::string channels = "TMQ,U850,V850,PSL";
  std::string labels = "auto";  // LABELS / DeepCAM labels_0 / a variable spec
  std::string stats;            // climseg stats JSON; empty: computed from the training samples
  Normalization normalization = Normalization::zscore;
  double val_fraction = 0.0;  // without `val`: the last fraction of time steps validates
  // ["START", "END"] (ISO/CF dates, e.g. "2000-01-05" or "2000-01-05T06:00:00", in the archive's
  // calendar): training samples whose decoded time t has START <= t < END validate instead (start
  // inclusive, end exclusive); empty: unused. Excludes `val` and `val_fraction`.
  std::vector<std::string> val_time;
  io::FillPolicy fill = io::FillPolicy::mask;  // channels entirely fill
  // Labels holding a class the model does not have (wave labels, 3, for a 3-class model): "error"
  // refuses them naming class and count; "ignore" leaves those cells out of the loss and scores.
  UnknownClasses unknown_classes = UnknownClasses::error;
};

struct LossConfig {
  LossType type = LossType::jaccard;  // jaccard is ClimateNet's
  // "none", "frequency^-0.125" (DeepCAM), "inverse" (inverse frequency), or a list of numbers.
  nlohmann::json class_weights = "none";
  bool area_weighted = false;  // weight pixels by cos(latitude)
};

struct OptimizerConfig {
  OptimizerType type = OptimizerType::adam;
  double lr = 1e-3;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double momentum = 0.9;
  bool nesterov = false;
  double clip_grad_norm = 0.0;  // 0: no clipping
};

struct ScheduleConfig {
  nn::LrSchedule::Kind kind = nn::LrSchedule::Kind::constant;
  int64_t warmup_steps = 0;
  int64_t step_size = 1000;
  double gamma = 0.1;
  std::vector<int64_t> milestones;
  double min_lr = 0.0;
};

struct DistributedConfig {
  double bucket_mb = 1.0;  // gradient allreduce bucket size (MiB; GradSyncOptions default)
  parallel::LrRule lr_scaling = parallel::LrRule::none;  // with the global batch
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

template <>
struct climseg::config::EnumTable<climseg::training::UnknownClasses> {
  static constexpr std::pair<const char*, training::UnknownClasses> names[] = {
      {"error", training::UnknownClasses::error}, {"ignore", training::UnknownClasses::ignore}};
};
template <>
struct climseg::config::EnumTable<climseg::training::LossType> {
  static constexpr std::pair<const char*, training::LossType> names[] = {
      {"jaccard", training::LossType::jaccard},
      {"cross_entropy", training::LossType::cross_entropy},
      {"dice", training::LossType::dice}};
};
template <>
struct climseg::config::EnumTable<climseg::training::OptimizerType> {
  static constexpr std::pair<const char*, training::OptimizerType> names[] = {{"adam", training::OptimizerType::adam},
                                                                              {"adamw", training::OptimizerType::adamw},
                                                                              {"sgd", training::OptimizerType::sgd},
                                                                              {"lamb", training::OptimizerType::lamb}};
};
template <>
struct climseg::config::EnumTable<climseg::nn::LrSchedule::Kind> {
  static constexpr std::pair<const char*, nn::LrSchedule::Kind> names[] = {
      {"constant", nn::LrSchedule::Kind::constant},
      {"step", nn::LrSchedule::Kind::step},
      {"multistep", nn::LrSchedule::Kind::multistep},
      {"cosine", nn::LrSchedule::Kind::cosine}};
};
template <>
struct climseg::config::EnumTable<climseg::parallel::LrRule> {
  static constexpr std::pair<const char*, parallel::LrRule> names[] = {
      {"none", parallel::LrRule::none}, {"linear", parallel::LrRule::linear}, {"sqrt", parallel::LrRule::sqrt}};
};
