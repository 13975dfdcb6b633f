// Training configuration: JSON with strict keys, command-line overrides.
#include "models/training/train_config.hpp"

#include <set>

#include "core/config.hpp"
#include "core/error.hpp"
#include "readers/calendar.hpp"

namespace climseg::training {
using nlohmann::json;

namespace {

using Reader = config::Reader;

void check_choice(const std::string& key, const std::string& value, std::initializer_list<const char*> choices) {
  std::string all;
  for (const char* c : choices) {
    if (value == c) return;
    all += (all.empty() ? "" : ", ") + std::string(c);
  }
  fail_usage("train config: '{}' must be one of {}, got '{}'", key, all, value);
}

}  // namespace

json TrainConfig::to_json() const {
  json j;
  j["data"] = {{"train", data.train},
               {"val", data.val},
               {"channels", data.channels},
               {"labels", data.labels},
               {"stats", data.stats},
               {"normalization", config::to_string(data.normalization)},
               {"val_fraction", data.val_fraction},
               {"val_time", data.val_time},
               {"fill", config::to_string(data.fill)},
               {"unknown_classes", config::to_string(data.unknown_classes)}};
  j["model"] = model.to_json();
  j["loss"] = {{"type", config::to_string(loss.type)},
               {"class_weights", loss.class_weights},
               {"area_weighted", loss.area_weighted}};
  j["optimizer"] = {{"type", config::to_string(optimizer.type)},
                    {"lr", optimizer.lr},
                    {"weight_decay", optimizer.weight_decay},
                    {"beta1", optimizer.beta1},
                    {"beta2", optimizer.beta2},
                    {"eps", optimizer.eps},
                    {"momentum", optimizer.momentum},
                    {"nesterov", optimizer.nesterov},
                    {"clip_grad_norm", optimizer.clip_grad_norm}};
  j["schedule"] = {{"kind", config::to_string(schedule.kind)}, {"warmup_steps", schedule.warmup_steps},
                   {"step_size", schedule.step_size},          {"gamma", schedule.gamma},
                   {"milestones", schedule.milestones},        {"min_lr", schedule.min_lr}};
  j["distributed"] = {{"bucket_mb", distributed.bucket_mb},
                      {"lr_scaling", config::to_string(distributed.lr_scaling)},
                      {"sync_batchnorm", distributed.sync_batchnorm},
                      {"check_every", distributed.check_every},
                      {"hierarchical", distributed.hierarchical}};
  j["epochs"] = epochs;
  j["batch_size"] = batch_size;
  j["max_steps"] = max_steps;
  j["max_minutes"] = max_minutes;
  j["seed"] = seed;
  j["augment"] = {{"roll", augment_roll}, {"flip", augment_flip}};
  j["checkpoint_dir"] = checkpoint_dir;
  j["checkpoint_every"] = checkpoint_every;
  j["resume"] = resume;
  j["validate_every"] = validate_every;
  j["log_every"] = log_every;
  j["max_bad_steps"] = max_bad_steps;
  return j;
}

TrainConfig TrainConfig::from_json(const json& j) {
  TrainConfig c;
  const json defaults = c.to_json();
  Reader top(j, "train config");
  if (j.contains("data")) {
    Reader r(j.at("data"), "train config", "data");
    r.get_list("train", c.data.train);
    r.get_list("val", c.data.val);
    r.get("channels", c.data.channels);
    r.get("labels", c.data.labels);
    r.get("stats", c.data.stats);
    r.get_enum("normalization", c.data.normalization);
    r.get("val_fraction", c.data.val_fraction);
    r.get("val_time", c.data.val_time);
    r.get_enum("fill", c.data.fill);
    r.get_enum("unknown_classes", c.data.unknown_classes);
    r.finish(defaults.at("data"));
  }
  top.mark("data");
  if (j.contains("model")) {
    json m = j.at("model");
    c.model = nets::NetConfig::from_json(m);
  }
  top.mark("model");
  if (j.contains("loss")) {
    Reader r(j.at("loss"), "train config", "loss");
    r.get_enum("type", c.loss.type);
    r.get_json("class_weights", c.loss.class_weights);
    r.get("area_weighted", c.loss.area_weighted);
    r.finish(defaults.at("loss"));
  }
  top.mark("loss");
  if (j.contains("optimizer")) {
    Reader r(j.at("optimizer"), "train config", "optimizer");
    r.get_enum("type", c.optimizer.type);
    r.get("lr", c.optimizer.lr);
    r.get("weight_decay", c.optimizer.weight_decay);
    r.get("beta1", c.optimizer.beta1);
    r.get("beta2", c.optimizer.beta2);
    r.get("eps", c.optimizer.eps);
    r.get("momentum", c.optimizer.momentum);
    r.get("nesterov", c.optimizer.nesterov);
    r.get("clip_grad_norm", c.optimizer.clip_grad_norm);
    r.finish(defaults.at("optimizer"));
  }
  top.mark("optimizer");
  if (j.contains("schedule")) {
    Reader r(j.at("schedule"), "train config", "schedule");
    r.get_enum("kind", c.schedule.kind);
    r.get("warmup_steps", c.schedule.warmup_steps);
    r.get("step_size", c.schedule.step_size);
    r.get("gamma", c.schedule.gamma);
    r.get("milestones", c.schedule.milestones);
    r.get("min_lr", c.schedule.min_lr);
    r.finish(defaults.at("schedule"));
  }
  top.mark("schedule");
  if (j.contains("distributed")) {
    Reader r(j.at("distributed"), "train config", "distributed");
    r.get("bucket_mb", c.distributed.bucket_mb);
    r.get_enum("lr_scaling", c.distributed.lr_scaling);
    r.get("sync_batchnorm", c.distributed.sync_batchnorm);
    r.get("check_every", c.distributed.check_every);
    r.get("hierarchical", c.distributed.hierarchical);
    r.finish(defaults.at("distributed"));
  }
  top.mark("distributed");
  if (j.contains("augment")) {
    Reader r(j.at("augment"), "train config", "augment");
    r.get("roll", c.augment_roll);
    r.get("flip", c.augment_flip);
    r.finish(defaults.at("augment"));
  }
  top.mark("augment");
  top.get("epochs", c.epochs);
  top.get("batch_size", c.batch_size);
  top.get("max_steps", c.max_steps);
  top.get("max_minutes", c.max_minutes);
  top.get("seed", c.seed);
  top.get("checkpoint_dir", c.checkpoint_dir);
  top.get("checkpoint_every", c.checkpoint_every);
  top.get("resume", c.resume);
  top.get("validate_every", c.validate_every);
  top.get("log_every", c.log_every);
  top.get("max_bad_steps", c.max_bad_steps);
  top.finish(defaults);

  if (c.data.train.empty()) fail_usage("train config: 'data.train' is required (files, directories or globs)");
  if (c.data.val_fraction < 0 || c.data.val_fraction >= 1)
    fail_usage("train config: 'data.val_fraction' must be in [0, 1), got {}", c.data.val_fraction);
  if (!c.data.val_time.empty()) {
    if (c.data.val_time.size() != 2)
      fail_usage("train config: 'data.val_time' must be [start, end] (two dates), got {} values",
                 c.data.val_time.size());
    io::DateTime a, b;
    try {
      a = io::parse_datetime(c.data.val_time[0]);
      b = io::parse_datetime(c.data.val_time[1]);
    } catch (const Error& e) {
      fail_usage("train config: 'data.val_time': {}", e.what());
    }
    if (!(a < b))
      fail_usage("train config: 'data.val_time' start {} is not before end {} (the end is exclusive)",
                 c.data.val_time[0], c.data.val_time[1]);
    if (!c.data.val.empty() || c.data.val_fraction > 0)
      fail_usage("train config: 'data.val_time' excludes 'data.val' and 'data.val_fraction' (one validation split)");
  }
  const json& cw = c.loss.class_weights;
  if (cw.is_string()) {
    check_choice("loss.class_weights", cw.get<std::string>(), {"none", "frequency^-0.125", "inverse"});
  } else if (cw.is_array()) {
    for (const json& w : cw)
      if (!w.is_number() || w.get<double>() < 0)
        fail_usage("train config: 'loss.class_weights' must hold non-negative numbers, got {}",
                   cw.dump(-1, ' ', false, json::error_handler_t::replace));
  } else {
    fail_usage("train config: 'loss.class_weights' must be a name or a list, got {}",
               cw.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  if (!(c.optimizer.lr > 0)) fail_usage("train config: 'optimizer.lr' must be positive, got {}", c.optimizer.lr);
  if (c.epochs < 1) fail_usage("train config: 'epochs' must be at least 1, got {}", c.epochs);
  if (c.batch_size < 1) fail_usage("train config: 'batch_size' must be at least 1, got {}", c.batch_size);
  if (c.max_steps < 0 || c.max_minutes < 0 || c.checkpoint_every < 0 || c.validate_every < 0 || c.log_every < 1 ||
      c.max_bad_steps < 0)
    fail_usage(
        "train config: max_steps, max_minutes, checkpoint_every, validate_every and max_bad_steps must not be "
        "negative, log_every at least 1");
  return c;
}

}  // namespace climseg::training
